// Package plan is the scheduler's decision logic, free of I/O: given the
// queues, compute environments, hosts, scheduling policies, consumable
// resources and jobs it knows, it decides which jobs leave
// SUBMITTED/PENDING, which RUNNABLE jobs go to which host, and why the
// others wait. The scheduler service feeds it from JetStream and publishes
// its decisions.
package plan

import (
	"math"
	"strings"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
)

// Milli is a quantity of vCPUs in thousandths, so that fractional Fargate
// sizes (0.25) add up exactly.
type Milli int64

// ToMilli converts vCPUs.
func ToMilli(v float64) Milli { return Milli(math.Round(v * 1000)) }

// Float converts back to vCPUs.
func (m Milli) Float() float64 { return float64(m) / 1000 }

// Job is what the planner keeps of a job.
type Job struct {
	ID        string
	Queue     string // queue name
	Seq       uint64 // submit order
	Status    batch.JobStatus
	VCPU      Milli
	MemoryMiB int64
	GPUs      int
	DependsOn []string
	// DependsAny are dependencies that only have to finish, whatever
	// their outcome (condition ANY).
	DependsAny []string
	// ArraySize is set on an array parent, which the planner never gates
	// or places: its status follows its children.
	ArraySize int
	Attempts  int // finished attempts
	// Share is the job's share identifier; Priority its schedulingPriority
	// (higher first within its share). Both count on fair-share queues
	// only.
	Share    string
	Priority int
	// ArrayMax is the maxRunningJobs of the array the job is a child of
	// (0: no limit); the array is the job id before its last ':'.
	ArrayMax int
	// Needs are the consumable resources the job holds while it runs.
	Needs []Need
	// Host and Env are where the job runs (STARTING/RUNNING) or was placed.
	Host, Env string
	// Placed is the attempt placed by this planner and not yet confirmed
	// by the record; 0 when none.
	Placed int
	// Gated is the status this planner moved the job to, not yet confirmed.
	Gated batch.JobStatus
	// Reason is the wait reason last published (or, for a job the planner
	// has just learnt of, the record's statusReason).
	Reason string
	// Trace is the W3C traceparent of the job's SubmitJob request, which
	// the scheduler's spans and messages about the job continue.
	Trace string

	// Nodes are the nodes of a multi-node job, placed as a gang (gang.go;
	// set with SetNodes). Node marks one of those nodes' records, which
	// holds its host's capacity but is never gated or placed on its own.
	Nodes   []NodeNeed
	Node    bool
	gangSig string

	list    *shareList // the runnable list the job is in, if any
	removed bool       // its record was deleted
	sig     tailSig    // what Reason was last worked out from, at a queue's tail
}

// Need is a quantity of a consumable resource, by name.
type Need struct {
	Resource string
	Quantity int64
}

// occupies reports whether the job holds capacity on its host (a gang:
// in its environment and queue; its nodes hold the hosts).
func (j *Job) occupies() bool {
	if j.Status.HoldsCapacity() {
		return true
	}
	// A placement of ours the record does not show yet (a node's: placed
	// with its gang).
	if j.Node {
		return j.Placed != 0
	}
	return j.Status == batch.StatusRunnable && j.Placed == j.Attempts+1
}

// consumed reports whether the job holds its NON_REPLENISHABLE resources
// (the holding rule of pkg/batch).
func (j *Job) consumed() bool {
	return batch.HoldsResource(batch.ResourceNonReplenishable, j.Status, j.Attempts, j.occupies())
}

// array is the id of the array whose maxRunningJobs limits the job, "" for
// none.
func (j *Job) array() string {
	if j.ArrayMax <= 0 {
		return ""
	}
	if i := strings.LastIndexByte(j.ID, ':'); i > 0 {
		return j.ID[:i]
	}
	return ""
}

// Env is a compute environment as the planner sees it.
type Env struct {
	Name    string
	Enabled bool
	MaxVCPU Milli // 0: no cap (unmanaged without unmanagedvCpus)
}

// Queue is a job queue as the planner sees it.
type Queue struct {
	Name     string
	Enabled  bool
	Priority int
	Envs     []string // in order
	// Policy names the queue's fair-share scheduling policy; "" for a
	// FIFO queue.
	Policy string
	// MaxRunning is the queue's maxRunningJobs (0: no limit).
	MaxRunning int
}

// Policy is a fair-share scheduling policy.
type Policy struct {
	Name string
	// DecaySeconds is the shareDecaySeconds: usage fades with this time
	// constant (0: 600).
	DecaySeconds int
	// Reservation is the computeReservation, 0-99.
	Reservation int
	Shares      []ShareRule
}

// ShareRule is one shareDistribution entry.
type ShareRule struct {
	ID         string // may end with '*' for a prefix
	Weight     float64
	MaxRunning int
}

// Resource is a consumable resource.
type Resource struct {
	Name          string
	Total         int64
	Replenishable bool
}

// Placement is a decision to run a job's next attempt on a host; for a
// gang, on the hosts of Nodes (Host is empty).
type Placement struct {
	Job     *Job
	Attempt int
	Host    string
	Env     string
	Nodes   []NodeSpot
}

// Gate is a decision to move a job out of SUBMITTED or PENDING.
type Gate struct {
	Job    *Job
	Status batch.JobStatus
	Reason string
	// From is the status the job had before (the record's).
	From batch.JobStatus
}

// Wait is a new wait reason for a RUNNABLE job.
type Wait struct {
	Job    *Job
	Reason string
}

// State is everything the planner knows. The scheduler changes Queues,
// Envs, Hosts, Policies and Resources directly and then calls Touch.
type State struct {
	Jobs      map[string]*Job
	Queues    map[string]*Queue
	Envs      map[string]*Env
	Hosts     map[string]*events.Host
	Policies  map[string]*Policy
	Resources map[string]*Resource
	// Clock is the time fair-share usage decays by.
	Clock func() time.Time

	// waiters maps a job id to the jobs whose dependsOn names it.
	waiters map[string][]string
	// gating holds SUBMITTED/PENDING jobs whose dependencies may have moved.
	gating map[string]bool
	// lists holds per queue and share identifier the RUNNABLE jobs; stale
	// entries are dropped lazily.
	lists map[string]map[string]*shareList
	// occ holds the jobs that occupy capacity; held the jobs holding a
	// consumable resource (running, placed, or having consumed it).
	occ, held map[string]*Job
	// usage is the decayed fair-share usage per queue and share.
	usage map[string]map[string]*shareUse
	// dirty: something changed that may allow a placement or change a
	// wait reason since the last Place.
	dirty bool
	// epoch counts Touch calls; counts the changes to what array children
	// and consumable resource holders hold. Wait reasons worked out
	// under the same values need no second look (tailSig).
	epoch, counts uint64
	// scratch is the last pass, whose maps the next one reuses.
	scratch *pass
}

// NewState returns an empty state.
func NewState() *State {
	return &State{
		Jobs: map[string]*Job{}, Queues: map[string]*Queue{}, Envs: map[string]*Env{},
		Hosts: map[string]*events.Host{}, Policies: map[string]*Policy{}, Resources: map[string]*Resource{},
		Clock: time.Now, waiters: map[string][]string{}, gating: map[string]bool{},
		lists: map[string]map[string]*shareList{}, occ: map[string]*Job{}, held: map[string]*Job{},
		usage: map[string]map[string]*shareUse{}, dirty: true, epoch: 1,
	}
}

// Touch says that a queue, environment, host, policy or resource changed.
func (s *State) Touch() { s.dirty = true; s.epoch++ }

// Settled reports that nothing changed since the last Place: another Place
// would decide nothing new.
func (s *State) Settled() bool { return !s.dirty }

// Upsert records what a job record says. The record is the truth, except
// that a gate or placement this planner made and the record does not show
// yet is kept.
func (s *State) Upsert(rec Job) {
	j, ok := s.Jobs[rec.ID]
	wasOcc, oldStatus := false, batch.JobStatus("")
	if !ok {
		j = &Job{}
		*j = rec
		s.Jobs[rec.ID] = j
		for _, d := range rec.DependsOn {
			s.waiters[d] = append(s.waiters[d], rec.ID)
		}
		for _, d := range rec.DependsAny {
			s.waiters[d] = append(s.waiters[d], rec.ID)
		}
	} else {
		wasOcc, oldStatus = j.occupies(), j.Status
		placed, gated, reason, list, host, env, sig := j.Placed, j.Gated, j.Reason, j.list, j.Host, j.Env, j.sig
		*j = rec
		j.Placed, j.Gated, j.list = placed, gated, list
		if oldStatus == batch.StatusRunnable && j.Status == batch.StatusRunnable {
			j.sig = sig
		}
		if list != nil && (j.Queue != list.queue || j.Share != list.share) {
			// Moved: the old list drops it, the new one takes it.
			list.leave()
			j.list = nil
		}
		if oldStatus == batch.StatusRunnable {
			// The record may lag behind what this planner published.
			j.Reason = reason
		}
		if j.Placed != 0 && j.Host == "" {
			// The record does not show our placement yet: keep where we put it.
			j.Host, j.Env = host, env
		}
	}
	// A gate is confirmed once the record has left SUBMITTED/PENDING
	// (or shows the gated status).
	if j.Gated != "" {
		if j.Status == j.Gated || (j.Status != batch.StatusSubmitted && j.Status != batch.StatusPending) {
			j.Gated = ""
		} else {
			j.Status = j.Gated
		}
	}
	if j.Placed != 0 && (j.Attempts >= j.Placed || (j.Status != batch.StatusRunnable && j.Status != batch.StatusSubmitted && j.Status != batch.StatusPending)) {
		j.Placed = 0
	}
	switch {
	case j.ArraySize > 0:
		// an array parent: its status follows its children
	case j.Node:
		// a node of a multi-node job: placed with its gang
	case j.Status == batch.StatusSubmitted || j.Status == batch.StatusPending:
		s.gating[j.ID] = true
	case j.Status == batch.StatusRunnable && j.Placed == 0:
		s.addRunnable(j)
	}
	if j.list != nil && (j.Status != batch.StatusRunnable || j.Placed != 0) {
		j.list.leave()
	}
	if j.Status.Final() {
		for _, w := range s.waiters[j.ID] {
			s.gating[w] = true
		}
	}
	occ := j.occupies()
	s.track(j)
	// Confirmations of placements (STARTING, RUNNING) change nothing the
	// planner decides on; anything else may.
	if !(wasOcc && occ) && (!ok || j.Status != oldStatus || wasOcc != occ) {
		s.dirty = true
	}
}

// track files the job in the sets of jobs holding capacity or resources.
func (s *State) track(j *Job) {
	_, wasOcc := s.occ[j.ID]
	_, wasHeld := s.held[j.ID]
	occ, held := j.occupies(), len(j.Needs) > 0 && j.consumed()
	if occ {
		s.occ[j.ID] = j
	} else {
		delete(s.occ, j.ID)
	}
	if held {
		s.held[j.ID] = j
	} else {
		delete(s.held, j.ID)
	}
	if wasHeld != held || (wasOcc != occ && (j.ArrayMax > 0 || len(j.Needs) > 0 || j.Node)) {
		s.counts++
	}
}

func (s *State) addRunnable(j *Job) {
	if j.list != nil {
		return
	}
	s.dirty = true
	byShare := s.lists[j.Queue]
	if byShare == nil {
		byShare = map[string]*shareList{}
		s.lists[j.Queue] = byShare
	}
	l := byShare[j.Share]
	if l == nil {
		l = &shareList{queue: j.Queue, share: j.Share, min: shapeOf(j)}
		byShare[j.Share] = l
	}
	l.add(j)
}

// Ungate takes back a gate that could not be published: the job is back in
// the status it had, and the next pass decides it again.
func (s *State) Ungate(g Gate) {
	j := g.Job
	if j.Gated != g.Status {
		return
	}
	j.Gated, j.Status = "", g.From
	if j.list != nil {
		j.list.leave()
	}
	s.gating[j.ID] = true
	s.dirty = true
}

// Unplace takes back a placement that could not be published.
func (s *State) Unplace(j *Job) {
	if j.gang() {
		s.unplaceGang(j)
	}
	j.Placed = 0
	j.sig = tailSig{}
	if j.list != nil {
		j.list.explained(tailSig{})
	}
	s.track(j)
	if j.Status == batch.StatusRunnable {
		s.addRunnable(j)
	}
	s.dirty = true
}

// Remove forgets a job (its record was deleted).
func (s *State) Remove(id string) {
	if j := s.Jobs[id]; j != nil {
		if j.list != nil || j.occupies() || len(j.Needs) > 0 {
			s.dirty = true
		}
		if j.list != nil {
			j.list.leave()
		}
		j.removed = true
		if len(j.Needs) > 0 || (j.ArrayMax > 0 && j.occupies()) {
			s.counts++
		}
	}
	delete(s.Jobs, id)
	delete(s.gating, id)
	delete(s.occ, id)
	delete(s.held, id)
}

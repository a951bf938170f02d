// Package plan is the scheduler's decision logic, free of I/O: given the
// queues, compute environments, hosts and jobs it knows, it decides which
// jobs leave SUBMITTED/PENDING, which RUNNABLE jobs go to which host, and
// why the others wait. The scheduler service feeds it from JetStream and
// publishes its decisions.
package plan

import (
	"cmp"
	"fmt"
	"math"
	"slices"

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
	Attempts  int // finished attempts
	// Host and Env are where the job runs (STARTING/RUNNING) or was placed.
	Host, Env string
	// Placed is the attempt placed by this planner and not yet confirmed
	// by the record; 0 when none.
	Placed int
	// Gated is the status this planner moved the job to, not yet confirmed.
	Gated batch.JobStatus
	// Reason is the wait reason last published.
	Reason string

	listed bool // in its queue's runnable list
}

// occupies reports whether the job holds capacity on its host.
func (j *Job) occupies() bool {
	switch j.Status {
	case batch.StatusStarting, batch.StatusRunning:
		return true
	case batch.StatusRunnable:
		return j.Placed == j.Attempts+1
	}
	return false
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
}

// Placement is a decision to run a job's next attempt on a host.
type Placement struct {
	Job     *Job
	Attempt int
	Host    string
	Env     string
}

// Gate is a decision to move a job out of SUBMITTED or PENDING.
type Gate struct {
	Job    *Job
	Status batch.JobStatus
	Reason string
}

// Wait is a new wait reason for a RUNNABLE job.
type Wait struct {
	Job    *Job
	Reason string
}

// State is everything the planner knows.
type State struct {
	Jobs   map[string]*Job
	Queues map[string]*Queue
	Envs   map[string]*Env
	Hosts  map[string]*events.Host

	// waiters maps a job id to the jobs whose dependsOn names it.
	waiters map[string][]string
	// gating holds SUBMITTED/PENDING jobs whose dependencies may have moved.
	gating map[string]bool
	// runnable holds per queue the RUNNABLE jobs; stale entries are
	// dropped lazily.
	runnable map[string][]*Job
	unsorted map[string]bool
}

// NewState returns an empty state.
func NewState() *State {
	return &State{
		Jobs: map[string]*Job{}, Queues: map[string]*Queue{}, Envs: map[string]*Env{},
		Hosts: map[string]*events.Host{}, waiters: map[string][]string{}, gating: map[string]bool{},
		runnable: map[string][]*Job{}, unsorted: map[string]bool{},
	}
}

// Upsert records what a job record says. The record is the truth, except
// that a gate or placement this planner made and the record does not show
// yet is kept.
func (s *State) Upsert(rec Job) {
	j, ok := s.Jobs[rec.ID]
	if !ok {
		j = &Job{}
		*j = rec
		s.Jobs[rec.ID] = j
		for _, d := range rec.DependsOn {
			s.waiters[d] = append(s.waiters[d], rec.ID)
		}
	} else {
		placed, gated, reason, listed, host, env := j.Placed, j.Gated, j.Reason, j.listed, j.Host, j.Env
		*j = rec
		j.Placed, j.Gated, j.Reason, j.listed = placed, gated, reason, listed
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
	switch j.Status {
	case batch.StatusSubmitted, batch.StatusPending:
		s.gating[j.ID] = true
	case batch.StatusRunnable:
		if j.Placed == 0 {
			s.addRunnable(j)
		}
	}
	if j.Status.Final() {
		for _, w := range s.waiters[j.ID] {
			s.gating[w] = true
		}
	}
}

func (s *State) addRunnable(j *Job) {
	if j.listed {
		return
	}
	j.listed = true
	list := s.runnable[j.Queue]
	if n := len(list); n > 0 && list[n-1].Seq > j.Seq {
		s.unsorted[j.Queue] = true
	}
	s.runnable[j.Queue] = append(list, j)
}

// Remove forgets a job (its record was deleted).
func (s *State) Remove(id string) { delete(s.Jobs, id); delete(s.gating, id) }

// Gates decides the jobs leaving SUBMITTED or PENDING.
func (s *State) Gates() []Gate {
	var out []Gate
	for id := range s.gating {
		j := s.Jobs[id]
		delete(s.gating, id)
		if j == nil || (j.Status != batch.StatusSubmitted && j.Status != batch.StatusPending) {
			continue
		}
		status, reason := s.depsOutcome(j)
		if status == j.Status || (status == batch.StatusPending && j.Gated == batch.StatusPending) {
			continue
		}
		j.Gated = status
		j.Status = status
		if status == batch.StatusRunnable {
			s.addRunnable(j)
		}
		out = append(out, Gate{Job: j, Status: status, Reason: reason})
	}
	slices.SortFunc(out, func(a, b Gate) int { return cmp.Compare(a.Job.Seq, b.Job.Seq) })
	return out
}

// depsOutcome is where a job's dependencies leave it.
func (s *State) depsOutcome(j *Job) (batch.JobStatus, string) {
	waiting := false
	for _, d := range j.DependsOn {
		dj := s.Jobs[d]
		switch {
		case dj == nil:
			waiting = true // submitted, record not seen yet
		case dj.Status == batch.StatusFailed:
			return batch.StatusFailed, fmt.Sprintf("Dependent Job failed: %s", d)
		case dj.Status != batch.StatusSucceeded:
			waiting = true
		}
	}
	if waiting {
		return batch.StatusPending, ""
	}
	return batch.StatusRunnable, ""
}

// usage sums what placed and running jobs hold per environment and host.
type usage struct {
	env  map[string]Milli
	cpu  map[string]Milli
	mem  map[string]int64
	gpus map[string]int
}

func (s *State) usage() usage {
	u := usage{env: map[string]Milli{}, cpu: map[string]Milli{}, mem: map[string]int64{}, gpus: map[string]int{}}
	for _, j := range s.Jobs {
		if !j.occupies() {
			continue
		}
		u.env[j.Env] += j.VCPU
		u.cpu[j.Host] += j.VCPU
		u.mem[j.Host] += j.MemoryMiB
		u.gpus[j.Host] += j.GPUs
	}
	return u
}

// Place decides which RUNNABLE jobs start now: queues by priority (higher
// first), jobs in submit order, environments in the queue's order, hosts
// with the most free vCPUs first. A job that does not fit does not block
// smaller ones behind it. It also returns the wait reasons that changed.
func (s *State) Place() ([]Placement, []Wait) {
	u := s.usage()
	queues := make([]*Queue, 0, len(s.Queues))
	for _, q := range s.Queues {
		queues = append(queues, q)
	}
	slices.SortFunc(queues, func(a, b *Queue) int {
		if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	hosts := make([]*events.Host, 0, len(s.Hosts))
	for _, h := range s.Hosts {
		hosts = append(hosts, h)
	}
	slices.SortFunc(hosts, func(a, b *events.Host) int { return cmp.Compare(a.ID, b.ID) })

	var places []Placement
	var waits []Wait
	for _, q := range queues {
		list := s.compact(q.Name)
		for _, j := range list {
			if j.Placed != 0 {
				continue
			}
			if p, ok := s.fit(q, j, hosts, &u); ok {
				j.Placed = p.Attempt
				j.Host, j.Env = p.Host, p.Env
				j.Reason = ""
				places = append(places, p)
				continue
			}
			if r := s.waitReason(q, j, hosts); r != j.Reason {
				j.Reason = r
				waits = append(waits, Wait{Job: j, Reason: r})
			}
		}
	}
	return places, waits
}

// compact drops the jobs that are no longer waiting and sorts the rest.
func (s *State) compact(queue string) []*Job {
	list := s.runnable[queue]
	kept := list[:0]
	for _, j := range list {
		if j.Status == batch.StatusRunnable && j.Placed == 0 && s.Jobs[j.ID] == j {
			kept = append(kept, j)
		} else {
			j.listed = false
		}
	}
	clear(list[len(kept):])
	if s.unsorted[queue] {
		slices.SortFunc(kept, func(a, b *Job) int { return cmp.Compare(a.Seq, b.Seq) })
		delete(s.unsorted, queue)
	}
	s.runnable[queue] = kept
	return kept
}

func (s *State) fit(q *Queue, j *Job, hosts []*events.Host, u *usage) (Placement, bool) {
	for _, name := range q.Envs {
		e := s.Envs[name]
		if e == nil || !e.Enabled {
			continue
		}
		if e.MaxVCPU > 0 && u.env[name]+j.VCPU > e.MaxVCPU {
			continue
		}
		var best *events.Host
		var bestFree Milli
		for _, h := range hosts {
			if !h.Serves(name) {
				continue
			}
			free := ToMilli(h.VCPUs) - u.cpu[h.ID]
			if free < j.VCPU || h.MemoryMiB-u.mem[h.ID] < j.MemoryMiB || h.GPUs-u.gpus[h.ID] < j.GPUs {
				continue
			}
			if best == nil || free > bestFree {
				best, bestFree = h, free
			}
		}
		if best == nil {
			continue
		}
		u.env[name] += j.VCPU
		u.cpu[best.ID] += j.VCPU
		u.mem[best.ID] += j.MemoryMiB
		u.gpus[best.ID] += j.GPUs
		return Placement{Job: j, Attempt: j.Attempts + 1, Host: best.ID, Env: name}, true
	}
	return Placement{}, false
}

// Reasons a RUNNABLE job waits, in AWS Batch's codes where AWS has one.
const (
	ReasonEnvMaxResource = "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE"
	ReasonJobRequirement = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"
	ReasonInvalidEnvs    = "ACTION_REQUIRED"
)

// waitReason says why a job that did not fit waits. Waiting for capacity
// held by other jobs is normal and has no reason; a job that can never fit
// says so.
func (s *State) waitReason(q *Queue, j *Job, hosts []*events.Host) string {
	anyEnabled, envFits := false, false
	for _, name := range q.Envs {
		e := s.Envs[name]
		if e == nil || !e.Enabled {
			continue
		}
		anyEnabled = true
		if e.MaxVCPU != 0 && j.VCPU > e.MaxVCPU {
			continue
		}
		envFits = true
		for _, h := range hosts {
			if h.Serves(name) && j.VCPU <= ToMilli(h.VCPUs) && j.MemoryMiB <= h.MemoryMiB && j.GPUs <= h.GPUs {
				return "" // it fits this environment once capacity frees up
			}
		}
	}
	switch {
	case !anyEnabled:
		return ReasonInvalidEnvs + " - no compute environment of queue " + q.Name + " is ENABLED."
	case !envFits:
		return fmt.Sprintf("%s - the job needs %g vCPUs, more than the maxvCpus of every compute environment of queue %s.", ReasonEnvMaxResource, j.VCPU.Float(), q.Name)
	case len(hosts) > 0:
		return fmt.Sprintf("%s - no host of the queue's compute environments has %g vCPUs, %d MiB of memory and %d GPUs.", ReasonJobRequirement, j.VCPU.Float(), j.MemoryMiB, j.GPUs)
	}
	return ""
}

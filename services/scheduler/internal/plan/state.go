// Package plan is the scheduler's decision logic, free of I/O: given the
// queues, compute environments, hosts and jobs it knows, it decides which
// jobs leave SUBMITTED/PENDING, which RUNNABLE jobs go to which host, and
// why the others wait. The scheduler service feeds it from JetStream and
// publishes its decisions.
package plan

import (
	"math"

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

package plan

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/batchd/batchd/pkg/batch"
)

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

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
		from := j.Status
		j.Gated = status
		j.Status = status
		if status == batch.StatusRunnable {
			s.addRunnable(j)
		}
		out = append(out, Gate{Job: j, Status: status, Reason: reason, From: from})
	}
	slices.SortFunc(out, func(a, b Gate) int { return cmp.Compare(a.Job.Seq, b.Job.Seq) })
	return out
}

// depsOutcome is where a job's dependencies leave it: any FAILED
// dependency fails it (unless its condition is ANY), it waits while one is
// not final (or, condition SUCCEEDED, not SUCCEEDED), and it is RUNNABLE
// once all are met.
func (s *State) depsOutcome(j *Job) (batch.JobStatus, string) {
	waiting := false
	for _, d := range j.DependsAny {
		if dj := s.Jobs[d]; dj == nil || !dj.Status.Final() {
			waiting = true
		}
	}
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

// ResolveDependencies turns a job record's dependsOn into the job ids it
// waits for: all (they must succeed) and any (they must only finish,
// condition ANY). For an array child of index i, an N_TO_N dependency on
// array A means A:i and SEQUENTIAL means the previous child (none for
// child 0); a plain dependency on an array parent waits for the parent,
// whose status is final once all its children are. An array parent itself
// waits for nothing: its children carry its dependencies.
func ResolveDependencies(jobID string, array *batch.ArrayPropertiesDetail, deps []batch.JobDependency) (all, anyOutcome []string) {
	if array != nil && array.Index == nil && array.Size > 0 {
		return nil, nil
	}
	parent, index, child := "", 0, false
	if array != nil && array.Index != nil {
		if p, i, ok := batch.ArrayParentOf(jobID); ok {
			parent, index, child = p, i, true
		}
	}
	for _, d := range deps {
		id := d.JobID
		switch d.Type {
		case batch.DependencySequential:
			if !child || index == 0 {
				continue
			}
			id = batch.ArrayChildID(parent, index-1)
		case batch.DependencyNToN:
			if !child {
				continue
			}
			id = batch.ArrayChildID(d.JobID, index)
		}
		if id == "" {
			continue
		}
		if d.Condition == batch.ConditionAny {
			anyOutcome = append(anyOutcome, id)
		} else {
			all = append(all, id)
		}
	}
	return all, anyOutcome
}

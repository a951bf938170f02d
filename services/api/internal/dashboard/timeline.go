package dashboard

import (
	"fmt"
	"sort"

	"github.com/batchd/batchd/pkg/batch"
)

// jobTimeline is a job's state timeline: what its record tells (created,
// every attempt's start and end, the current status since
// statusChangedAt, stoppedAt) merged with the changes this replica saw in
// the events, which also give the times of PENDING, RUNNABLE and STARTING.
func jobTimeline(j *batch.JobDetail, seen []Transition) []Transition {
	var out []Transition
	if j.CreatedAt > 0 {
		out = append(out, Transition{Status: batch.StatusSubmitted, At: j.CreatedAt})
	}
	for i, a := range j.Attempts {
		if a.StartedAt > 0 {
			out = append(out, Transition{Status: batch.StatusRunning, At: a.StartedAt, Attempt: i + 1})
		}
		if a.StoppedAt > 0 {
			note := fmt.Sprintf("attempt %d ended", i+1)
			if c := a.Container; c != nil && c.ExitCode != nil {
				note += fmt.Sprintf(" with exit code %d", *c.ExitCode)
			}
			if a.StatusReason != "" {
				note += ": " + a.StatusReason
			}
			out = append(out, Transition{At: a.StoppedAt, Attempt: i + 1, Note: note})
		}
	}
	if j.StatusChangedAt > 0 {
		out = append(out, Transition{Status: j.Status, At: j.StatusChangedAt})
	}
	if j.Status.Final() && j.StoppedAt > 0 && j.StatusChangedAt == 0 {
		out = append(out, Transition{Status: j.Status, At: j.StoppedAt})
	}
	for _, s := range seen {
		if !hasNear(out, s) {
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].At < out[b].At })
	// The same status at the same moment from two sources once.
	dedup := out[:0]
	for _, t := range out {
		if n := len(dedup); n > 0 && dedup[n-1].Status == t.Status && t.Status != "" && dedup[n-1].At == t.At {
			if dedup[n-1].Attempt == 0 {
				dedup[n-1].Attempt = t.Attempt
			}
			continue
		}
		dedup = append(dedup, t)
	}
	return dedup
}

// hasNear reports whether the timeline has the status within a second of
// the change (the record and the event may round differently).
func hasNear(l []Transition, t Transition) bool {
	for _, x := range l {
		if x.Status == t.Status && x.At-t.At < 1000 && t.At-x.At < 1000 {
			return true
		}
	}
	return false
}

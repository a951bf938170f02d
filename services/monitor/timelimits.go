package monitor

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/pkg/telemetry"
)

// Time limits on waiting jobs. AWS's queue jobStateTimeLimitActions act on
// the job at the head of a queue that has been RUNNABLE for maxTimeSeconds
// with a statusReason whose code is the action's reason. This system adds
// PENDING entries (every PENDING job of the queue), the reason "*" (any
// reason or none), the TERMINATE action, and a job's own
// jobStateTimeLimitActions (given at SubmitJob, for that job alone).
//
// Every monitor replica checks its view of the jobs periodically and
// publishes a cancel or terminate fact, which the monitor then applies
// like CancelJob's. The fact's de-duplication id is derived from the job,
// the state it entered and the limit, so replicas that decide the same
// store it once, and applying it twice changes nothing.

// timeLimitInterval is how often the limits are checked by default.
const timeLimitInterval = 5 * time.Second

// enforceTimeLimits acts on the expired time limits every interval, until
// ctx ends.
func (m *monitor) enforceTimeLimits(ctx context.Context) {
	interval := m.cfg.TimeLimitInterval
	if interval <= 0 {
		interval = timeLimitInterval
	}
	fired := map[string]bool{}
	m.periodically(ctx, interval, func(ctx context.Context) {
		for _, a := range m.view.expired(m.clock().UnixMilli()) {
			if fired[a.msgID] {
				continue
			}
			if err := m.publishLimit(ctx, a); err != nil {
				if ctx.Err() == nil {
					m.log.Warn("time limit action, will retry", telemetry.LogJobID, a.jobID, "err", err)
				}
				continue
			}
			fired[a.msgID] = true
			m.log.Info("time limit reached", telemetry.LogJobID, a.jobID, "action", a.action, "reason", a.reason)
		}
		if len(fired) > 100_000 {
			clear(fired) // de-duplication by JetStream still holds
		}
	})
}

// limitAction is a time limit that has expired for a job.
type limitAction struct {
	jobID  string
	action string
	reason string
	at     int64 // when the limit expired: the fact's time
	msgID  string
}

func (m *monitor) publishLimit(ctx context.Context, a limitAction) error {
	if a.action == batch.TimeLimitTerminate {
		ev := events.JobTerminate{JobID: a.jobID, Reason: a.reason, By: events.ByTimeLimit, Time: a.at, ID: a.msgID}
		_, err := bus.Publish(ctx, m.js, ev)
		return err
	}
	ev := events.JobCancel{JobID: a.jobID, Reason: a.reason, By: events.ByTimeLimit, Time: a.at, ID: a.msgID}
	_, err := bus.Publish(ctx, m.js, ev)
	return err
}

// expired lists the limits that have run out at now (epoch ms).
func (v *jobView) expired(now int64) []limitAction {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []limitAction
	heads := map[string]*viewJob{} // per queue, the RUNNABLE job first in line
	for _, j := range v.waiting {
		for _, a := range j.Limits {
			if act, ok := limitHit(j, a, now); ok {
				out = append(out, act)
			}
		}
		for _, a := range v.queues[j.Queue] {
			if a.State == string(batch.StatusPending) {
				if act, ok := limitHit(j, a, now); ok {
					out = append(out, act)
				}
			}
		}
		if j.Status == batch.StatusRunnable {
			if h := heads[j.Queue]; h == nil || cmp.Or(cmp.Compare(j.Seq, h.Seq), strings.Compare(j.ID, h.ID)) < 0 {
				heads[j.Queue] = j
			}
		}
	}
	for q, h := range heads {
		for _, a := range v.queues[q] {
			if a.State == string(batch.StatusRunnable) {
				if act, ok := limitHit(h, a, now); ok {
					out = append(out, act)
				}
			}
		}
	}
	return out
}

// limitHit reports whether limit a has run out for job j: j is in the
// limit's state, its statusReason matches, and it has been in that state
// for maxTimeSeconds.
func limitHit(j *viewJob, a batch.JobStateTimeLimitAction, now int64) (limitAction, bool) {
	if string(j.Status) != a.State || !reasonMatches(a.Reason, j.StatusReason) {
		return limitAction{}, false
	}
	at := j.since() + int64(a.MaxTimeSeconds)*1000
	if now < at {
		return limitAction{}, false
	}
	why := a.Reason
	if why == "" || why == "*" {
		why = reasonCode(j.StatusReason)
		if why == "" {
			why = fmt.Sprintf("%s for more than %d seconds", a.State, a.MaxTimeSeconds)
		}
	}
	verb := "Canceled"
	if a.Action == batch.TimeLimitTerminate {
		verb = "Terminated"
	}
	return limitAction{
		jobID: j.ID, action: a.Action, at: at,
		reason: verb + " by JobStateTimeLimit action due to reason: " + why,
		msgID:  fmt.Sprintf("timelimit/%s/%s/%d/%d", j.ID, a.State, j.since(), a.MaxTimeSeconds),
	}, true
}

// reasonMatches compares a limit's reason with a job's statusReason: "*"
// or "" match any; otherwise the reason must be the statusReason's code
// (the part before " - ") or a prefix of the statusReason.
func reasonMatches(want, statusReason string) bool {
	if want == "" || want == "*" {
		return true
	}
	return reasonCode(statusReason) == want || strings.HasPrefix(statusReason, want)
}

// reasonCode is the code of a statusReason such as
// "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - no host ...".
func reasonCode(s string) string {
	code, _, _ := strings.Cut(s, " - ")
	return strings.TrimSpace(code)
}

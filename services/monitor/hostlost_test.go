package monitor

import (
	"testing"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
)

// TestApplyHostLost: the loss of a job's host fails its STARTING or
// RUNNING attempt with AWS's wording, retries it per the strategy (and its
// evaluateOnExit on that reason), ends a terminated job, and leaves
// anything else alone.
func TestApplyHostLost(t *testing.T) {
	lost := func(attempt int, host string) events.JobHostLost {
		return events.JobHostLost{JobID: testJobID, Attempt: attempt, HostID: host, Time: 7000}
	}
	reason := "Host EC2 (instance h1) terminated."
	exitOnHost := &batch.RetryStrategy{Attempts: 3, EvaluateOnExit: []batch.EvaluateOnExit{
		{OnStatusReason: "Host EC2*", Action: "EXIT"}}}
	retryOnHost := &batch.RetryStrategy{Attempts: 3, EvaluateOnExit: []batch.EvaluateOnExit{
		{OnStatusReason: "Host EC2*", Action: "RETRY"}, {OnReason: "*", Action: "EXIT"}}}
	terminated := job(batch.StatusRunning, 0, &batch.RetryStrategy{Attempts: 3})
	terminated.IsTerminated, terminated.StatusReason = true, "operator"
	for _, tc := range []struct {
		name    string
		job     batch.JobDetail
		fact    events.JobHostLost
		changed bool
		status  batch.JobStatus
		reason  string
	}{
		{"running, no retry strategy", job(batch.StatusRunning, 0, nil), lost(1, "h1"), true, batch.StatusFailed, reason},
		{"starting, retried", job(batch.StatusStarting, 0, &batch.RetryStrategy{Attempts: 2}), lost(1, "h1"), true, batch.StatusRunnable, ""},
		{"last attempt", job(batch.StatusRunning, 1, &batch.RetryStrategy{Attempts: 2}), lost(2, "h1"), true, batch.StatusFailed, reason},
		{"evaluateOnExit EXIT on the reason", job(batch.StatusRunning, 0, exitOnHost), lost(1, "h1"), true, batch.StatusFailed, reason},
		{"evaluateOnExit RETRY on the reason", job(batch.StatusRunning, 0, retryOnHost), lost(1, "h1"), true, batch.StatusRunnable, ""},
		{"terminated", terminated, lost(1, "h1"), true, batch.StatusFailed, "operator"},
		{"other host", job(batch.StatusRunning, 0, nil), lost(1, "h2"), false, batch.StatusRunning, ""},
		{"other attempt", job(batch.StatusRunning, 1, nil), lost(1, "h1"), false, batch.StatusRunning, ""},
		{"already over", job(batch.StatusSucceeded, 1, nil), lost(1, "h1"), false, batch.StatusSucceeded, ""},
		{"runnable", job(batch.StatusRunnable, 0, nil), lost(1, "h1"), false, batch.StatusRunnable, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := clone(t, tc.job)
			before := len(j.Attempts)
			if got := applyHostLost(&j, tc.fact); got != tc.changed {
				t.Fatalf("changed = %v, want %v", got, tc.changed)
			}
			if j.Status != tc.status || (tc.changed && j.StatusReason != tc.reason) {
				t.Fatalf("status %s (%q), want %s (%q)", j.Status, j.StatusReason, tc.status, tc.reason)
			}
			if !tc.changed {
				return
			}
			if len(j.Attempts) != before+1 {
				t.Fatalf("%d attempts, want %d", len(j.Attempts), before+1)
			}
			a := j.Attempts[len(j.Attempts)-1]
			if want := reason; tc.job.IsTerminated {
				want = "operator"
				if a.StatusReason != want {
					t.Errorf("attempt reason %q, want %q", a.StatusReason, want)
				}
			} else if a.StatusReason != want || a.Container.ExitCode != nil || a.StoppedAt != 7000 {
				t.Errorf("attempt %+v, want reason %q, no exit code, stopped at 7000", a, want)
			}
			if again := clone(t, j); applyHostLost(&again, tc.fact) {
				t.Errorf("applying the loss twice changed the record again")
			}
		})
	}
}

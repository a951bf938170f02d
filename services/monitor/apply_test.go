package monitor

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
)

const testJobID = "job-1"

func intp(v int) *int { return &v }

// job returns a record in status st with n finished attempts.
func job(st batch.JobStatus, n int, rs *batch.RetryStrategy) batch.JobDetail {
	j := batch.JobDetail{
		JobID: testJobID, JobName: "name", JobQueue: "q", JobQueueName: "q", Status: st,
		Attempts: []batch.AttemptDetail{}, DependsOn: []batch.JobDependency{}, RetryStrategy: rs,
		Container: &batch.ContainerDetail{Image: "busybox"},
	}
	for i := 0; i < n; i++ {
		j.Attempts = append(j.Attempts, batch.AttemptDetail{
			Container:    &batch.AttemptContainerDetail{ExitCode: intp(1), LogStreamName: events.LogSubject(testJobID, i+1)},
			StartedAt:    int64(100 * (i + 1)),
			StoppedAt:    int64(100*(i+1) + 50),
			StatusReason: reasonEssentialExited,
		})
	}
	switch st {
	case batch.StatusStarting, batch.StatusRunning:
		j.HostID, j.ComputeEnvironmentName = "h1", "ce1"
	}
	if st == batch.StatusRunning {
		j.StartedAt = 1000
		j.Container.TaskArn = "c1"
		j.Container.LogStreamName = events.LogSubject(testJobID, n+1)
	}
	return j
}

// applyFact routes a fact to its transition, as monitor.apply does.
func applyFact(t *testing.T, j *batch.JobDetail, f any) bool {
	t.Helper()
	switch f := f.(type) {
	case events.JobGated:
		return applyGate(j, f)
	case events.JobWaiting:
		return applyWaiting(j, f)
	case events.JobPlaced:
		return applyPlaced(j, f)
	case events.JobStarted:
		return applyStarted(j, f)
	case events.JobExited:
		return applyExited(j, f)
	case events.JobCancel:
		return applyCancel(j, f)
	case events.JobTerminate:
		return applyTerminate(j, f)
	}
	t.Fatalf("unknown fact %T", f)
	return false
}

// clone deep-copies a record through its wire form.
func clone(t *testing.T, j batch.JobDetail) batch.JobDetail {
	t.Helper()
	data, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	var out batch.JobDetail
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func placed(attempt int) events.JobPlaced {
	return events.JobPlaced{JobID: testJobID, Attempt: attempt, HostID: "h1", ComputeEnvironment: "ce2", JobQueue: "q", Time: 500}
}

func started(attempt int) events.JobStarted {
	return events.JobStarted{JobID: testJobID, Attempt: attempt, HostID: "h1", ContainerID: "c9", StartedAt: 2000}
}

func exited(attempt int, code *int) events.JobExited {
	return events.JobExited{JobID: testJobID, Attempt: attempt, HostID: "h1", ContainerID: "c1", ExitCode: code, StartedAt: 1000, StoppedAt: 3000}
}

func TestApplyTransitions(t *testing.T) {
	retry3 := &batch.RetryStrategy{Attempts: 3}
	tests := []struct {
		name  string
		job   batch.JobDetail
		fact  any
		check func(t *testing.T, j *batch.JobDetail)
	}{
		{
			name: "gate SUBMITTED->RUNNABLE",
			job:  job(batch.StatusSubmitted, 0, nil),
			fact: events.JobGated{JobID: testJobID, Status: batch.StatusRunnable, Time: 10},
			check: func(t *testing.T, j *batch.JobDetail) {
				wantStatus(t, j, batch.StatusRunnable, "")
				if j.StoppedAt != 0 {
					t.Errorf("stoppedAt = %d, want 0", j.StoppedAt)
				}
			},
		},
		{
			name:  "gate SUBMITTED->PENDING",
			job:   job(batch.StatusSubmitted, 0, nil),
			fact:  events.JobGated{JobID: testJobID, Status: batch.StatusPending, Time: 10},
			check: func(t *testing.T, j *batch.JobDetail) { wantStatus(t, j, batch.StatusPending, "") },
		},
		{
			name: "gate SUBMITTED->FAILED (dependency already failed)",
			job:  job(batch.StatusSubmitted, 0, nil),
			fact: events.JobGated{JobID: testJobID, Status: batch.StatusFailed, Reason: "Dependent Job failed: dep", Time: 10},
			check: func(t *testing.T, j *batch.JobDetail) {
				wantStatus(t, j, batch.StatusFailed, "Dependent Job failed: dep")
				if j.StoppedAt != 10 {
					t.Errorf("stoppedAt = %d, want 10", j.StoppedAt)
				}
			},
		},
		{
			name:  "gate PENDING->RUNNABLE",
			job:   job(batch.StatusPending, 0, nil),
			fact:  events.JobGated{JobID: testJobID, Status: batch.StatusRunnable, Time: 10},
			check: func(t *testing.T, j *batch.JobDetail) { wantStatus(t, j, batch.StatusRunnable, "") },
		},
		{
			name: "gate PENDING->FAILED",
			job:  job(batch.StatusPending, 0, nil),
			fact: events.JobGated{JobID: testJobID, Status: batch.StatusFailed, Reason: "Dependent Job failed: dep", Time: 11},
			check: func(t *testing.T, j *batch.JobDetail) {
				wantStatus(t, j, batch.StatusFailed, "Dependent Job failed: dep")
				if j.StoppedAt != 11 {
					t.Errorf("stoppedAt = %d, want 11", j.StoppedAt)
				}
			},
		},
		{
			name: "waiting sets the reason of a RUNNABLE job",
			job:  job(batch.StatusRunnable, 0, nil),
			fact: events.JobWaiting{JobID: testJobID, Attempt: 1, Reason: "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - x"},
			check: func(t *testing.T, j *batch.JobDetail) {
				wantStatus(t, j, batch.StatusRunnable, "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - x")
			},
		},
		{
			name: "waiting on a retried job names the next attempt",
			job:  job(batch.StatusRunnable, 1, retry3),
			fact: events.JobWaiting{JobID: testJobID, Attempt: 2, Reason: "ACTION_REQUIRED - y"},
			check: func(t *testing.T, j *batch.JobDetail) {
				wantStatus(t, j, batch.StatusRunnable, "ACTION_REQUIRED - y")
			},
		},
		{
			name: "placed RUNNABLE->STARTING",
			job: func() batch.JobDetail {
				j := job(batch.StatusRunnable, 0, nil)
				j.StatusReason = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - x"
				return j
			}(),
			fact: placed(1),
			check: func(t *testing.T, j *batch.JobDetail) {
				wantStatus(t, j, batch.StatusStarting, "")
				if j.HostID != "h1" || j.ComputeEnvironmentName != "ce2" {
					t.Errorf("host/env = %q/%q, want h1/ce2", j.HostID, j.ComputeEnvironmentName)
				}
			},
		},
		{
			name:  "placed second attempt of a retried job",
			job:   job(batch.StatusRunnable, 1, retry3),
			fact:  placed(2),
			check: func(t *testing.T, j *batch.JobDetail) { wantStatus(t, j, batch.StatusStarting, "") },
		},
		{
			name: "started STARTING->RUNNING",
			job:  job(batch.StatusStarting, 0, nil),
			fact: started(1),
			check: func(t *testing.T, j *batch.JobDetail) {
				wantStatus(t, j, batch.StatusRunning, "")
				if j.StartedAt != 2000 {
					t.Errorf("startedAt = %d, want 2000", j.StartedAt)
				}
				if j.Container.TaskArn != "c9" || j.Container.LogStreamName != events.LogSubject(testJobID, 1) {
					t.Errorf("container = %+v", j.Container)
				}
				if j.Container.Image != "busybox" {
					t.Errorf("container image lost: %+v", j.Container)
				}
			},
		},
		{
			name: "started clears the previous attempt's result",
			job: func() batch.JobDetail {
				j := job(batch.StatusStarting, 1, retry3)
				j.Container.ExitCode, j.Container.Reason = intp(3), "old"
				return j
			}(),
			fact: started(2),
			check: func(t *testing.T, j *batch.JobDetail) {
				wantStatus(t, j, batch.StatusRunning, "")
				if j.Container.ExitCode != nil || j.Container.Reason != "" {
					t.Errorf("container result not cleared: %+v", j.Container)
				}
				if j.Container.LogStreamName != events.LogSubject(testJobID, 2) {
					t.Errorf("logStreamName = %q", j.Container.LogStreamName)
				}
			},
		},
		{
			name: "started on a record without container detail",
			job: func() batch.JobDetail {
				j := job(batch.StatusStarting, 0, nil)
				j.Container = nil
				return j
			}(),
			fact: started(1),
			check: func(t *testing.T, j *batch.JobDetail) {
				wantStatus(t, j, batch.StatusRunning, "")
				if j.Container == nil || j.Container.TaskArn != "c9" {
					t.Errorf("container = %+v", j.Container)
				}
			},
		},
		{
			name: "exit 0 -> SUCCEEDED",
			job:  job(batch.StatusRunning, 0, nil),
			fact: exited(1, intp(0)),
			check: func(t *testing.T, j *batch.JobDetail) {
				wantStatus(t, j, batch.StatusSucceeded, "")
				if j.StoppedAt != 3000 {
					t.Errorf("stoppedAt = %d, want 3000", j.StoppedAt)
				}
				if len(j.Attempts) != 1 {
					t.Fatalf("attempts = %d, want 1", len(j.Attempts))
				}
				a := j.Attempts[0]
				if a.Container == nil || a.Container.ExitCode == nil || *a.Container.ExitCode != 0 {
					t.Errorf("attempt container = %+v", a.Container)
				}
				if a.Container.LogStreamName != events.LogSubject(testJobID, 1) {
					t.Errorf("attempt logStreamName = %q", a.Container.LogStreamName)
				}
				if a.Container.TaskArn != "c1" || a.StartedAt != 1000 || a.StoppedAt != 3000 || a.StatusReason != "" {
					t.Errorf("attempt = %+v", a)
				}
				if j.Container.ExitCode == nil || *j.Container.ExitCode != 0 {
					t.Errorf("container exit code = %v", j.Container.ExitCode)
				}
			},
		},
		{
			name: "exit 0 while STARTING (start fact not seen) -> SUCCEEDED with startedAt",
			job:  job(batch.StatusStarting, 0, nil),
			fact: exited(1, intp(0)),
			check: func(t *testing.T, j *batch.JobDetail) {
				wantStatus(t, j, batch.StatusSucceeded, "")
				if j.StartedAt != 1000 {
					t.Errorf("startedAt = %d, want 1000", j.StartedAt)
				}
			},
		},
		{
			name: "exit without startedAt keeps the record's startedAt",
			job:  job(batch.StatusRunning, 0, nil),
			fact: func() events.JobExited {
				f := exited(1, intp(0))
				f.StartedAt = 0
				return f
			}(),
			check: func(t *testing.T, j *batch.JobDetail) {
				wantStatus(t, j, batch.StatusSucceeded, "")
				if j.StartedAt != 1000 || j.Attempts[0].StartedAt != 1000 {
					t.Errorf("startedAt = %d / attempt %d, want 1000", j.StartedAt, j.Attempts[0].StartedAt)
				}
			},
		},
		{
			name: "exit 1 with attempts=1 -> FAILED",
			job:  job(batch.StatusRunning, 0, &batch.RetryStrategy{Attempts: 1}),
			fact: exited(1, intp(1)),
			check: func(t *testing.T, j *batch.JobDetail) {
				wantStatus(t, j, batch.StatusFailed, "Essential container in task exited")
				if j.StoppedAt != 3000 {
					t.Errorf("stoppedAt = %d, want 3000", j.StoppedAt)
				}
				wantAttempts(t, j, 1)
				if a := j.Attempts[0]; *a.Container.ExitCode != 1 || a.StatusReason != "Essential container in task exited" {
					t.Errorf("attempt = %+v / %+v", a, a.Container)
				}
			},
		},
		{
			name: "exit 1 without retry strategy -> FAILED",
			job:  job(batch.StatusRunning, 0, nil),
			fact: exited(1, intp(1)),
			check: func(t *testing.T, j *batch.JobDetail) {
				wantStatus(t, j, batch.StatusFailed, "Essential container in task exited")
			},
		},
		{
			name: "exit 1 with attempts=3 -> RUNNABLE",
			job:  job(batch.StatusRunning, 0, retry3),
			fact: exited(1, intp(1)),
			check: func(t *testing.T, j *batch.JobDetail) {
				wantStatus(t, j, batch.StatusRunnable, "")
				wantAttempts(t, j, 1)
				if j.HostID != "" {
					t.Errorf("hostId = %q, want empty", j.HostID)
				}
				if j.StoppedAt != 0 {
					t.Errorf("stoppedAt = %d, want 0 while attempts remain", j.StoppedAt)
				}
				a := j.Attempts[0]
				if *a.Container.ExitCode != 1 || a.StatusReason != "Essential container in task exited" || a.StoppedAt != 3000 {
					t.Errorf("attempt = %+v", a)
				}
			},
		},
		{
			name: "last of 3 attempts fails -> FAILED",
			job:  job(batch.StatusRunning, 2, retry3),
			fact: exited(3, intp(2)),
			check: func(t *testing.T, j *batch.JobDetail) {
				wantStatus(t, j, batch.StatusFailed, "Essential container in task exited")
				wantAttempts(t, j, 3)
				if a := j.Attempts[2]; a.Container.LogStreamName != events.LogSubject(testJobID, 3) || *a.Container.ExitCode != 2 {
					t.Errorf("attempt 3 = %+v", a.Container)
				}
			},
		},
		{
			name: "NoRetry (timeout) -> FAILED with attempts left",
			job:  job(batch.StatusRunning, 0, retry3),
			fact: func() events.JobExited {
				f := exited(1, intp(137))
				f.StatusReason = "Job attempt duration exceeded timeout"
				f.NoRetry = true
				return f
			}(),
			check: func(t *testing.T, j *batch.JobDetail) {
				wantStatus(t, j, batch.StatusFailed, "Job attempt duration exceeded timeout")
				wantAttempts(t, j, 1)
				if j.StoppedAt != 3000 {
					t.Errorf("stoppedAt = %d", j.StoppedAt)
				}
			},
		},
		{
			name: "exit 0 with a status reason is not a success",
			job:  job(batch.StatusRunning, 0, nil),
			fact: func() events.JobExited {
				f := exited(1, intp(0))
				f.StatusReason = "Job attempt duration exceeded timeout"
				f.NoRetry = true
				return f
			}(),
			check: func(t *testing.T, j *batch.JobDetail) {
				wantStatus(t, j, batch.StatusFailed, "Job attempt duration exceeded timeout")
			},
		},
		{
			name: "start failure -> FAILED with its reason",
			job:  job(batch.StatusStarting, 0, nil),
			fact: events.JobExited{JobID: testJobID, Attempt: 1, HostID: "h1", StoppedAt: 3000,
				StatusReason: "CannotPullContainerError: pull access denied for nope"},
			check: func(t *testing.T, j *batch.JobDetail) {
				wantStatus(t, j, batch.StatusFailed, "CannotPullContainerError: pull access denied for nope")
				wantAttempts(t, j, 1)
				a := j.Attempts[0]
				if a.Container.ExitCode != nil || a.StartedAt != 0 || a.StatusReason != "CannotPullContainerError: pull access denied for nope" {
					t.Errorf("attempt = %+v / %+v", a, a.Container)
				}
				if j.Container.ExitCode != nil {
					t.Errorf("container exit code = %v, want nil", *j.Container.ExitCode)
				}
				if j.StoppedAt != 3000 {
					t.Errorf("stoppedAt = %d", j.StoppedAt)
				}
			},
		},
		{
			name: "start failure with attempts left and a matching RETRY -> RUNNABLE",
			job: job(batch.StatusStarting, 0, &batch.RetryStrategy{Attempts: 2, EvaluateOnExit: []batch.EvaluateOnExit{
				{OnStatusReason: "CannotPullContainerError*", Action: "RETRY"}, {OnReason: "*", Action: "EXIT"}}}),
			fact: events.JobExited{JobID: testJobID, Attempt: 1, HostID: "h1", StoppedAt: 3000,
				StatusReason: "CannotPullContainerError: timeout"},
			check: func(t *testing.T, j *batch.JobDetail) { wantStatus(t, j, batch.StatusRunnable, "") },
		},
		{
			name: "container reason is kept and matched by onReason EXIT",
			job: job(batch.StatusRunning, 0, &batch.RetryStrategy{Attempts: 3, EvaluateOnExit: []batch.EvaluateOnExit{
				{OnReason: "OutOfMemoryError*", Action: "exit"}}}),
			fact: func() events.JobExited {
				f := exited(1, intp(137))
				f.Reason = "OutOfMemoryError: Container killed due to memory usage"
				return f
			}(),
			check: func(t *testing.T, j *batch.JobDetail) {
				wantStatus(t, j, batch.StatusFailed, "Essential container in task exited")
				if j.Container.Reason != "OutOfMemoryError: Container killed due to memory usage" ||
					j.Attempts[0].Container.Reason != j.Container.Reason {
					t.Errorf("reason = %q / %q", j.Container.Reason, j.Attempts[0].Container.Reason)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := tc.job
			if !applyFact(t, &j, tc.fact) {
				t.Fatalf("fact %+v did not apply to %s record", tc.fact, tc.job.Status)
			}
			tc.check(t, &j)
		})
	}
}

func wantStatus(t *testing.T, j *batch.JobDetail, st batch.JobStatus, reason string) {
	t.Helper()
	if j.Status != st || j.StatusReason != reason {
		t.Errorf("status = %s %q, want %s %q", j.Status, j.StatusReason, st, reason)
	}
}

func wantAttempts(t *testing.T, j *batch.JobDetail, n int) {
	t.Helper()
	if len(j.Attempts) != n {
		t.Fatalf("attempts = %d, want %d", len(j.Attempts), n)
	}
	for i, a := range j.Attempts {
		if a.Container == nil || a.Container.LogStreamName != events.LogSubject(testJobID, i+1) {
			t.Errorf("attempt %d container = %+v", i+1, a.Container)
		}
	}
}

// TestApplyStale checks that a fact that no longer applies leaves the record
// exactly as it was (so redelivery is harmless).
func TestApplyStale(t *testing.T) {
	retry3 := &batch.RetryStrategy{Attempts: 3}
	withReason := func(j batch.JobDetail, r string) batch.JobDetail { j.StatusReason = r; return j }
	gate := func(st batch.JobStatus) events.JobGated {
		return events.JobGated{JobID: testJobID, Status: st, Reason: "r", Time: 10}
	}
	tests := []struct {
		name string
		job  batch.JobDetail
		fact any
	}{
		{"gate to the status the record has", job(batch.StatusPending, 0, nil), gate(batch.StatusPending)},
		{"gate SUBMITTED again", job(batch.StatusSubmitted, 0, nil), gate(batch.StatusSubmitted)},
		{"gate PENDING on a RUNNABLE record", job(batch.StatusRunnable, 0, nil), gate(batch.StatusPending)},
		{"gate RUNNABLE on a RUNNABLE record", job(batch.StatusRunnable, 0, nil), gate(batch.StatusRunnable)},
		{"gate RUNNABLE on a STARTING record", job(batch.StatusStarting, 0, nil), gate(batch.StatusRunnable)},
		{"gate FAILED on a RUNNING record", job(batch.StatusRunning, 0, nil), gate(batch.StatusFailed)},
		{"gate FAILED on a FAILED record", job(batch.StatusFailed, 0, nil), gate(batch.StatusFailed)},
		{"gate RUNNABLE on a SUCCEEDED record", job(batch.StatusSucceeded, 1, nil), gate(batch.StatusRunnable)},
		{"waiting with the same reason", withReason(job(batch.StatusRunnable, 0, nil), "r"),
			events.JobWaiting{JobID: testJobID, Attempt: 1, Reason: "r"}},
		{"waiting for an old attempt", job(batch.StatusRunnable, 1, retry3),
			events.JobWaiting{JobID: testJobID, Attempt: 1, Reason: "r"}},
		{"waiting on a STARTING record", job(batch.StatusStarting, 0, nil),
			events.JobWaiting{JobID: testJobID, Attempt: 1, Reason: "r"}},
		{"waiting on a PENDING record", job(batch.StatusPending, 0, nil),
			events.JobWaiting{JobID: testJobID, Attempt: 1, Reason: "r"}},
		{"placed with an old attempt", job(batch.StatusRunnable, 1, retry3), placed(1)},
		{"placed with a future attempt", job(batch.StatusRunnable, 0, retry3), placed(2)},
		{"placed twice", job(batch.StatusStarting, 0, nil), placed(1)},
		{"placed on a RUNNING record", job(batch.StatusRunning, 0, nil), placed(1)},
		{"placed on a PENDING record", job(batch.StatusPending, 0, nil), placed(1)},
		{"placed on a SUBMITTED record", job(batch.StatusSubmitted, 0, nil), placed(1)},
		{"placed on a FAILED record", job(batch.StatusFailed, 0, nil), placed(1)},
		{"started when RUNNABLE", job(batch.StatusRunnable, 0, nil), started(1)},
		{"started when RUNNING", job(batch.StatusRunning, 0, nil), started(1)},
		{"started when SUCCEEDED", job(batch.StatusSucceeded, 1, nil), started(1)},
		{"started with the wrong attempt", job(batch.StatusStarting, 1, retry3), started(1)},
		{"exited when RUNNABLE", job(batch.StatusRunnable, 0, retry3), exited(1, intp(1))},
		{"exited twice after success", job(batch.StatusSucceeded, 1, nil), exited(1, intp(0))},
		{"exited twice after failure", job(batch.StatusFailed, 1, nil), exited(1, intp(1))},
		{"exited twice after a retry", job(batch.StatusRunnable, 1, retry3), exited(1, intp(1))},
		{"exited for an old attempt while the next runs", job(batch.StatusRunning, 1, retry3), exited(1, intp(1))},
		{"exited for a future attempt", job(batch.StatusRunning, 0, retry3), exited(2, intp(1))},
		{"exited when PENDING", job(batch.StatusPending, 0, nil), exited(1, intp(1))},
		{"cancel when STARTING", job(batch.StatusStarting, 0, nil), cancel("r")},
		{"cancel when RUNNING", job(batch.StatusRunning, 0, nil), cancel("r")},
		{"cancel when SUCCEEDED", job(batch.StatusSucceeded, 1, nil), cancel("r")},
		{"cancel when FAILED", job(batch.StatusFailed, 1, nil), cancel("r")},
		{"terminate when SUCCEEDED", job(batch.StatusSucceeded, 1, nil), terminate("r")},
		{"terminate when FAILED", job(batch.StatusFailed, 1, nil), terminate("r")},
		{"terminate twice while RUNNING", terminated(job(batch.StatusRunning, 0, nil), "first"), terminate("second")},
		{"gate on a terminated STARTING record", terminated(job(batch.StatusStarting, 0, nil), "r"), gate(batch.StatusRunnable)},
		{"gate on an array parent", arrayParent(batch.StatusSubmitted, 3), gate(batch.StatusRunnable)},
		{"cancel a finished array parent", arrayParent(batch.StatusSucceeded, 3), cancel("r")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := clone(t, tc.job)
			j := clone(t, tc.job)
			if applyFact(t, &j, tc.fact) {
				t.Fatalf("fact %+v applied to %s record: now %s %q", tc.fact, before.Status, j.Status, j.StatusReason)
			}
			if !reflect.DeepEqual(before, j) {
				t.Errorf("record changed by a fact that did not apply:\nbefore %+v\nafter  %+v", before, j)
			}
		})
	}
}

// TestApplyLifecycle runs whole jobs through the state machine, applying
// each fact twice to show redelivery is harmless.
func TestApplyLifecycle(t *testing.T) {
	twice := func(t *testing.T, j *batch.JobDetail, f any, want batch.JobStatus) {
		t.Helper()
		if !applyFact(t, j, f) {
			t.Fatalf("fact %+v did not apply to %s record", f, j.Status)
		}
		if j.Status != want {
			t.Fatalf("after %T: status %s, want %s", f, j.Status, want)
		}
		snap := clone(t, *j)
		if applyFact(t, j, f) {
			t.Fatalf("redelivered %T applied again", f)
		}
		if !reflect.DeepEqual(snap, *j) {
			t.Fatalf("redelivered %T changed the record", f)
		}
	}

	t.Run("retry then success", func(t *testing.T) {
		j := job(batch.StatusSubmitted, 0, &batch.RetryStrategy{Attempts: 3})
		twice(t, &j, events.JobGated{JobID: testJobID, Status: batch.StatusRunnable}, batch.StatusRunnable)
		twice(t, &j, placed(1), batch.StatusStarting)
		twice(t, &j, started(1), batch.StatusRunning)
		twice(t, &j, exited(1, intp(1)), batch.StatusRunnable)
		if len(j.Attempts) != 1 || *j.Attempts[0].Container.ExitCode != 1 {
			t.Fatalf("attempts after first exit = %+v", j.Attempts)
		}
		// The second attempt.
		twice(t, &j, events.JobWaiting{JobID: testJobID, Attempt: 2, Reason: "waiting"}, batch.StatusRunnable)
		twice(t, &j, placed(2), batch.StatusStarting)
		if j.StatusReason != "" {
			t.Errorf("placement kept wait reason %q", j.StatusReason)
		}
		twice(t, &j, started(2), batch.StatusRunning)
		if j.Container.LogStreamName != events.LogSubject(testJobID, 2) {
			t.Errorf("logStreamName = %q", j.Container.LogStreamName)
		}
		f := exited(2, intp(0))
		f.StartedAt, f.StoppedAt = 2000, 4000
		twice(t, &j, f, batch.StatusSucceeded)
		wantAttempts(t, &j, 2)
		if j.StoppedAt != 4000 || j.StartedAt != 2000 || j.StatusReason != "" {
			t.Errorf("final record: startedAt %d stoppedAt %d reason %q", j.StartedAt, j.StoppedAt, j.StatusReason)
		}
		if *j.Attempts[1].Container.ExitCode != 0 || j.Attempts[1].StartedAt != 2000 {
			t.Errorf("attempt 2 = %+v", j.Attempts[1])
		}
	})

	t.Run("dependency chain gate", func(t *testing.T) {
		j := job(batch.StatusSubmitted, 0, nil)
		twice(t, &j, events.JobGated{JobID: testJobID, Status: batch.StatusPending}, batch.StatusPending)
		twice(t, &j, events.JobGated{JobID: testJobID, Status: batch.StatusFailed, Reason: "Dependent Job failed: a", Time: 7}, batch.StatusFailed)
		if j.StoppedAt != 7 || j.StatusReason != "Dependent Job failed: a" || len(j.Attempts) != 0 {
			t.Errorf("record = %+v", j)
		}
	})

	t.Run("attempts exhausted", func(t *testing.T) {
		j := job(batch.StatusRunnable, 0, &batch.RetryStrategy{Attempts: 2})
		for a := 1; a <= 2; a++ {
			want := batch.StatusRunnable
			if a == 2 {
				want = batch.StatusFailed
			}
			twice(t, &j, placed(a), batch.StatusStarting)
			twice(t, &j, started(a), batch.StatusRunning)
			twice(t, &j, exited(a, intp(a)), want)
		}
		wantAttempts(t, &j, 2)
		if j.StatusReason != reasonEssentialExited || *j.Container.ExitCode != 2 {
			t.Errorf("record = %s %q exit %v", j.Status, j.StatusReason, *j.Container.ExitCode)
		}
	})
}

func cancel(reason string) events.JobCancel {
	return events.JobCancel{JobID: testJobID, Reason: reason, By: events.ByUser, Time: 777}
}

func terminate(reason string) events.JobTerminate {
	return events.JobTerminate{JobID: testJobID, Reason: reason, By: events.ByUser, Time: 777}
}

func terminated(j batch.JobDetail, reason string) batch.JobDetail {
	j.IsTerminated, j.StatusReason = true, reason
	return j
}

func arrayParent(st batch.JobStatus, size int) batch.JobDetail {
	j := job(st, 0, nil)
	j.ArrayProperties = &batch.ArrayPropertiesDetail{Size: size}
	return j
}

// TestApplyCancelTerminate is CancelJob and TerminateJob on every status.
func TestApplyCancelTerminate(t *testing.T) {
	retry3 := &batch.RetryStrategy{Attempts: 3}
	for _, st := range []batch.JobStatus{batch.StatusSubmitted, batch.StatusPending, batch.StatusRunnable} {
		t.Run("cancel "+string(st), func(t *testing.T) {
			j := job(st, 0, nil)
			if !applyFact(t, &j, cancel("not needed")) {
				t.Fatal("not applied")
			}
			wantStatus(t, &j, batch.StatusFailed, "not needed")
			if !j.IsCancelled || j.IsTerminated || j.StoppedAt != 777 {
				t.Fatalf("isCancelled %v isTerminated %v stoppedAt %d", j.IsCancelled, j.IsTerminated, j.StoppedAt)
			}
			// Nothing that comes late brings it back.
			for _, f := range []any{events.JobGated{JobID: testJobID, Status: batch.StatusRunnable}, placed(1), started(1), exited(1, intp(0)), cancel("again"), terminate("again")} {
				if applyFact(t, &j, f) {
					t.Fatalf("%T applied to a cancelled job", f)
				}
			}
			wantStatus(t, &j, batch.StatusFailed, "not needed")
		})
		t.Run("terminate "+string(st), func(t *testing.T) {
			j := job(st, 0, nil)
			if !applyFact(t, &j, terminate("stop it")) {
				t.Fatal("not applied")
			}
			wantStatus(t, &j, batch.StatusFailed, "stop it")
			if !j.IsTerminated || j.StoppedAt != 777 {
				t.Fatalf("isTerminated %v stoppedAt %d", j.IsTerminated, j.StoppedAt)
			}
		})
	}
	t.Run("terminate RUNNING then exit", func(t *testing.T) {
		j := job(batch.StatusRunning, 0, retry3)
		if !applyFact(t, &j, terminate("stop it")) {
			t.Fatal("not applied")
		}
		if j.Status != batch.StatusRunning || !j.IsTerminated {
			t.Fatalf("a terminated running job stays RUNNING until its container stops; got %s", j.Status)
		}
		// SIGTERM made the container exit 143; attempts remain, but a
		// terminated job is never retried.
		if !applyFact(t, &j, exited(1, intp(143))) {
			t.Fatal("exit not applied")
		}
		wantStatus(t, &j, batch.StatusFailed, "stop it")
		wantAttempts(t, &j, 1)
		if a := j.Attempts[0]; a.StatusReason != "stop it" || *a.Container.ExitCode != 143 {
			t.Fatalf("attempt %+v", a)
		}
	})
	t.Run("terminate STARTING, container never started", func(t *testing.T) {
		j := job(batch.StatusStarting, 0, retry3)
		applyFact(t, &j, terminate("stop it"))
		if !applyFact(t, &j, events.JobExited{JobID: testJobID, Attempt: 1, HostID: "h1", StatusReason: "stop it", NoRetry: true, StoppedAt: 900}) {
			t.Fatal("exit not applied")
		}
		wantStatus(t, &j, batch.StatusFailed, "stop it")
		wantAttempts(t, &j, 1)
	})
	t.Run("terminate STARTING, container starts then stops", func(t *testing.T) {
		j := job(batch.StatusStarting, 0, nil)
		applyFact(t, &j, terminate("stop it"))
		if !applyFact(t, &j, started(1)) || j.Status != batch.StatusRunning || !j.IsTerminated {
			t.Fatalf("started: %s terminated %v", j.Status, j.IsTerminated)
		}
		applyFact(t, &j, exited(1, intp(0)))
		wantStatus(t, &j, batch.StatusFailed, "stop it")
	})
	t.Run("array parent records the request", func(t *testing.T) {
		j := arrayParent(batch.StatusPending, 3)
		if !applyFact(t, &j, cancel("all of it")) || j.Status != batch.StatusPending || !j.IsCancelled {
			t.Fatalf("parent %s cancelled %v", j.Status, j.IsCancelled)
		}
		if applyFact(t, &j, cancel("again")) {
			t.Fatal("cancelled twice")
		}
	})
}

// TestArrayStatus is the parent's status from its children's summary.
func TestArrayStatus(t *testing.T) {
	sum := func(kv ...any) map[string]int {
		m := emptySummary()
		for i := 0; i < len(kv); i += 2 {
			m[string(kv[i].(batch.JobStatus))] = kv[i+1].(int)
		}
		return m
	}
	tests := []struct {
		sum  map[string]int
		want batch.JobStatus
	}{
		{sum(batch.StatusPending, 3), batch.StatusPending},
		{sum(batch.StatusRunning, 2, batch.StatusSucceeded, 1), batch.StatusPending},
		{sum(batch.StatusFailed, 1, batch.StatusRunning, 2), batch.StatusPending},
		{sum(batch.StatusSucceeded, 3), batch.StatusSucceeded},
		{sum(batch.StatusSucceeded, 2, batch.StatusFailed, 1), batch.StatusFailed},
	}
	for _, tc := range tests {
		if got := arrayStatus(3, tc.sum); got != tc.want {
			t.Errorf("arrayStatus(%v) = %s, want %s", tc.sum, got, tc.want)
		}
	}
	p := arrayParent(batch.StatusPending, 3)
	if !applySummary(&p, sum(batch.StatusSucceeded, 2, batch.StatusFailed, 1), 50) || p.Status != batch.StatusFailed || p.StoppedAt != 50 ||
		p.StatusReason != "Array Child Job failed: 1 of 3 children failed" {
		t.Fatalf("parent %s %q %d", p.Status, p.StatusReason, p.StoppedAt)
	}
	if applySummary(&p, sum(batch.StatusSucceeded, 3), 60) {
		t.Fatal("a final parent changed")
	}
}

// TestApplyWrongHost: a start or an exit reported by another host than the
// one the record placed the attempt on changes nothing (a forged exit
// cannot end a running job).
func TestApplyWrongHost(t *testing.T) {
	j := job(batch.StatusStarting, 0, nil)
	s := started(1)
	s.HostID = "elsewhere"
	if applyStarted(&j, s) {
		t.Fatal("a start from another host applied")
	}
	j = job(batch.StatusRunning, 0, nil)
	e := exited(1, intp(0))
	e.HostID = "elsewhere"
	if applyExited(&j, e) || j.Status != batch.StatusRunning {
		t.Fatalf("an exit from another host applied: %s", j.Status)
	}
	e.HostID = "h1"
	if !applyExited(&j, e) || j.Status != batch.StatusSucceeded {
		t.Fatalf("the exit from the job's host did not apply: %s", j.Status)
	}
}

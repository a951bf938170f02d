package monitor

import (
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go/jetstream"
)

func TestLimitHit(t *testing.T) {
	j := &viewJob{ID: "j", Queue: "q", Status: batch.StatusRunnable, StatusChangedAt: 1000,
		StatusReason: "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - no host has 64 vCPUs"}
	a := batch.JobStateTimeLimitAction{State: "RUNNABLE", MaxTimeSeconds: 600, Reason: "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT", Action: "CANCEL"}
	if _, ok := limitHit(j, a, 1000+599_999); ok {
		t.Fatal("hit before maxTimeSeconds")
	}
	act, ok := limitHit(j, a, 1000+600_000)
	if !ok || act.reason != "Canceled by JobStateTimeLimit action due to reason: MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT" || act.at != 601_000 {
		t.Fatalf("%+v %v", act, ok)
	}
	other := a
	other.Reason = "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"
	if _, ok := limitHit(j, other, 1e12); ok {
		t.Fatal("another reason matched")
	}
	pend := batch.JobStateTimeLimitAction{State: "PENDING", MaxTimeSeconds: 5, Reason: "*", Action: "TERMINATE"}
	if _, ok := limitHit(j, pend, 1e12); ok {
		t.Fatal("a PENDING limit hit a RUNNABLE job")
	}
	p := &viewJob{ID: "p", Status: batch.StatusPending, CreatedAt: 10}
	act, ok = limitHit(p, pend, 10+5000)
	if !ok || act.action != "TERMINATE" || act.reason != "Terminated by JobStateTimeLimit action due to reason: PENDING for more than 5 seconds" {
		t.Fatalf("%+v %v", act, ok)
	}
}

// Only the head of the queue is subject to AWS's RUNNABLE actions.
func TestExpiredHeadOfQueue(t *testing.T) {
	v := newJobView(false)
	reason := "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE - too big"
	v.waiting["a"] = &viewJob{ID: "a", Queue: "q", Status: batch.StatusRunnable, Seq: 2, StatusChangedAt: 1, StatusReason: reason}
	v.waiting["b"] = &viewJob{ID: "b", Queue: "q", Status: batch.StatusRunnable, Seq: 3, StatusChangedAt: 1, StatusReason: reason}
	v.waiting["c"] = &viewJob{ID: "c", Queue: "q", Status: batch.StatusPending, Seq: 1, StatusChangedAt: 1}
	v.queues["q"] = []batch.JobStateTimeLimitAction{
		{State: "RUNNABLE", MaxTimeSeconds: 600, Reason: "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE", Action: "CANCEL"},
	}
	got := v.expired(1e9)
	if len(got) != 1 || got[0].jobID != "a" {
		t.Fatalf("expired %+v, want only the head a", got)
	}
	delete(v.waiting, "a")
	if got := v.expired(1e9); len(got) != 1 || got[0].jobID != "b" {
		t.Fatalf("after a: %+v", got)
	}
}

// On JetStream: a job's own PENDING limit cancels it; the retention deletes
// finished records and their facts.
func TestTimeLimitAndRetention(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli())
	clock := func() time.Time { return time.UnixMilli(now.Load()) }
	cfg := DefaultConfig()
	cfg.TimeLimitInterval, cfg.HistoryInterval, cfg.JobRetention = 20*time.Millisecond, 20*time.Millisecond, time.Hour
	r := startMonitor(t, cfg, clock)

	j := newJob("slow")
	j.CreatedAt = now.Load()
	j.JobStateTimeLimitActions = []batch.JobStateTimeLimitAction{{State: "PENDING", MaxTimeSeconds: 30, Reason: "*", Action: "CANCEL"}}
	r.submit(j)
	r.gate("slow", batch.StatusPending)
	r.waitFor("slow", "PENDING", func(j batch.JobDetail) bool { return j.Status == batch.StatusPending })
	time.Sleep(100 * time.Millisecond)
	if j, _ := r.get("slow"); j.Status != batch.StatusPending {
		t.Fatalf("cancelled before its limit: %s", j.Status)
	}
	now.Add(31_000)
	got := r.waitFor("slow", "cancelled", func(j batch.JobDetail) bool { return j.Status == batch.StatusFailed })
	if !got.IsCancelled || got.StatusReason != "Canceled by JobStateTimeLimit action due to reason: PENDING for more than 30 seconds" {
		t.Fatalf("%+v", got)
	}

	// An hour after it stopped, the record and its facts are gone.
	now.Add(int64(59 * time.Minute / time.Millisecond))
	time.Sleep(100 * time.Millisecond)
	if _, err := r.get("slow"); err != nil {
		t.Fatalf("deleted before its retention: %v", err)
	}
	now.Add(int64(2 * time.Minute / time.Millisecond))
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := r.get("slow")
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("record still there: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	st, _ := r.js.Stream(t.Context(), events.StreamJobs)
	if _, err := st.GetLastMsgForSubject(t.Context(), events.SubmitSubject("slow")); err == nil {
		t.Fatal("the submit is still on the stream")
	}
}

// AWS's queue action on JetStream: the head of the queue, RUNNABLE with
// the reason for maxTimeSeconds, is cancelled; the job behind it waits its
// turn.
func TestQueueTimeLimit(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli())
	clock := func() time.Time { return time.UnixMilli(now.Load()) }
	cfg := DefaultConfig()
	cfg.TimeLimitInterval = 20 * time.Millisecond
	r := startMonitor(t, cfg, clock)
	queues, err := r.js.KeyValue(t.Context(), events.BucketQueues)
	if err != nil {
		t.Fatal(err)
	}
	q := batch.JobQueueDetail{JobQueueName: "q", JobStateTimeLimitActions: []byte(
		`[{"state":"RUNNABLE","maxTimeSeconds":600,"reason":"MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT","action":"CANCEL"}]`)}
	data, _ := json.Marshal(q)
	if _, err := queues.Put(t.Context(), "q", data); err != nil {
		t.Fatal(err)
	}
	const why = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - no host has 64 vCPUs"
	for _, id := range []string{"head", "next"} {
		j := newJob(id)
		j.CreatedAt = now.Load()
		r.submit(j)
		r.waitFor(id, "created", func(batch.JobDetail) bool { return true })
		r.gate(id, batch.StatusRunnable)
		w := events.JobWaiting{JobID: id, Attempt: 1, Reason: why}
		r.publish(w)
		r.waitFor(id, "waiting", func(j batch.JobDetail) bool { return j.StatusReason == why })
	}
	now.Add(601_000)
	got := r.waitFor("head", "cancelled", func(j batch.JobDetail) bool { return j.Status == batch.StatusFailed })
	if got.StatusReason != "Canceled by JobStateTimeLimit action due to reason: MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT" || !got.IsCancelled {
		t.Fatalf("%q cancelled=%v", got.StatusReason, got.IsCancelled)
	}
	// The next job is now the head and has waited as long: it goes too.
	r.waitFor("next", "cancelled", func(j batch.JobDetail) bool { return j.Status == batch.StatusFailed })
}

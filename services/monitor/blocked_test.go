package monitor

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go/jetstream"
)

func blockedConfig() Config {
	cfg := DefaultConfig()
	cfg.BlockedAfter = 300 * time.Millisecond
	return cfg
}

func (e *monEnv) blocked(n int) []storedEvent {
	return e.read(jetstream.OrderedConsumerConfig{FilterSubjects: []string{events.SubjectBlockedAll}}, n)
}

// allBlocked reads every blocked event stored now.
func (e *monEnv) allBlocked() []storedEvent {
	return e.readFor(jetstream.OrderedConsumerConfig{FilterSubjects: []string{events.SubjectBlockedAll}}, 1000, time.Second)
}

// A job that waits RUNNABLE or PENDING longer than the threshold is
// announced once per wait, with the reason it waits; a job that moves on
// in time is not.
func TestBlockedEvents(t *testing.T) {
	e := startEventsMonitor(t, blockedConfig())
	e.submit("stuck", "q")
	e.gate("stuck", batch.StatusRunnable)
	const why = "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE - no compute environment of queue q can ever hold 16 vCPUs"
	w := events.JobWaiting{JobID: "stuck", Attempt: 1, Reason: why}
	e.publish(w)
	e.submit("dep", "q")
	e.submit("child", "q", "dep")
	e.gate("child", batch.StatusPending)
	e.submit("quick", "q")
	e.gate("quick", batch.StatusRunnable)
	e.place("quick", 1)

	evs := e.blocked(2)
	if len(evs) != 2 {
		t.Fatalf("%d blocked events, want 2", len(evs))
	}
	got := map[string]storedEvent{}
	for _, ev := range evs {
		got[ev.job] = ev
	}
	s, c := got["stuck"], got["child"]
	if s.status != batch.StatusRunnable || s.reason != why || s.id != "blocked/stuck/0/RUNNABLE" ||
		s.subject != "batch.events.blocked.q.stuck" || s.msgType != events.TypeJobQueueBlocked {
		t.Fatalf("stuck: %+v", s)
	}
	if c.status != batch.StatusPending || c.reason != "Waiting for dependencies: dep (SUBMITTED)" {
		t.Fatalf("child: %+v", c)
	}
	var ev events.JobQueueBlocked
	if err := json.Unmarshal(s.raw, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.DetailType != "Batch Job Queue Blocked" || ev.Source != "aws.batch" || len(ev.Resources) != 2 ||
		ev.Resources[1] != batch.ARN(batch.KindJobQueue, "q") || ev.Detail.WaitingSince == 0 || ev.Detail.WaitingSeconds < 0 ||
		ev.Detail.JobArn != batch.ARN(batch.KindJob, "stuck") {
		t.Fatalf("event %s", s.raw)
	}

	// Several more scans: nothing new.
	time.Sleep(5 * scanInterval(blockedConfig().BlockedAfter))
	if evs := e.allBlocked(); len(evs) != 2 {
		t.Fatalf("%d blocked events after more scans, want still 2", len(evs))
	}

	// A new wait of the same job (a failed attempt retried) is announced
	// again.
	e.place("stuck", 1)
	e.start("stuck", 1)
	e.exit("stuck", 1, 1)
	evs = e.blocked(3)
	if len(evs) != 3 || evs[2].job != "stuck" || evs[2].id != "blocked/stuck/1/RUNNABLE" || evs[2].reason != reasonUndetermined {
		t.Fatalf("after the retry: %+v", evs)
	}
}

// A restarted monitor does not announce a wait again.
func TestBlockedOncePerWaitAcrossRestarts(t *testing.T) {
	cfg := blockedConfig()
	e := startEventsMonitor(t, cfg)
	e.submit("w", "q")
	e.gate("w", batch.StatusRunnable)
	if evs := e.blocked(1); len(evs) != 1 {
		t.Fatalf("%d blocked events", len(evs))
	}
	e.run(cfg) // a second replica, which also finds the wait when it starts
	time.Sleep(5 * scanInterval(cfg.BlockedAfter))
	if evs := e.allBlocked(); len(evs) != 1 {
		t.Fatalf("%d blocked events with two replicas, want 1", len(evs))
	}
	if !strings.HasPrefix(e.blocked(1)[0].reason, "UNDETERMINED") {
		t.Fatal("reason")
	}
}

func TestScanInterval(t *testing.T) {
	for _, tc := range []struct{ in, want time.Duration }{
		{10 * time.Minute, 30 * time.Second}, {time.Minute, 15 * time.Second}, {100 * time.Millisecond, 50 * time.Millisecond},
	} {
		if got := scanInterval(tc.in); got != tc.want {
			t.Errorf("scanInterval(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

package monitor

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
)

// A fact given up on after its last delivery leaves its reason on the job.
func TestGiveUpLeavesReason(t *testing.T) {
	r := startMonitor(t, DefaultConfig(), nil)
	r.submit(newJob("g1"))
	r.waitFor("g1", "created", func(j batch.JobDetail) bool { return j.Status == batch.StatusSubmitted })
	m := &monitor{jobs: r.jobs, records: newRecordCache(10), clock: time.Now, log: slog.Default()}
	code := 1
	m.giveUp(context.Background(), events.JobExited{JobID: "g1", Attempt: 1, HostID: "h1", ExitCode: &code},
		&bus.Delivery{NumDelivered: 20}, errors.New("write job g1: boom"))
	j := r.waitFor("g1", "given a reason", func(j batch.JobDetail) bool { return j.StatusReason != "" })
	if j.Status != batch.StatusSubmitted || !strings.Contains(j.StatusReason, "gave up on batch.job.v1.exited after 20 deliveries: write job g1: boom") {
		t.Fatalf("record %s %q, want its status kept and the give-up reason", j.Status, j.StatusReason)
	}
}

// A placement applied before the job's gate to RUNNABLE (the scheduler
// places a job it gated without waiting for the record; two replicas may
// apply them in either order) is applied again after the gate, not lost.
func TestPlacementBeforeItsGate(t *testing.T) {
	r := startMonitor(t, DefaultConfig(), nil)
	r.submit(newJob("pg"))
	r.waitFor("pg", "created", func(j batch.JobDetail) bool { return j.Status == batch.StatusSubmitted })
	r.publish(events.JobPlaced{JobID: "pg", Attempt: 1, HostID: "h1", ComputeEnvironment: "ce", JobQueue: "q"})
	r.gate("pg", batch.StatusRunnable)
	j := r.waitFor("pg", "STARTING", func(j batch.JobDetail) bool { return j.Status == batch.StatusStarting })
	if j.HostID != "h1" {
		t.Fatalf("record %s on %q, want STARTING on h1", j.Status, j.HostID)
	}
}

package scheduler

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
)

// clock is a settable clock for the scheduler.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// A host silent past the timeout is lost: each attempt the records show
// STARTING or RUNNING on it is stated lost once (also one recorded there
// later), other hosts' and finished jobs are not, and a host heard from
// again is no longer lost.
func TestHostLoss(t *testing.T) {
	r := newRig(t)
	clk := &clock{}
	r.put(events.BucketEnvs, "ce1", batch.ComputeEnvironmentDetail{ComputeEnvironmentName: "ce1", Type: "MANAGED",
		State: "ENABLED", Status: "VALID", ComputeResources: &batch.ComputeResource{Type: "EC2", MaxvCpus: 4}})
	r.put(events.BucketQueues, "q1", batch.JobQueueDetail{JobQueueName: "q1", State: "ENABLED", Priority: 1,
		ComputeEnvironmentOrder: []batch.ComputeEnvironmentOrder{{Order: 1, ComputeEnvironment: "ce1"}}})
	r.heartbeat(events.Host{ID: "h2", VCPUs: 4, MemoryMiB: 4096, ComputeEnvironments: []string{"ce2"}})
	h1 := events.Host{ID: "h1", VCPUs: 4, MemoryMiB: 4096, HeartbeatAt: time.Now().UnixMilli(), ComputeEnvironments: []string{"ce1"}}
	r.put(events.BucketHosts, "h1", h1)
	on := func(st batch.JobStatus, host string, attempts int) func(*batch.JobDetail) {
		return func(j *batch.JobDetail) {
			j.Status, j.HostID, j.Attempts = st, host, make([]batch.AttemptDetail, attempts)
		}
	}
	r.job("run1", "q", 1, "", on(batch.StatusRunning, "h1", 0))
	r.job("start1", "q", 2, "", on(batch.StatusStarting, "h1", 1))
	r.job("run2", "q", 3, "", on(batch.StatusRunning, "h2", 0))
	r.job("done1", "q", 4, "", on(batch.StatusSucceeded, "h1", 1))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{HostLostAfter: 30 * time.Second}, Deps{NATS: r.js.Conn(), Clock: clk.Now})
	}()
	t.Cleanup(func() { cancel(); <-done })

	// Loaded once the scheduler explains a job of a missing queue.
	r.job("w0", "nosuchqueue", 7, "", nil)
	r.collect(0, []string{"w0"})
	// h1's entry expires (its launcher died); 31 s pass.
	if err := r.kvs[events.BucketHosts].Delete(context.Background(), "h1"); err != nil {
		t.Fatal(err)
	}
	clk.advance(31 * time.Second)
	got := r.lost(2)
	if got["run1"] != 1 || got["start1"] != 2 || len(got) != 2 {
		t.Fatalf("lost attempts %v, want run1/1 and start1/2", got)
	}
	// A placement on h1 the monitor records only now is lost too.
	r.job("late1", "q", 5, "", on(batch.StatusStarting, "h1", 0))
	if got := r.lost(1); got["late1"] != 1 {
		t.Fatalf("lost %v, want late1/1", got)
	}
	// h1 comes back (seen once it gets a placement): a job recorded there
	// now is not lost.
	r.job("p1", "q1", 8, "", nil)
	h1.HeartbeatAt = clk.Now().UnixMilli()
	r.put(events.BucketHosts, "h1", h1)
	if placed, _ := r.collect(1, nil); placed["p1"].HostID != "h1" {
		t.Fatalf("placed %v, want p1 on h1", placed)
	}
	r.job("back1", "q", 6, "", on(batch.StatusStarting, "h1", 0))
	if got := r.lostWithin(2 * time.Second); len(got) != 0 {
		t.Fatalf("lost %v after h1 came back, want none", got)
	}
}

// lost reads JobHostLost facts until n jobs have one; it fails the test on
// one about the wrong host or time.
func (r *rig) lost(n int) map[string]int {
	r.t.Helper()
	got := map[string]int{}
	deadline := time.After(20 * time.Second)
	for len(got) < n {
		select {
		case m := <-r.facts:
			if f, ok := r.hostLost(m.Subject, m.Data); ok {
				got[f.JobID] = f.Attempt
			}
		case <-deadline:
			r.t.Fatalf("after 20 s: %d host losses %v, want %d", len(got), got, n)
		}
	}
	return got
}

// lostWithin collects the JobHostLost facts of a period.
func (r *rig) lostWithin(d time.Duration) map[string]int {
	got := map[string]int{}
	end := time.After(d)
	for {
		select {
		case m := <-r.facts:
			if f, ok := r.hostLost(m.Subject, m.Data); ok {
				got[f.JobID] = f.Attempt
			}
		case <-end:
			return got
		}
	}
}

func (r *rig) hostLost(subject string, data []byte) (events.JobHostLost, bool) {
	var f events.JobHostLost
	if !strings.HasPrefix(subject, "batch.job.") || !strings.Contains(subject, ".hostlost.") {
		return f, false
	}
	if err := json.Unmarshal(data, &f); err != nil || f.HostID != "h1" || f.Time == 0 {
		r.t.Fatalf("host loss %s %s: want host h1 and a time (%v)", subject, data, err)
	}
	return f, true
}

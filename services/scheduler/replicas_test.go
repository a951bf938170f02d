package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// replica starts a scheduler replica on its own connection. kill closes
// the connection first, as a kill -9 would: no usage saved, no lease
// released.
type replica struct {
	nc   *nats.Conn
	stop func()
}

func (r *rig) replica(id string) *replica {
	r.t.Helper()
	nc, err := nats.Connect(r.js.Conn().ConnectedUrl(), nats.MaxReconnects(-1))
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cfg := DefaultConfig()
	cfg.ReplicaID = id
	go func() { done <- Run(ctx, cfg, Deps{NATS: nc}) }()
	rep := &replica{nc: nc}
	stopped := false
	rep.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			r.t.Errorf("scheduler %s: %v", id, err)
		}
		nc.Close()
	}
	r.t.Cleanup(rep.stop)
	return rep
}

func (r *rig) holder() string {
	r.t.Helper()
	kv, err := r.js.KeyValue(context.Background(), events.BucketScheduler)
	if err != nil {
		r.t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if e, err := kv.Get(context.Background(), events.KeySchedulerLease); err == nil {
			var l events.SchedulerLease
			if json.Unmarshal(e.Value(), &l) == nil && l.Holder != "" {
				return l.Holder
			}
		}
		time.Sleep(50 * time.Millisecond) // polling the lease key, not synchronising
	}
	r.t.Fatal("no scheduler holds the lease after 20 s")
	return ""
}

func (r *rig) oneHost(vcpus float64) {
	now := time.Now().UnixMilli()
	r.put(events.BucketEnvs, "ce", batch.ComputeEnvironmentDetail{ComputeEnvironmentName: "ce", Type: "MANAGED",
		State: "ENABLED", Status: "VALID", ComputeResources: &batch.ComputeResource{Type: "EC2", MaxvCpus: 64}})
	r.heartbeat(events.Host{ID: "h1", Name: "h1", VCPUs: vcpus, MemoryMiB: 1 << 16, StartedAt: now})
	r.put(events.BucketQueues, "q", batch.JobQueueDetail{JobQueueName: "q", State: "ENABLED", Priority: 1,
		ComputeEnvironmentOrder: []batch.ComputeEnvironmentOrder{{Order: 1, ComputeEnvironment: "ce"}}})
}

// placements reads placements until n distinct jobs are placed, failing
// on a second placement of a job's attempt.
func (r *rig) placements(n int, seen map[string]events.JobPlaced) []string {
	r.t.Helper()
	var got []string
	deadline := time.After(30 * time.Second)
	for len(got) < n {
		select {
		case m := <-r.facts:
			if m.Header.Get(events.HeaderType) != events.TypeJobPlaced {
				continue
			}
			var p events.JobPlaced
			if err := json.Unmarshal(m.Data, &p); err != nil {
				r.t.Fatal(err)
			}
			if old, ok := seen[p.JobID]; ok {
				r.t.Fatalf("%s placed twice: %+v and %+v", p.JobID, old, p)
			}
			seen[p.JobID] = p
			got = append(got, p.JobID)
		case <-deadline:
			r.t.Fatalf("after 30 s placed %v, want %d more", got, n)
		}
	}
	return got
}

// TestSchedulerReplicas: of two replicas one decides; when it dies
// (kill -9: no release) the other takes over after the lease's TTL, and
// no placement is made twice or beyond the host's capacity.
func TestSchedulerReplicas(t *testing.T) {
	r := newRig(t)
	r.oneHost(4)
	for i := range 8 {
		r.job(fmt.Sprintf("j%d", i), "q", uint64(i+1), "", nil)
	}
	reps := map[string]*replica{"a": r.replica("a"), "b": r.replica("b")}
	seen := map[string]events.JobPlaced{}
	first := r.placements(4, seen)
	active := r.holder()
	standby := map[string]string{"a": "b", "b": "a"}[active]

	killed := time.Now()
	reps[active].nc.Close()
	// Two of the running jobs end: the standby must fill their slots,
	// and only theirs.
	for _, id := range first[:2] {
		r.job(id, "q", 0, "", func(j *batch.JobDetail) {
			j.Status, j.Attempts, j.HostID = batch.StatusSucceeded, []batch.AttemptDetail{{}}, "h1"
		})
	}
	for _, id := range first[2:] {
		r.job(id, "q", 0, "", func(j *batch.JobDetail) {
			j.Status, j.HostID, j.ComputeEnvironmentName = batch.StatusRunning, "h1", "ce"
		})
	}
	r.placements(2, seen)
	t.Logf("failover: the standby placed %v after the active one was killed", time.Since(killed))
	if h := r.holder(); h != standby {
		t.Errorf("lease held by %s, want %s", h, standby)
	}
	select {
	case m := <-r.facts:
		if m.Header.Get(events.HeaderType) == events.TypeJobPlaced {
			t.Errorf("a placement beyond the host's capacity: %s", m.Subject)
		}
	default:
	}
}

// TestSchedulerTakeoverAdoptsPlacements: a placement the previous holder
// published and the monitor has not applied yet holds its host: the new
// holder neither places that job again nor fills the host with another.
func TestSchedulerTakeoverAdoptsPlacements(t *testing.T) {
	r := newRig(t)
	r.oneHost(1)
	r.job("next", "q", 1, "", nil) // first in line
	r.job("old", "q", 2, "", nil)
	ev := events.JobPlaced{JobID: "old", Attempt: 1, HostID: "h1", ComputeEnvironment: "ce", JobQueue: "q", Time: time.Now().UnixMilli()}
	if _, err := bus.Publish(context.Background(), r.js, ev); err != nil {
		t.Fatal(err)
	}
	<-r.facts // our own placement
	r.replica("new")
	_, reasons := r.collect(0, []string{"next"})
	if !strings.HasPrefix(reasons["next"], "Waiting for capacity") {
		t.Errorf("next waits with %q, want no room (h1 is held by the adopted placement)", reasons["next"])
	}
	select {
	case m := <-r.facts:
		if m.Header.Get(events.HeaderType) == events.TypeJobPlaced {
			t.Errorf("placed %s on a host the previous holder filled", m.Subject)
		}
	default:
	}
}

// TestSchedulerSavesUsageOnHandover: a replica that stops cleanly saves
// the fair-share usage for the next one.
func TestSchedulerSavesUsageOnHandover(t *testing.T) {
	r := newRig(t)
	r.oneHost(4)
	r.put(events.BucketPolicies, "fs", batch.SchedulingPolicyDetail{Name: "fs", Arn: batch.ARN(batch.KindSchedulingPolicy, "fs"),
		FairsharePolicy: &batch.FairsharePolicy{}})
	r.put(events.BucketQueues, "q", batch.JobQueueDetail{JobQueueName: "q", State: "ENABLED", Priority: 1,
		SchedulingPolicyArn:     batch.ARN(batch.KindSchedulingPolicy, "fs"),
		ComputeEnvironmentOrder: []batch.ComputeEnvironmentOrder{{Order: 1, ComputeEnvironment: "ce"}}})
	r.job("j1", "q", 1, "team", nil)
	a := r.replica("a")
	r.placements(1, map[string]events.JobPlaced{})
	a.stop()
	kv, err := r.js.KeyValue(context.Background(), events.BucketScheduler)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(context.Background(), events.KeyFairshareUsage)
	if err != nil {
		t.Fatalf("no fair-share usage saved on a clean stop: %v", err)
	}
	var u events.FairshareUsage
	if err := json.Unmarshal(e.Value(), &u); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range u.Shares {
		if s.Queue == "q" && s.Share == "team" {
			found = true
		}
	}
	if !found {
		t.Errorf("saved usage %+v has no share team of queue q", u)
	}
	if _, err := kv.Get(context.Background(), events.KeySchedulerLease); err != jetstream.ErrKeyNotFound && err != jetstream.ErrKeyDeleted {
		t.Errorf("lease after a clean stop: %v, want released", err)
	}
}

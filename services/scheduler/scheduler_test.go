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
	"github.com/batchd/batchd/pkg/natstest"
	"github.com/batchd/batchd/services/scheduler/internal/plan"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The scheduler service on a real embedded JetStream server: the queues,
// environments, hosts, scheduling policies, consumable resources and job
// records go into their buckets as the api, launcher and monitor write
// them, and the decisions are read back from the facts it publishes.

type rig struct {
	t     *testing.T
	js    jetstream.JetStream
	kvs   map[string]jetstream.KeyValue
	facts chan *nats.Msg
	seqs  map[string]uint64 // the submit sequence of each job (rig.submit)
}

func newRig(t *testing.T) *rig {
	t.Helper()
	s := natstest.Run(t, "")
	nc := s.Conn(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, js: js, kvs: map[string]jetstream.KeyValue{}, facts: make(chan *nats.Msg, 1000),
		seqs: map[string]uint64{}}
	for _, b := range []string{events.BucketJobs, events.BucketQueues, events.BucketEnvs, events.BucketHosts,
		events.BucketPolicies, events.BucketResources} {
		kv, err := js.KeyValue(context.Background(), b)
		if err != nil {
			t.Fatal(err)
		}
		r.kvs[b] = kv
	}
	sub, err := nc.ChanSubscribe("batch.job.>", r.facts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return r
}

func (r *rig) put(bucket, key string, v any) {
	r.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.kvs[bucket].Put(context.Background(), key, b); err != nil {
		r.t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
}

// heartbeat keeps a host alive as its launcher would, until the test ends.
func (r *rig) heartbeat(h events.Host) {
	r.t.Helper()
	beat := func() error {
		h.HeartbeatAt = time.Now().UnixMilli()
		b, _ := json.Marshal(h)
		_, err := r.kvs[events.BucketHosts].Put(context.Background(), h.ID, b)
		return err
	}
	if err := beat(); err != nil {
		r.t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				_ = beat()
			}
		}
	}()
	r.t.Cleanup(func() { close(stop); <-done })
}

func (r *rig) start() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, DefaultConfig(), Deps{NATS: r.js.Conn()}) }()
	r.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			r.t.Errorf("scheduler: %v", err)
		}
	})
}

// submit stores a job's submit as the api does, once, and returns its
// sequence.
func (r *rig) submit(id string) uint64 {
	r.t.Helper()
	if seq, ok := r.seqs[id]; ok {
		return seq
	}
	ack, err := bus.Publish(context.Background(), r.js, events.JobSubmitted{Job: batch.JobDetail{JobID: id}})
	if err != nil {
		r.t.Fatalf("submit %s: %v", id, err)
	}
	r.seqs[id] = ack.Sequence
	return ack.Sequence
}

// job writes a job record as the monitor does. A job with a sequence is
// submitted first, as the api does (the first time), and its record carries
// the submit's real sequence: seq only says that it has one (tests write
// their jobs in submit order). Sequence 0: a record without a submit.
func (r *rig) job(id, queue string, seq uint64, share string, mutate func(*batch.JobDetail)) {
	if seq != 0 {
		seq = r.submit(id)
	}
	j := batch.JobDetail{JobID: id, JobName: id, JobQueue: batch.ARN(batch.KindJobQueue, queue), JobQueueName: queue,
		Status: batch.StatusRunnable, Seq: seq, ShareIdentifier: share, Attempts: []batch.AttemptDetail{},
		Container: &batch.ContainerDetail{Image: "localhost/batch-sample:latest", Command: []string{"true"},
			ResourceRequirements: []batch.ResourceRequirement{{Type: "VCPU", Value: "1"}, {Type: "MEMORY", Value: "128"}}}}
	if mutate != nil {
		mutate(&j)
	}
	r.put(events.BucketJobs, events.Token(id), j)
}

// collect reads facts until every wanted placement and wait reason is in,
// or the deadline passes.
func (r *rig) collect(placements int, waits []string) (map[string]events.JobPlaced, map[string]string) {
	r.t.Helper()
	placed := map[string]events.JobPlaced{}
	reasons := map[string]string{}
	deadline := time.After(20 * time.Second)
	done := func() bool {
		if len(placed) < placements {
			return false
		}
		for _, id := range waits {
			if reasons[id] == "" {
				return false
			}
		}
		return true
	}
	for !done() {
		select {
		case m := <-r.facts:
			switch {
			case m.Header.Get(events.HeaderType) == events.TypeJobPlaced:
				var f events.JobPlaced
				if err := json.Unmarshal(m.Data, &f); err != nil {
					r.t.Fatal(err)
				}
				placed[f.JobID] = f
			case m.Header.Get(events.HeaderType) == events.TypeJobWaiting:
				var f events.JobWaiting
				if err := json.Unmarshal(m.Data, &f); err != nil {
					r.t.Fatal(err)
				}
				reasons[f.JobID] = f.Reason
			}
		case <-deadline:
			r.t.Fatalf("after 20 s: placed %d of %d (%v), reasons %v, want reasons for %v", len(placed), placements,
				keys(placed), reasons, waits)
		}
	}
	return placed, reasons
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestSchedulerFairShareAndResources(t *testing.T) {
	r := newRig(t)
	now := time.Now().UnixMilli()
	r.put(events.BucketEnvs, "ce", batch.ComputeEnvironmentDetail{ComputeEnvironmentName: "ce", Type: "MANAGED",
		State: "ENABLED", Status: "VALID", ComputeResources: &batch.ComputeResource{Type: "EC2", MaxvCpus: 4}})
	r.put(events.BucketEnvs, "ce2", batch.ComputeEnvironmentDetail{ComputeEnvironmentName: "ce2", Type: "MANAGED",
		State: "ENABLED", Status: "VALID", ComputeResources: &batch.ComputeResource{Type: "EC2", MaxvCpus: 8}})
	r.heartbeat(events.Host{ID: "h1", Name: "h1", VCPUs: 16, MemoryMiB: 1 << 16, StartedAt: now})
	r.put(events.BucketPolicies, "fs", batch.SchedulingPolicyDetail{Name: "fs", Arn: batch.ARN(batch.KindSchedulingPolicy, "fs"),
		FairsharePolicy: &batch.FairsharePolicy{ShareDistribution: []batch.ShareAttributes{
			{ShareIdentifier: "a", WeightFactor: 1}, {ShareIdentifier: "b*", WeightFactor: 1.0 / 3}}}})
	r.put(events.BucketResources, "lic", batch.ConsumableResourceDetail{ConsumableResourceName: "lic",
		ConsumableResourceArn: batch.ARN(batch.KindConsumableResource, "lic"), TotalQuantity: 1, ResourceType: batch.ResourceReplenishable})
	r.put(events.BucketQueues, "fair", batch.JobQueueDetail{JobQueueName: "fair", State: "ENABLED", Priority: 10,
		SchedulingPolicyArn:     batch.ARN(batch.KindSchedulingPolicy, "fs"),
		ComputeEnvironmentOrder: []batch.ComputeEnvironmentOrder{{Order: 1, ComputeEnvironment: batch.ARN(batch.KindComputeEnvironment, "ce")}}})
	r.put(events.BucketQueues, "fifo", batch.JobQueueDetail{JobQueueName: "fifo", State: "ENABLED", Priority: 1,
		ComputeEnvironmentOrder: []batch.ComputeEnvironmentOrder{{Order: 1, ComputeEnvironment: "ce2"}}})
	r.put(events.BucketQueues, "capped", batch.JobQueueDetail{JobQueueName: "capped", State: "ENABLED", Priority: 1, MaxRunningJobs: 1,
		ComputeEnvironmentOrder: []batch.ComputeEnvironmentOrder{{Order: 1, ComputeEnvironment: "ce2"}}})

	// Share a submitted first; b (weight 1/3) must still get 3 of the 4
	// slots.
	seq := uint64(0)
	for i := range 6 {
		seq++
		r.job(fmt.Sprintf("a%d", i), "fair", seq, "a", nil)
	}
	for i := range 6 {
		seq++
		r.job(fmt.Sprintf("b%d", i), "fair", seq, "bx", func(j *batch.JobDetail) { j.SchedulingPriority = new(int(i)) })
	}
	// The FIFO queue: two jobs want the one license (by ARN and by name).
	// The capped queue runs one job at a time.
	lic := func(ref string) func(*batch.JobDetail) {
		return func(j *batch.JobDetail) {
			j.ConsumableResourceProperties = &batch.ConsumableResourceProperties{
				ConsumableResourceList: []batch.ConsumableResourceRequirement{{ConsumableResource: ref, Quantity: 1}}}
		}
	}
	r.job("lic1", "fifo", 100, "", lic(batch.ARN(batch.KindConsumableResource, "lic")))
	r.job("lic2", "fifo", 101, "", lic("lic"))
	r.job("f1", "fifo", 102, "", nil)
	r.job("c1", "capped", 103, "", nil)
	r.job("c2", "capped", 104, "", nil)
	// An array of 4 children running at most 2 at once.
	for i := range 4 {
		r.job(fmt.Sprintf("arr:%d", i), "fifo", uint64(200+i), "", func(j *batch.JobDetail) {
			j.ArrayProperties = &batch.ArrayPropertiesDetail{Index: new(i), MaxRunningJobs: 2}
		})
	}
	r.start()

	placed, reasons := r.collect(9, []string{"a1", "b0", "lic2", "c2", "arr:2", "arr:3"})
	count := map[byte]int{}
	for id, p := range placed {
		if p.HostID != "h1" || p.Attempt != 1 {
			t.Errorf("%s placed %+v", id, p)
		}
		if p.JobQueue == "fair" {
			count[id[0]]++
		}
	}
	if count['a'] != 1 || count['b'] != 3 {
		t.Errorf("fair queue placed %v, want 1 of share a and 3 of share bx", keys(placed))
	}
	// Within share bx, schedulingPriority first: b5, b4, b3.
	for _, id := range []string{"b5", "b4", "b3", "a0", "lic1", "f1", "c1", "arr:0", "arr:1"} {
		if _, ok := placed[id]; !ok {
			t.Errorf("%s not placed; placed %v", id, keys(placed))
		}
	}
	for id, prefix := range map[string]string{
		"a1":    plan.WaitCapacity + ": no room for 1 vCPUs and 128 MiB of memory in compute environment ce of job queue fair.",
		"b0":    plan.WaitCapacity,
		"lic2":  plan.WaitResource + " lic:",
		"arr:3": plan.WaitLimit + ": array job arr is at its maxRunningJobs limit of 2.",
		"c2":    plan.WaitLimit + ": job queue capped is at its maxRunningJobs limit of 1.",
	} {
		if !strings.HasPrefix(reasons[id], prefix) {
			t.Errorf("%s waits with %q, want %s...", id, reasons[id], prefix)
		}
	}

	// The monitor confirms b5 and then records its end: the slot goes to
	// share bx again (3 of 4), and the license, once lic1 ends, to lic2.
	r.job("b5", "fair", 12, "bx", func(j *batch.JobDetail) {
		j.Status, j.Attempts = batch.StatusSucceeded, []batch.AttemptDetail{{}}
	})
	r.job("lic1", "fifo", 100, "", func(j *batch.JobDetail) {
		lic("lic")(j)
		j.Status, j.Attempts = batch.StatusSucceeded, []batch.AttemptDetail{{}}
	})
	placed, _ = r.collect(2, nil)
	if _, ok := placed["b2"]; !ok {
		t.Errorf("after b5 ended placed %v, want b2", keys(placed))
	}
	if _, ok := placed["lic2"]; !ok {
		t.Errorf("after lic1 ended placed %v, want lic2", keys(placed))
	}
}

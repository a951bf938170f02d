package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/pkg/natstest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"pgregory.net/rapid"
)

// replica is one monitor replica on its own connection.
type replica struct {
	name   string
	nc     *nats.Conn
	cancel context.CancelFunc
	done   chan error
}

func startReplica(t *testing.T, s *natstest.Server, name string) *replica {
	t.Helper()
	cfg := DefaultConfig()
	cfg.BlockedAfter, cfg.ReplicaID = 0, name
	ctx, cancel := context.WithCancel(context.Background())
	r := &replica{name: name, nc: s.Conn(t), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- Run(ctx, cfg, Deps{NATS: r.nc}) }()
	t.Cleanup(func() { r.cancel(); <-r.done })
	return r
}

// kill makes the replica vanish as a killed process does: its connection
// closes, it gives nothing back, its leases run out.
func (r *replica) kill() { r.nc.Close() }

// holders are the replicas holding each partition's lease now.
func holders(t *testing.T, js jetstream.JetStream) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, events.BucketMonitor)
	if err != nil {
		return nil
	}
	out := map[string]int{}
	for p := range events.JobPartitions {
		e, err := kv.Get(ctx, events.PartitionLeaseKey(p))
		if err != nil {
			continue
		}
		var l events.PartitionLease
		if json.Unmarshal(e.Value(), &l) == nil {
			out[l.Holder]++
		}
	}
	return out
}

func waitHolders(t *testing.T, js jetstream.JetStream, what string, ok func(map[string]int) bool) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(60 * time.Second)
	for {
		h := holders(t, js)
		if ok(h) {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: partitions held %v", what, h)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type jobFacts struct {
	id    string
	facts []events.Event
}

// drawJobs draws jobs whose facts' order matters (as TestPerJobOrderProperty
// does), with the records applying them one by one in order gives.
func drawJobs(seed int, n int) []jobFacts {
	return rapid.Custom(func(rt *rapid.T) []jobFacts {
		var all []jobFacts
		for i := range n {
			id := fmt.Sprintf("rep%d-j%d", seed, i)
			used := map[string]bool{}
			state := orderJob(id)
			state.Attempts, state.DependsOn = []batch.AttemptDetail{}, []batch.JobDependency{}
			var fs []events.Event
			for range rapid.IntRange(3, 12).Draw(rt, "facts") {
				f := drawFact(rt, id)
				if k := f.MsgID(); k != "" && used[k] {
					continue
				} else if k != "" {
					used[k] = true
				}
				if p, ok := f.(events.JobPlaced); ok && placedBeforeGate(state, p) {
					continue
				}
				applyFactModel(&state, f)
				fs = append(fs, f)
			}
			all = append(all, jobFacts{id, fs})
		}
		return all
	}).Example(seed)
}

// applyFactModel is applyFact without a test (the model of the record).
func applyFactModel(j *batch.JobDetail, f events.Event) {
	switch f := f.(type) {
	case events.JobGated:
		applyGate(j, f)
	case events.JobWaiting:
		applyWaiting(j, f)
	case events.JobPlaced:
		applyPlaced(j, f)
	case events.JobStarted:
		applyStarted(j, f)
	case events.JobExited:
		applyExited(j, f)
	case events.JobCancel:
		applyCancel(j, f)
	case events.JobTerminate:
		applyTerminate(j, f)
	}
}

// TestReplicasKeepPerJobOrder: two monitor replicas share the partitions;
// a second one joining takes half of them from the first, and when one is
// killed mid-stream (its deliveries unsettled) the survivor takes its
// partitions over. Every job still ends where applying its facts one by
// one, in stream order, ends it.
func TestReplicasKeepPerJobOrder(t *testing.T) {
	s := natstest.Run(t, "")
	js, err := jetstream.New(s.Conn(t))
	if err != nil {
		t.Fatal(err)
	}
	a := startReplica(t, s, "a")
	waitHolders(t, js, "replica a holds every partition", func(h map[string]int) bool { return h["a"] == events.JobPartitions })
	rig := &monRig{t: t, js: js}
	ctx := context.Background()
	if rig.jobs, err = js.KeyValue(ctx, events.BucketJobs); err != nil {
		t.Fatal(err)
	}

	jobs := drawJobs(1, 150)
	for _, j := range jobs {
		rig.submit(orderJob(j.id))
	}
	// Facts interleaved round-robin across jobs, each job's in its order.
	var stream []events.Event
	for i := 0; ; i++ {
		more := false
		for _, j := range jobs {
			if i < len(j.facts) {
				stream = append(stream, j.facts[i])
				more = true
			}
		}
		if !more {
			break
		}
	}
	third := len(stream) / 3
	for _, f := range stream[:third] {
		rig.publish(f)
	}
	// A second replica joins mid-stream: the partitions are shared.
	startReplica(t, s, "b")
	waitHolders(t, js, "replicas a and b share the partitions", func(h map[string]int) bool {
		return h["a"] == events.JobPartitions/2 && h["b"] == events.JobPartitions/2
	})
	// Replica a dies with facts in flight (published without waiting):
	// b takes its partitions over.
	for _, f := range stream[third : 2*third] {
		if _, err := bus.PublishAsync(ctx, js, f); err != nil {
			t.Fatal(err)
		}
	}
	a.kill()
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		t.Fatal("facts not stored")
	}
	for _, f := range stream[2*third:] {
		rig.publish(f)
	}
	took := waitHolders(t, js, "replica b takes a's partitions over", func(h map[string]int) bool {
		return h["b"] == events.JobPartitions
	})
	t.Logf("replica b held every partition %v after a was killed", took.Round(10*time.Millisecond))
	rig.quiesce()
	for _, j := range jobs {
		want := orderJob(j.id)
		want.Attempts, want.DependsOn = []batch.AttemptDetail{}, []batch.JobDependency{}
		for _, f := range j.facts {
			applyFactModel(&want, f)
		}
		got, err := rig.get(j.id)
		if err != nil {
			t.Fatalf("job %s: %v", j.id, err)
		}
		if d := orderDiff(got, want); d != "" {
			t.Errorf("job %s after %d facts: %s", j.id, len(j.facts), d)
		}
	}
	n, consumers, err := bus.Backlog(ctx, js, events.StreamJobs, "monitor-")
	if err != nil || n != 0 || consumers != events.JobPartitions {
		t.Fatalf("backlog %d over %d consumers (%v), want 0 over one consumer per partition", n, consumers, err)
	}
}

package scheduler

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
)

// A job gated RUNNABLE that its pass does not place carries its wait
// reason in the gate (one fact, one record write); the job that is placed
// gets a gate without one.
func TestGateCarriesWaitReason(t *testing.T) {
	r := newRig(t)
	r.put(events.BucketEnvs, "ce", batch.ComputeEnvironmentDetail{ComputeEnvironmentName: "ce", Type: "MANAGED",
		State: "ENABLED", Status: "VALID", ComputeResources: &batch.ComputeResource{Type: "EC2", MaxvCpus: 1}})
	r.heartbeat(events.Host{ID: "h1", Name: "h1", VCPUs: 16, MemoryMiB: 1 << 16, StartedAt: time.Now().UnixMilli()})
	r.put(events.BucketQueues, "q", batch.JobQueueDetail{JobQueueName: "q", State: "ENABLED", Priority: 1,
		ComputeEnvironmentOrder: []batch.ComputeEnvironmentOrder{{Order: 1, ComputeEnvironment: "ce"}}})
	submitted := func(j *batch.JobDetail) { j.Status = batch.StatusSubmitted; j.DependsOn = []batch.JobDependency{} }
	r.job("g1", "q", 1, "", submitted)
	r.job("g2", "q", 2, "", submitted)
	r.start()

	gates := map[string]events.JobGated{}
	waits := map[string]string{}
	placed := ""
	deadline := time.After(20 * time.Second)
	for len(gates) < 2 || placed == "" {
		select {
		case m := <-r.facts:
			switch m.Header.Get(events.HeaderType) {
			case events.TypeJobGated:
				var f events.JobGated
				if err := json.Unmarshal(m.Data, &f); err != nil {
					t.Fatal(err)
				}
				gates[f.JobID] = f
			case events.TypeJobWaiting:
				var f events.JobWaiting
				if err := json.Unmarshal(m.Data, &f); err != nil {
					t.Fatal(err)
				}
				waits[f.JobID] = f.Reason
			case events.TypeJobPlaced:
				var f events.JobPlaced
				if err := json.Unmarshal(m.Data, &f); err != nil {
					t.Fatal(err)
				}
				placed = f.JobID
			}
		case <-deadline:
			t.Fatalf("after 20 s: gates %v, placed %q", gates, placed)
		}
	}
	if placed != "g1" {
		t.Fatalf("placed %s, want g1 (submitted first)", placed)
	}
	if g := gates["g1"]; g.Status != batch.StatusRunnable || g.Reason != "" {
		t.Errorf("gate of the placed job: %+v, want RUNNABLE without a reason", g)
	}
	if g := gates["g2"]; g.Status != batch.StatusRunnable || g.Reason == "" {
		t.Errorf("gate of the waiting job: %+v, want RUNNABLE with its wait reason", g)
	}
	if reason, ok := waits["g2"]; ok {
		t.Errorf("the waiting job's reason was published again apart from its gate: %q", reason)
	}
}

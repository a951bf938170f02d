package scheduler

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
)

// nextPlaced is the job of the next placement published.
func (r *rig) nextPlaced() string {
	r.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case m := <-r.facts:
			if m.Header.Get(events.HeaderType) != events.TypeJobPlaced {
				continue
			}
			var f events.JobPlaced
			if err := json.Unmarshal(m.Data, &f); err != nil {
				r.t.Fatal(err)
			}
			return f.JobID
		case <-deadline:
			r.t.Fatal("no placement within 20 s")
		}
	}
}

// orderRig is a rig with two queues of one vCPU each on one host: "one"
// for the jobs, "probe" for a job whose placement shows that the scheduler
// has read the records written before it.
func orderRig(t *testing.T) *rig {
	r := newRig(t)
	for _, name := range []string{"one", "probe"} {
		r.put(events.BucketEnvs, name, batch.ComputeEnvironmentDetail{ComputeEnvironmentName: name, Type: "MANAGED",
			State: "ENABLED", Status: "VALID", ComputeResources: &batch.ComputeResource{Type: "EC2", MaxvCpus: 1}})
		r.put(events.BucketQueues, name, batch.JobQueueDetail{JobQueueName: name, State: "ENABLED", Priority: 1,
			ComputeEnvironmentOrder: []batch.ComputeEnvironmentOrder{{Order: 1, ComputeEnvironment: name}}})
	}
	r.heartbeat(events.Host{ID: "h1", Name: "h1", VCPUs: 16, MemoryMiB: 1 << 16, StartedAt: time.Now().UnixMilli()})
	return r
}

// The monitor records jobs in parallel partitions, so the record of a job
// can come before the record of one submitted earlier: the scheduler still
// places them in submit order.
func TestSchedulerKeepsSubmitOrder(t *testing.T) {
	for _, startFirst := range []bool{true, false} {
		// startFirst false: the scheduler starts while the submits wait for
		// their records (as after a restart) and hears them too.
		t.Run(map[bool]string{true: "running", false: "starting"}[startFirst], func(t *testing.T) {
			r := orderRig(t)
			if startFirst {
				r.start()
			}
			sa, sb := r.submit("a"), r.submit("b")
			r.job("b", "one", sb, "", nil)
			r.job("probe", "probe", 0, "", nil)
			if !startFirst {
				r.start()
			}
			if got := r.nextPlaced(); got != "probe" {
				t.Fatalf("placed %s before a's record, want the probe alone", got)
			}
			// a's record: a runs first (one vCPU), b waits for it.
			r.job("a", "one", sa, "", nil)
			if got := r.nextPlaced(); got != "a" {
				t.Fatalf("placed %s first, want a (submitted before b)", got)
			}
		})
	}
}

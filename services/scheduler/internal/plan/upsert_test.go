package plan

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
)

func TestUpsertStaleRunnableKeepsPlacement(t *testing.T) {
	w := newWorld(t).env("ce", 0).host("h1", 64, 1<<20).queue("q", 1, "ce")
	w.runnable("a", "q", 1, 1, 1)
	places, _ := w.place()
	if len(places) != 1 {
		t.Fatalf("placed %v", ids(places))
	}
	// The record still shows RUNNABLE (the placement is not applied yet,
	// or another fact such as a wait reason was).
	for range 3 {
		w.set("a", batch.StatusRunnable)
		if again, _ := w.place(); len(again) != 0 {
			t.Fatalf("placed twice: %v", ids(again))
		}
		if j := w.s.Jobs["a"]; j.Placed != 1 {
			t.Fatalf("placement forgotten: Placed = %d", j.Placed)
		}
	}
	w.start(places[0])
	if j := w.s.Jobs["a"]; j.Placed != 0 || j.Status != batch.StatusStarting || j.Host != "h1" {
		t.Fatalf("after STARTING: %+v", j)
	}
	if again, _ := w.place(); len(again) != 0 {
		t.Fatalf("placed again after STARTING: %v", ids(again))
	}
}

func TestCapacityHeldUntilFinal(t *testing.T) {
	for _, final := range []batch.JobStatus{batch.StatusSucceeded, batch.StatusFailed} {
		t.Run(string(final), func(t *testing.T) {
			w := newWorld(t).env("ce", 2).host("h1", 64, 1<<20).queue("q", 1, "ce")
			w.runnable("a", "q", 1, 2, 1)
			w.runnable("b", "q", 2, 2, 1)
			if got := w.startAll(); !slices.Equal(got, []string{"a"}) {
				t.Fatalf("placed %v", got)
			}
			for _, st := range []batch.JobStatus{batch.StatusStarting, batch.StatusRunning, batch.StatusRunning} {
				w.set("a", st)
				if got := w.startAll(); len(got) != 0 {
					t.Fatalf("placed %v while a is %s", got, st)
				}
			}
			w.finish("a", final)
			if got := w.startAll(); !slices.Equal(got, []string{"b"}) {
				t.Fatalf("placed %v after a %s, want b", got, final)
			}
		})
	}
}

func TestCapacityOfHostHeldAcrossEnvs(t *testing.T) {
	// One host serving two environments: a job of either holds its room.
	w := newWorld(t).env("a", 0).env("b", 0).host("h1", 4, 1<<20).queue("qa", 1, "a").queue("qb", 1, "b")
	w.runnable("a1", "qa", 1, 3, 1)
	w.runnable("b1", "qb", 2, 2, 1)
	w.runnable("b2", "qb", 3, 1, 1)
	if got := w.startAll(); !slices.Equal(got, []string{"a1", "b2"}) {
		t.Fatalf("placed %v, want a1 b2", got)
	}
}

func TestRetryPlacedAsNextAttempt(t *testing.T) {
	w := newWorld(t).env("ce", 2).host("h1", 64, 1<<20).queue("q", 1, "ce")
	w.runnable("a", "q", 1, 2, 1)
	w.runnable("b", "q", 2, 2, 1)
	places, _ := w.place()
	if len(places) != 1 || places[0].Job.ID != "a" || places[0].Attempt != 1 {
		t.Fatalf("placements %+v", places)
	}
	w.start(places[0])
	w.set("a", batch.StatusRunning)
	w.retry("a") // attempt 1 failed with attempts left
	places, _ = w.place()
	if len(places) != 1 || places[0].Job.ID != "a" || places[0].Attempt != 2 {
		t.Fatalf("after retry: placements %v, want a attempt 2", places)
	}
	// The second attempt was placed before the retry record was even
	// refreshed: a stale copy of it does not cause a third placement.
	w.set("a", batch.StatusRunnable)
	if again, _ := w.place(); len(again) != 0 {
		t.Fatalf("placed again: %v", ids(again))
	}
	w.start(places[0])
	w.retry("a")
	places, _ = w.place()
	if len(places) != 1 || places[0].Attempt != 3 {
		t.Fatalf("third attempt: %+v", places)
	}
	w.start(places[0])
	w.finish("a", batch.StatusFailed)
	if got := w.startAll(); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("placed %v, want b", got)
	}
}

func TestRetryRecordSkippingStarting(t *testing.T) {
	// The watcher may miss intermediate revisions: the planner sees the
	// record go from RUNNABLE (attempt 1 placed) straight to RUNNABLE with
	// one attempt made, and places attempt 2.
	w := newWorld(t).env("ce", 0).host("h1", 64, 1<<20).queue("q", 1, "ce")
	w.runnable("a", "q", 1, 1, 1)
	if places, _ := w.place(); len(places) != 1 || places[0].Attempt != 1 {
		t.Fatalf("placements %+v", places)
	}
	w.retry("a")
	places, _ := w.place()
	if len(places) != 1 || places[0].Attempt != 2 {
		t.Fatalf("placements %+v, want attempt 2", places)
	}
}

func TestRemove(t *testing.T) {
	w := newWorld(t).env("ce", 2).host("h1", 64, 1<<20).queue("q", 1, "ce")
	w.runnable("a", "q", 1, 2, 1)
	w.runnable("b", "q", 2, 2, 1)
	w.s.Remove("a")
	places, _ := w.place()
	if !slices.Equal(ids(places), []string{"b"}) {
		t.Fatalf("placed %v, want b", ids(places))
	}
}

func TestUnconfirmedPlacementHoldsCapacity(t *testing.T) {
	// The ordinary path: one pass gates a job RUNNABLE and places it; the
	// monitor then applies the gate, so the planner sees a record that is
	// RUNNABLE with no host before the placement's STARTING record. The
	// placement must keep holding its host and environment.
	w := newWorld(t).env("ce", 2).host("h1", 2, 1<<20).queue("q", 1, "ce")
	w.submit("a", "q", 1, 2, 1)
	w.submit("b", "q", 2, 2, 1)
	w.s.Gates()
	places, _ := w.place()
	if !slices.Equal(ids(places), []string{"a"}) {
		t.Fatalf("placed %v, want a", ids(places))
	}
	w.set("a", batch.StatusRunnable) // the gates reach the records
	w.set("b", batch.StatusRunnable)
	if j := w.s.Jobs["a"]; j.Placed != 1 || j.Host != "h1" || j.Env != "ce" {
		t.Fatalf("a after its gate record: %+v", j)
	}
	if again, _ := w.place(); len(again) != 0 {
		t.Fatalf("over capacity: placed %v while a holds the 2 vCPUs", ids(again))
	}
	// The same after a retry: the record keeps the old environment name
	// and has no host.
	w.start(places[0])
	w.retry("a")
	places, _ = w.place()
	if len(places) != 1 || places[0].Job.ID != "a" || places[0].Attempt != 2 {
		t.Fatalf("placements %v, want a attempt 2", places)
	}
	w.set("a", batch.StatusRunnable)
	if again, _ := w.place(); len(again) != 0 {
		t.Fatalf("over capacity after retry: placed %v", ids(again))
	}
}

func TestPlaceGPUs(t *testing.T) {
	w := newWorld(t).env("ce", 0).queue("q", 1, "ce")
	w.s.Hosts["cpu"] = &events.Host{ID: "cpu", VCPUs: 64, MemoryMiB: 1 << 20}
	w.s.Hosts["gpu"] = &events.Host{ID: "gpu", VCPUs: 8, MemoryMiB: 1 << 20, GPUs: 1}
	w.upsert(Job{ID: "g1", Queue: "q", Seq: 1, Status: batch.StatusRunnable, VCPU: 1000, GPUs: 1})
	w.upsert(Job{ID: "g2", Queue: "q", Seq: 2, Status: batch.StatusRunnable, VCPU: 1000, GPUs: 1})
	w.upsert(Job{ID: "g3", Queue: "q", Seq: 3, Status: batch.StatusRunnable, VCPU: 1000, GPUs: 2})
	w.upsert(Job{ID: "c1", Queue: "q", Seq: 4, Status: batch.StatusRunnable, VCPU: 1000})
	places, waits := w.place()
	got := map[string]string{}
	for _, p := range places {
		got[p.Job.ID] = p.Host
	}
	if fmt.Sprint(got) != fmt.Sprint(map[string]string{"g1": "gpu", "c1": "cpu"}) {
		t.Errorf("placed %v, want g1 on gpu and c1 on cpu", got)
	}
	if r := waitsOf(waits); len(r) != 2 || !strings.HasPrefix(r["g3"], ReasonJobRequirement) ||
		r["g2"] != WaitCapacity+": no room for 1 vCPUs, 0 MiB of memory and 1 GPUs in compute environment ce of job queue q." {
		t.Errorf("waits %v, want g2 waiting for capacity and g3: %s", r, ReasonJobRequirement)
	}
}

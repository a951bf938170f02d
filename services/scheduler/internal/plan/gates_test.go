package plan

import (
	"fmt"
	"slices"
	"testing"

	"github.com/batchd/batchd/pkg/batch"
)

func TestGatesDependencies(t *testing.T) {
	w := newWorld(t).env("ce", 0).host("h1", 64, 1<<20).queue("q", 1, "ce")
	w.submit("a", "q", 1, 1, 1)
	w.submit("b", "q", 2, 1, 1, "a")
	w.submit("c", "q", 3, 1, 1, "b")
	w.submit("d", "q", 4, 1, 1, "a", "unknown")

	gs := w.gates()
	want := map[string]batch.JobStatus{"a": batch.StatusRunnable, "b": batch.StatusPending, "c": batch.StatusPending, "d": batch.StatusPending}
	for id, st := range want {
		if gs[id].Status != st {
			t.Errorf("gate %s = %q, want %s", id, gs[id].Status, st)
		}
	}
	if got := w.startAll(); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("placed %v, want a", got)
	}
	w.set("a", batch.StatusRunning)
	if gs := w.gates(); len(gs) != 0 {
		t.Fatalf("gates while a runs: %v", gs)
	}
	if got := w.startAll(); len(got) != 0 {
		t.Fatalf("placed %v while a runs", got)
	}
	w.finish("a", batch.StatusSucceeded)
	gs = w.gates()
	if len(gs) != 1 || gs["b"].Status != batch.StatusRunnable {
		t.Fatalf("gates after a succeeded: %v, want b RUNNABLE (d waits for unknown)", gs)
	}
	if got := w.startAll(); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("placed %v, want b", got)
	}
	w.finish("b", batch.StatusSucceeded)
	if gs := w.gates(); len(gs) != 1 || gs["c"].Status != batch.StatusRunnable {
		t.Fatalf("gates after b succeeded: %v", gs)
	}
	// The unknown dependency's record shows up, already succeeded.
	w.upsert(Job{ID: "unknown", Queue: "q", Seq: 0, Status: batch.StatusSucceeded, Attempts: 1})
	if gs := w.gates(); len(gs) != 1 || gs["d"].Status != batch.StatusRunnable {
		t.Fatalf("gates after unknown succeeded: %v", gs)
	}
}

func TestGatesDependencyFailedCascades(t *testing.T) {
	w := newWorld(t).env("ce", 0).host("h1", 64, 1<<20).queue("q", 1, "ce")
	w.submit("a", "q", 1, 1, 1)
	w.submit("b", "q", 2, 1, 1, "a")
	w.submit("c", "q", 3, 1, 1, "b")
	w.submit("d", "q", 4, 1, 1, "c")
	w.submit("x", "q", 5, 1, 1, "a", "c") // two failed paths
	w.gates()
	w.startAll()
	w.finish("a", batch.StatusFailed)
	failed := map[string]string{}
	for pass := 0; pass < 5; pass++ {
		for id, g := range w.gates() {
			if g.Status != batch.StatusFailed {
				t.Fatalf("gate %s %s, want FAILED", id, g.Status)
			}
			if _, dup := failed[id]; dup {
				t.Fatalf("%s failed twice", id)
			}
			failed[id] = g.Reason
		}
		if places, _ := w.place(); len(places) != 0 {
			t.Fatalf("placed %v", ids(places))
		}
	}
	want := map[string]string{
		"b": "Dependent Job failed: a", "c": "Dependent Job failed: b", "d": "Dependent Job failed: c",
		"x": "Dependent Job failed: a",
	}
	if fmt.Sprint(failed) != fmt.Sprint(want) {
		t.Errorf("failed %v, want %v", failed, want)
	}
	for id := range want {
		if st := w.s.Jobs[id].Status; st != batch.StatusFailed {
			t.Errorf("%s is %s", id, st)
		}
	}
}

func TestGatesDependencyAlreadyDone(t *testing.T) {
	w := newWorld(t).env("ce", 0).host("h1", 64, 1<<20).queue("q", 1, "ce")
	w.upsert(Job{ID: "ok", Queue: "q", Seq: 1, Status: batch.StatusSucceeded, Attempts: 1})
	w.upsert(Job{ID: "bad", Queue: "q", Seq: 2, Status: batch.StatusFailed, Attempts: 1})
	w.submit("x", "q", 3, 1, 1, "ok")
	w.submit("y", "q", 4, 1, 1, "ok", "bad")
	gs := w.gates()
	if gs["x"].Status != batch.StatusRunnable || gs["y"].Status != batch.StatusFailed || gs["y"].Reason != "Dependent Job failed: bad" {
		t.Fatalf("gates %v", gs)
	}
}

func TestGatesUnconfirmed(t *testing.T) {
	// The planner remembers its gates until the record shows them: a
	// record still SUBMITTED does not undo a PENDING gate.
	w := newWorld(t).env("ce", 0).host("h1", 64, 1<<20).queue("q", 1, "ce")
	w.submit("a", "q", 1, 1, 1)
	w.submit("b", "q", 2, 1, 1, "a")
	gs := w.s.Gates() // not confirmed
	if gs[0].Job.ID != "a" || gs[1].Job.ID != "b" || gs[1].Status != batch.StatusPending {
		t.Fatalf("gates %+v %+v", gs[0], gs[1])
	}
	w.upsert(w.recs["b"]) // a stale SUBMITTED record of b
	if st := w.s.Jobs["b"].Status; st != batch.StatusPending {
		t.Fatalf("b is %s after a stale record, want PENDING", st)
	}
	if again := w.s.Gates(); len(again) != 0 {
		t.Fatalf("gated again: %v", again)
	}
	// a was gated RUNNABLE but its record still says SUBMITTED: it can
	// be placed, and a stale record does not make it SUBMITTED again.
	w.upsert(w.recs["a"])
	places, _ := w.place()
	if !slices.Equal(ids(places), []string{"a"}) {
		t.Fatalf("placed %v", ids(places))
	}
}

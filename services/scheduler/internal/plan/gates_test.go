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

func TestResolveDependencies(t *testing.T) {
	idx := func(i int) *batch.ArrayPropertiesDetail { return &batch.ArrayPropertiesDetail{Index: &i} }
	deps := []batch.JobDependency{
		{JobID: "x"},
		{JobID: "A", Type: batch.DependencyNToN},
		{Type: batch.DependencySequential},
		{JobID: "y", Condition: batch.ConditionAny},
	}
	tests := []struct {
		id       string
		array    *batch.ArrayPropertiesDetail
		all, any []string
	}{
		{"p:0", idx(0), []string{"x", "A:0"}, []string{"y"}},
		{"p:3", idx(3), []string{"x", "A:3", "p:2"}, []string{"y"}},
		{"p", &batch.ArrayPropertiesDetail{Size: 4}, nil, nil}, // the parent waits for nothing
		{"j", nil, []string{"x"}, []string{"y"}},
	}
	for _, tc := range tests {
		all, anyOf := ResolveDependencies(tc.id, tc.array, deps)
		if !slices.Equal(all, tc.all) || !slices.Equal(anyOf, tc.any) {
			t.Errorf("%s: all %v any %v, want %v %v", tc.id, all, anyOf, tc.all, tc.any)
		}
	}
	all, _ := ResolveDependencies("p:1", idx(1), []batch.JobDependency{{Type: batch.DependencySequential, Condition: batch.ConditionAny}})
	if len(all) != 0 {
		t.Errorf("SEQUENTIAL with condition ANY: all %v", all)
	}
}

// child makes an array child record as the monitor spawns it (PENDING).
func (w *world) child(parent string, i int, seq uint64, deps []batch.JobDependency) string {
	id := batch.ArrayChildID(parent, i)
	all, anyOf := ResolveDependencies(id, &batch.ArrayPropertiesDetail{Index: &i}, deps)
	w.upsert(Job{ID: id, Queue: "q", Seq: seq, Status: batch.StatusPending, VCPU: ToMilli(1), MemoryMiB: 1, DependsOn: all, DependsAny: anyOf})
	return id
}

func TestGatesSequentialArray(t *testing.T) {
	w := newWorld(t).env("ce", 0).host("h1", 64, 1<<20).queue("q", 1, "ce")
	w.upsert(Job{ID: "p", Queue: "q", Seq: 1, Status: batch.StatusPending, ArraySize: 3})
	seq := []batch.JobDependency{{Type: batch.DependencySequential}}
	for i := range 3 {
		w.child("p", i, 1, seq)
	}
	for step := range 3 {
		gs := w.gates()
		cur := batch.ArrayChildID("p", step)
		if len(gs) != 1 || gs[cur].Status != batch.StatusRunnable {
			t.Fatalf("step %d: gates %v, want only %s RUNNABLE", step, gs, cur)
		}
		if got := w.startAll(); !slices.Equal(got, []string{cur}) {
			t.Fatalf("step %d: placed %v", step, got)
		}
		w.finish(cur, batch.StatusSucceeded)
	}
	for _, g := range w.s.Gates() {
		if g.Job.ID == "p" {
			t.Fatal("the parent was gated")
		}
	}
}

func TestGatesSequentialFailureCascades(t *testing.T) {
	w := newWorld(t).env("ce", 0).host("h1", 64, 1<<20).queue("q", 1, "ce")
	seq := []batch.JobDependency{{Type: batch.DependencySequential}}
	for i := range 3 {
		w.child("p", i, 1, seq)
	}
	w.gates()
	w.startAll()
	w.finish("p:0", batch.StatusFailed)
	gs := w.gates()
	if gs["p:1"].Status != batch.StatusFailed || gs["p:1"].Reason != "Dependent Job failed: p:0" {
		t.Fatalf("gates %v", gs)
	}
	if gs := w.gates(); gs["p:2"].Status != batch.StatusFailed || gs["p:2"].Reason != "Dependent Job failed: p:1" {
		t.Fatalf("gates %v", gs)
	}
	// With condition ANY the sequence goes on past a failure.
	v := newWorld(t).env("ce", 0).host("h1", 64, 1<<20).queue("q", 1, "ce")
	anySeq := []batch.JobDependency{{Type: batch.DependencySequential, Condition: batch.ConditionAny}}
	for i := range 2 {
		v.child("s", i, 1, anySeq)
	}
	v.gates()
	v.startAll()
	v.finish("s:0", batch.StatusFailed)
	if gs := v.gates(); gs["s:1"].Status != batch.StatusRunnable {
		t.Fatalf("ANY after a failed child: %v", gs)
	}
}

func TestGatesNToN(t *testing.T) {
	w := newWorld(t).env("ce", 0).host("h1", 64, 1<<20).queue("q", 1, "ce")
	for i := range 2 {
		w.child("a", i, 1, nil)
	}
	nToN := []batch.JobDependency{{JobID: "a", Type: batch.DependencyNToN}}
	for i := range 2 {
		w.child("b", i, 2, nToN)
	}
	gs := w.gates()
	if gs["a:0"].Status != batch.StatusRunnable || gs["a:1"].Status != batch.StatusRunnable || len(gs) != 2 {
		t.Fatalf("gates %v", gs)
	}
	w.startAll()
	w.finish("a:1", batch.StatusSucceeded)
	if gs := w.gates(); len(gs) != 1 || gs["b:1"].Status != batch.StatusRunnable {
		t.Fatalf("b:1 waits only for a:1: %v", gs)
	}
	w.finish("a:0", batch.StatusFailed)
	if gs := w.gates(); gs["b:0"].Status != batch.StatusFailed || gs["b:0"].Reason != "Dependent Job failed: a:0" {
		t.Fatalf("b:0: %v", gs)
	}
}

func TestGatesOnArrayParentAndAny(t *testing.T) {
	w := newWorld(t).env("ce", 0).host("h1", 64, 1<<20).queue("q", 1, "ce")
	w.upsert(Job{ID: "p", Queue: "q", Seq: 1, Status: batch.StatusPending, ArraySize: 2})
	w.submit("after", "q", 2, 1, 1, "p")
	w.upsert(Job{ID: "cleanup", Queue: "q", Seq: 3, Status: batch.StatusSubmitted, VCPU: ToMilli(1), MemoryMiB: 1, DependsAny: []string{"p"}})
	gs := w.gates()
	if gs["after"].Status != batch.StatusPending || gs["cleanup"].Status != batch.StatusPending || len(gs) != 2 {
		t.Fatalf("gates while the array runs: %v", gs)
	}
	// The parent's status follows its children (the monitor): FAILED.
	w.set("p", batch.StatusFailed)
	gs = w.gates()
	if gs["after"].Status != batch.StatusFailed || gs["cleanup"].Status != batch.StatusRunnable {
		t.Fatalf("gates after the array failed: %v", gs)
	}
}

package plan

import (
	"slices"
	"testing"

	"github.com/batchd/batchd/pkg/batch"
)

// A gate or a placement that could not be published is taken back: the
// next pass makes the same decision again, and meanwhile the job holds
// nothing.
func TestUndoUnpublishedDecisions(t *testing.T) {
	w := newWorld(t).env("ce", 0).host("h1", 1, 1<<20).queue("q", 1, "ce")
	w.submit("a", "q", 1, 1, 1)
	gs := w.s.Gates()
	if len(gs) != 1 || gs[0].Status != batch.StatusRunnable || gs[0].From != batch.StatusSubmitted {
		t.Fatalf("gates %+v, want a SUBMITTED -> RUNNABLE", gs)
	}
	w.s.Ungate(gs[0])
	if places, _ := w.place(); len(places) != 0 {
		t.Fatalf("placed %v after its gate was taken back", ids(places))
	}
	again := w.s.Gates()
	if len(again) != 1 || again[0].Job.ID != "a" || again[0].Status != batch.StatusRunnable {
		t.Fatalf("gates after the undo: %+v, want a RUNNABLE again", again)
	}
	places, _ := w.place()
	if !slices.Equal(ids(places), []string{"a"}) {
		t.Fatalf("placed %v, want a", ids(places))
	}
	// The placement is not stored: the host is free again and the next
	// pass places a there again.
	w.s.Unplace(places[0].Job)
	places, _ = w.place()
	if !slices.Equal(ids(places), []string{"a"}) {
		t.Fatalf("placed %v after the undo, want a again", ids(places))
	}
}

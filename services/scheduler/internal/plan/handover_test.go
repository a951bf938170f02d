package plan

import (
	"slices"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/batch"
)

// TestAdoptHoldsTheHost: a placement adopted from the previous scheduler
// holds its host like one of this planner's own, and is not made again.
func TestAdoptHoldsTheHost(t *testing.T) {
	w := newWorld(t).env("ce", 0).host("h1", 1, 1<<20).host("h2", 1, 1<<20).queue("q", 1, "ce")
	w.runnable("a", "q", 1, 1, 1)
	w.runnable("b", "q", 2, 1, 1)
	w.runnable("c", "q", 3, 1, 1)
	if !w.s.Adopt("b", 1, "h1", "ce") {
		t.Fatal("adopt of a RUNNABLE job's next attempt changed nothing")
	}
	if w.s.Adopt("b", 1, "h1", "ce") {
		t.Fatal("a second adopt of the same placement changed something")
	}
	if w.s.Adopt("a", 2, "h1", "ce") {
		t.Fatal("adopted a placement of an attempt that is not the next one")
	}
	places, _ := w.place()
	if got := ids(places); !slices.Equal(got, []string{"a"}) || places[0].Host != "h2" {
		t.Fatalf("placed %v (%+v), want a on h2: b holds h1", got, places)
	}
	// The stream kept another replica's placement of a on h1 (same
	// message id): a moves there, h2 is free for c.
	w.set("b", batch.StatusSucceeded)
	if !w.s.Adopt("a", 1, "h1", "ce") || w.s.Jobs["a"].Host != "h1" {
		t.Fatal("a not moved to h1")
	}
	places, _ = w.place()
	if got := ids(places); !slices.Equal(got, []string{"c"}) || places[0].Host != "h2" {
		t.Fatalf("placed %v (%+v), want c on h2", got, places)
	}
}

// TestUsageRoundTrip: saved usage restored in another planner gives the
// same order of shares.
func TestUsageRoundTrip(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := NewState()
	s.Clock = func() time.Time { return now }
	s.usage["q"] = map[string]*shareUse{"a": {avg: 1500, held: 1000, at: now}, "b": {avg: 10, at: now}}
	saved := s.Usage()
	t2 := NewState()
	t2.RestoreUsage(saved)
	for share, u := range s.usage["q"] {
		got := t2.usage["q"][share]
		if got == nil || Milli(got.avg) != Milli(u.avg) || got.held != u.held || !got.at.Equal(u.at) {
			t.Errorf("share %s restored as %+v, want %+v", share, got, u)
		}
	}
}

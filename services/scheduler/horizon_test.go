package scheduler

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/services/scheduler/internal/plan"
)

func runnable(id string, seq uint64) plan.Job {
	return plan.Job{ID: id, Seq: seq, Status: batch.StatusRunnable}
}

func ids(js []plan.Job) []string {
	var out []string
	for _, j := range js {
		out = append(out, j.ID)
	}
	return out
}

// Records that arrive out of submit order join the plan in submit order.
func TestHorizonHoldsLaterRecords(t *testing.T) {
	now := time.Unix(1000, 0)
	h := newHorizon(time.Minute)
	h.submitted("a", 10, now)
	h.submitted("b", 11, now)
	h.submitted("c", 12, now)
	if got := h.limit(); got != 10 {
		t.Fatalf("limit %d, want 10", got)
	}
	// c's record first, then b's: both wait for a.
	for _, j := range []plan.Job{runnable("c", 12), runnable("b", 11)} {
		h.recorded(j.ID)
		if !behind(&j, h.limit()) {
			t.Fatalf("%s not behind the horizon %d", j.ID, h.limit())
		}
		h.hold(j, now)
	}
	if got := h.release(h.limit()); len(got) != 0 {
		t.Fatalf("released %v before a's record", ids(got))
	}
	h.recorded("a")
	if got := h.limit(); got != 12 {
		t.Fatalf("limit %d after every record, want the last submit heard (12)", got)
	}
	if got := ids(h.release(h.limit())); !slices.Equal(got, []string{"b", "c"}) {
		t.Fatalf("released %v, want [b c]", got)
	}
	if h.holds("b") || h.holds("c") {
		t.Fatal("released records still held")
	}
}

// A record whose own submit was not heard yet waits: submits before it
// may not be heard either.
func TestHorizonWaitsForTheFeed(t *testing.T) {
	now := time.Unix(1000, 0)
	h := newHorizon(time.Minute)
	h.heardUpTo(7)
	j := runnable("j", 9)
	h.recorded("j")
	if !behind(&j, h.limit()) {
		t.Fatal("a record beyond what was heard is not behind")
	}
	h.hold(j, now)
	h.submitted("j", 9, now) // heard after its record
	if got := ids(h.release(h.limit())); !slices.Equal(got, []string{"j"}) {
		t.Fatalf("released %v once its submit was heard, want [j]", got)
	}
}

// Only new jobs waiting to run are held: nodes, running jobs and jobs
// submitted before the horizon go on.
func TestHorizonBehind(t *testing.T) {
	cases := []struct {
		j    plan.Job
		want bool
	}{
		{runnable("r", 11), true},
		{plan.Job{ID: "s", Seq: 11, Status: batch.StatusSubmitted}, true},
		{plan.Job{ID: "p", Seq: 11, Status: batch.StatusPending}, true},
		{plan.Job{ID: "run", Seq: 11, Status: batch.StatusRunning}, false},
		{plan.Job{ID: "n#0", Seq: 11, Status: batch.StatusRunnable, Node: true}, false},
		{runnable("early", 9), false},
		{runnable("self", 10), false},
	}
	for _, c := range cases {
		if got := behind(&c.j, 10); got != c.want {
			t.Errorf("behind(%s) = %v, want %v", c.j.ID, got, c.want)
		}
	}
}

// A submit heard after its record holds nothing; a record held again
// keeps its latest version; a deleted one is forgotten.
func TestHorizonLateSubmitsAndUpdates(t *testing.T) {
	now := time.Unix(1000, 0)
	h := newHorizon(time.Minute)
	h.recorded("x")
	h.submitted("x", 5, now)
	if h.byJob["x"] != nil {
		t.Fatal("a submit heard after its record waits for it")
	}
	h.submitted("a", 10, now)
	h.heardUpTo(12) // b's and d's submits heard after their records
	h.recorded("b")
	h.hold(runnable("b", 11), now)
	j := runnable("b", 11)
	j.Attempts = 1
	h.hold(j, now)
	h.recorded("d")
	h.hold(runnable("d", 12), now)
	h.forget("d")
	h.recorded("a")
	got := h.release(h.limit())
	if len(got) != 1 || got[0].ID != "b" || got[0].Attempts != 1 {
		t.Fatalf("released %+v, want b's latest record alone", got)
	}
	// Remembered for one rotation at least, forgotten after two.
	h.rotate()
	h.submitted("x", 5, now)
	if h.byJob["x"] != nil {
		t.Fatal("x's record forgotten after one rotation")
	}
	h.rotate()
	h.rotate()
	h.submitted("x", 5, now)
	if h.byJob["x"] == nil {
		t.Fatal("x's record still remembered after two rotations")
	}
}

// A submit without a record holds the later ones for maxLag, not longer.
func TestHorizonExpires(t *testing.T) {
	start := time.Unix(1000, 0)
	h := newHorizon(time.Minute)
	h.submitted("lost", 10, start)
	h.submitted("b", 11, start.Add(30*time.Second))
	if exp := h.expire(start.Add(59 * time.Second)); len(exp) != 0 {
		t.Fatalf("expired %v before a minute", exp)
	}
	exp := h.expire(start.Add(time.Minute))
	if len(exp) != 1 || exp[0].job != "lost" {
		t.Fatalf("expired %v, want lost", exp)
	}
	if got := h.limit(); got != 11 {
		t.Fatalf("limit %d, want b's 11", got)
	}
	// A record of the expired job later changes nothing.
	h.recorded("lost")
	if got := h.limit(); got != 11 {
		t.Fatalf("limit %d, want 11", got)
	}
}

// Records held because the submits are not heard (the feed is down) go
// into the plan after maxLag, in submit order.
func TestHorizonOverdue(t *testing.T) {
	start := time.Unix(1000, 0)
	h := newHorizon(time.Minute)
	h.hold(runnable("late", 12), start.Add(10*time.Second))
	h.hold(runnable("early", 11), start)
	h.hold(runnable("early", 11), start.Add(30*time.Second)) // a newer record keeps the first hold time
	if got := h.overdue(start.Add(59 * time.Second)); len(got) != 0 {
		t.Fatalf("overdue %v before a minute", ids(got))
	}
	if got := ids(h.overdue(start.Add(70 * time.Second))); !slices.Equal(got, []string{"early", "late"}) {
		t.Fatalf("overdue %v, want [early late]", got)
	}
	if got := h.release(math.MaxUint64); len(got) != 0 {
		t.Fatalf("released %v after they went overdue", ids(got))
	}
}

package plan

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/batch"
)

// Table tests of the scheduling rules beyond plain capacity: fair share,
// concurrency limits, consumable resources, disabled queues and
// environments, and the wait reason of every RUNNABLE job.

// clock is a settable time for fair-share decay.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newClock(w *world) *clock {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	w.s.Clock = c.now
	return c
}
func (w *world) policy(p *Policy) *world { w.s.Policies[p.Name] = p; return w }
func (w *world) fairQueue(name string, prio int, policy string, envs ...string) *world {
	w.queue(name, prio, envs...)
	w.s.Queues[name].Policy = policy
	return w
}

// job upserts a RUNNABLE record with the options set by the caller.
func (w *world) job(j Job) {
	j.Status = batch.StatusRunnable
	if j.VCPU == 0 {
		j.VCPU = 1000
	}
	w.upsert(j)
}

func TestFairShareWeights(t *testing.T) {
	// 14 slots, weights 1, 0.5, 0.25: shares of 1/7, 2/7 and 4/7.
	w := newWorld(t).env("ce", 14).host("h", 64, 1<<20).fairQueue("q", 1, "p", "ce")
	newClock(w)
	w.policy(&Policy{Name: "p", Shares: []ShareRule{{ID: "a", Weight: 1}, {ID: "b", Weight: 0.5}, {ID: "c", Weight: 0.25}}})
	seq := uint64(0)
	for _, share := range []string{"a", "b", "c"} {
		for i := range 20 {
			seq++
			w.job(Job{ID: fmt.Sprintf("%s%02d", share, i), Queue: "q", Seq: seq, Share: share})
		}
	}
	count := map[string]int{}
	for _, id := range w.startAll() {
		count[id[:1]]++
	}
	if want := map[string]int{"a": 2, "b": 4, "c": 8}; fmt.Sprint(count) != fmt.Sprint(want) {
		t.Fatalf("running per share %v, want %v", count, want)
	}
}

func TestFairSharePrefixAndDefaultWeight(t *testing.T) {
	p := &Policy{Name: "p", Shares: []ShareRule{{ID: "team*", Weight: 0.5}, {ID: "teamx*", Weight: 0.1}, {ID: "solo", Weight: 2}, {ID: "zero"}}}
	for share, want := range map[string]float64{"team1": 0.5, "teamx9": 0.1, "solo": 2, "sol": 1, "other": 1, "zero": 1, "team": 0.5} {
		if got := p.weight(share); got != want {
			t.Errorf("weight(%s) = %g, want %g", share, got, want)
		}
	}
	var nilPolicy *Policy
	if nilPolicy.weight("x") != 1 || nilPolicy.decay() != DefaultDecaySeconds*time.Second {
		t.Errorf("an unknown policy has weight 1 and decay %ds", DefaultDecaySeconds)
	}
	if (&Policy{DecaySeconds: 3600}).decay() != time.Hour {
		t.Errorf("decay of 3600 s")
	}
}

func TestFairShareSchedulingPriority(t *testing.T) {
	// Within a share: schedulingPriority first, then submit order. On a
	// FIFO queue schedulingPriority means nothing.
	for _, fair := range []bool{true, false} {
		w := newWorld(t).env("ce", 2).host("h", 64, 1<<20).queue("q", 1, "ce")
		if fair {
			w.s.Queues["q"].Policy = "p"
		}
		w.job(Job{ID: "low", Queue: "q", Seq: 1, Share: "s", Priority: 1})
		w.job(Job{ID: "high", Queue: "q", Seq: 2, Share: "s", Priority: 9})
		w.job(Job{ID: "mid", Queue: "q", Seq: 3, Share: "s", Priority: 5})
		w.job(Job{ID: "high2", Queue: "q", Seq: 4, Share: "s", Priority: 9})
		got := w.startAll()
		want := []string{"low", "high"}
		if fair {
			want = []string{"high", "high2"}
		}
		if !slices.Equal(got, want) {
			t.Errorf("fair=%v: placed %v, want %v", fair, got, want)
		}
	}
}

func TestFairShareDecay(t *testing.T) {
	// Share a ran alone for a while; when b arrives, b gets the slots that
	// free up until a's past usage has decayed.
	w := newWorld(t).env("ce", 4).host("h", 64, 1<<20).fairQueue("q", 1, "p", "ce")
	clk := newClock(w)
	w.policy(&Policy{Name: "p", DecaySeconds: 100})
	seq := uint64(0)
	add := func(share string, n int) {
		for range n {
			seq++
			w.job(Job{ID: fmt.Sprintf("%s%03d", share, seq), Queue: "q", Seq: seq, Share: share})
		}
	}
	add("a", 40)
	running := w.startAll()
	if len(running) != 4 {
		t.Fatalf("placed %v", running)
	}
	clk.advance(500 * time.Second) // a's average usage is now ~4 vCPUs
	add("b", 40)
	// Two of a's jobs end: both slots go to b (a: avg 4 + 2 held; b: 0).
	for _, id := range running[:2] {
		w.finish(id, batch.StatusSucceeded)
	}
	got := w.startAll()
	if len(got) != 2 || got[0][0] != 'b' || got[1][0] != 'b' {
		t.Fatalf("placed %v, want two of b", got)
	}
	// a and b hold 2 each now, but a's decayed usage still weighs: the next
	// slot goes to b as well.
	w.finish(running[2], batch.StatusSucceeded)
	if got := w.startAll(); len(got) != 1 || got[0][0] != 'b' {
		t.Fatalf("placed %v, want b", got)
	}
	// Long after, with b ahead by held vCPUs only, a gets the next one.
	clk.advance(2000 * time.Second)
	w.finish(running[3], batch.StatusSucceeded)
	w.s.Touch()
	if got := w.startAll(); len(got) != 1 || got[0][0] != 'a' {
		t.Fatalf("placed %v, want a once its usage decayed", got)
	}
}

func TestFairShareComputeReservation(t *testing.T) {
	// computeReservation 50: one active share may use half the capacity,
	// two shares three quarters.
	w := newWorld(t).env("ce", 8).host("h", 64, 1<<20).fairQueue("q", 1, "p", "ce")
	newClock(w)
	w.policy(&Policy{Name: "p", Reservation: 50})
	for i := range 10 {
		w.job(Job{ID: fmt.Sprintf("a%02d", i), Queue: "q", Seq: uint64(i + 1), Share: "a"})
	}
	places, waits := w.place()
	if len(places) != 4 {
		t.Fatalf("one active share placed %d, want 4 of 8", len(places))
	}
	for id, r := range waitsOf(waits) {
		if !strings.HasPrefix(r, WaitFairShare) {
			t.Errorf("%s waits with %q, want %s", id, r, WaitFairShare)
		}
	}
	for _, p := range places {
		w.start(p)
	}
	for i := range 10 {
		w.job(Job{ID: fmt.Sprintf("b%02d", i), Queue: "q", Seq: uint64(20 + i), Share: "b"})
	}
	places, _ = w.place()
	if len(places) != 2 || places[0].Job.Share != "b" || places[1].Job.Share != "b" {
		t.Fatalf("two active shares placed %v, want two of b (6 of 8)", ids(places))
	}
}

func TestQueueMaxRunning(t *testing.T) {
	w := newWorld(t).env("ce", 64).host("h", 64, 1<<20).queue("q", 1, "ce").queue("other", 1, "ce")
	w.s.Queues["q"].MaxRunning = 2
	for i := range 5 {
		w.job(Job{ID: fmt.Sprintf("q%d", i), Queue: "q", Seq: uint64(i + 1)})
	}
	w.job(Job{ID: "o1", Queue: "other", Seq: 10})
	places, waits := w.place()
	if got := ids(places); !slices.Equal(got, []string{"o1", "q0", "q1"}) && !slices.Equal(got, []string{"q0", "q1", "o1"}) {
		t.Fatalf("placed %v", got)
	}
	want := WaitLimit + ": job queue q is at its maxRunningJobs limit of 2."
	for _, id := range []string{"q2", "q3", "q4"} {
		if r := waitsOf(waits)[id]; r != want {
			t.Errorf("%s waits with %q, want %q", id, r, want)
		}
	}
	// Placed but not confirmed counts; STARTING counts; a finished one
	// makes room for exactly one.
	w.start(places[0])
	if again, _ := w.place(); len(again) != 0 {
		t.Fatalf("placed %v over the limit", ids(again))
	}
	w.finish("q0", batch.StatusSucceeded)
	if got := w.startAll(); !slices.Equal(got, []string{"q2"}) {
		t.Fatalf("placed %v, want q2", got)
	}
}

func TestShareMaxRunning(t *testing.T) {
	w := newWorld(t).env("ce", 64).host("h", 64, 1<<20).fairQueue("q", 1, "p", "ce")
	newClock(w)
	w.policy(&Policy{Name: "p", Shares: []ShareRule{{ID: "u*", MaxRunning: 1}}})
	w.job(Job{ID: "u1a", Queue: "q", Seq: 1, Share: "u1"})
	w.job(Job{ID: "u1b", Queue: "q", Seq: 2, Share: "u1"})
	w.job(Job{ID: "u2a", Queue: "q", Seq: 3, Share: "u2"})
	w.job(Job{ID: "xa", Queue: "q", Seq: 4, Share: "x"})
	w.job(Job{ID: "xb", Queue: "q", Seq: 5, Share: "x"})
	places, waits := w.place()
	got := ids(places)
	slices.Sort(got)
	if !slices.Equal(got, []string{"u1a", "u2a", "xa", "xb"}) {
		t.Fatalf("placed %v; the limit is per share identifier", got)
	}
	if r := waitsOf(waits)["u1b"]; r != WaitLimit+": share identifier u1 of job queue q is at its maxRunningJobs limit of 1 (scheduling policy p)." {
		t.Errorf("u1b waits with %q", r)
	}
}

func TestArrayMaxRunning(t *testing.T) {
	w := newWorld(t).env("ce", 64).host("h", 64, 1<<20).queue("q", 1, "ce")
	for i := range 6 {
		w.job(Job{ID: fmt.Sprintf("arr:%d", i), Queue: "q", Seq: uint64(i + 1), ArrayMax: 2})
	}
	w.job(Job{ID: "other:0", Queue: "q", Seq: 10, ArrayMax: 2})
	w.job(Job{ID: "plain", Queue: "q", Seq: 11})
	places, waits := w.place()
	if got := ids(places); !slices.Equal(got, []string{"arr:0", "arr:1", "other:0", "plain"}) {
		t.Fatalf("placed %v", got)
	}
	if r := waitsOf(waits)["arr:2"]; r != WaitLimit+": array job arr is at its maxRunningJobs limit of 2." {
		t.Errorf("arr:2 waits with %q", r)
	}
	w.start(places[0])
	w.start(places[1])
	w.set("arr:0", batch.StatusRunning)
	w.finish("arr:1", batch.StatusFailed)
	if got := w.startAll(); !slices.Equal(got, []string{"arr:2"}) {
		t.Fatalf("placed %v, want arr:2", got)
	}
}

func TestConsumableResources(t *testing.T) {
	w := newWorld(t).env("ce", 64).host("h", 64, 1<<20).queue("q", 1, "ce")
	w.s.Resources["lic"] = &Resource{Name: "lic", Total: 3, Replenishable: true}
	w.s.Resources["tokens"] = &Resource{Name: "tokens", Total: 2}
	w.job(Job{ID: "a", Queue: "q", Seq: 1, Needs: []Need{{"lic", 2}}})
	w.job(Job{ID: "b", Queue: "q", Seq: 2, Needs: []Need{{"lic", 2}}})
	w.job(Job{ID: "c", Queue: "q", Seq: 3, Needs: []Need{{"lic", 1}}})
	w.job(Job{ID: "big", Queue: "q", Seq: 4, Needs: []Need{{"lic", 4}}})
	w.job(Job{ID: "ghost", Queue: "q", Seq: 5, Needs: []Need{{"nope", 1}}})
	w.job(Job{ID: "t1", Queue: "q", Seq: 6, Needs: []Need{{"tokens", 1}}})
	w.job(Job{ID: "t2", Queue: "q", Seq: 7, Needs: []Need{{"tokens", 1}}})
	w.job(Job{ID: "t3", Queue: "q", Seq: 8, Needs: []Need{{"tokens", 1}}})
	places, waits := w.place()
	if got := ids(places); !slices.Equal(got, []string{"a", "c", "t1", "t2"}) {
		t.Fatalf("placed %v, want a c t1 t2", got)
	}
	r := waitsOf(waits)
	for id, want := range map[string]string{
		"b":     WaitResource + " lic: the job needs 2 of its totalQuantity of 3, and running jobs hold too much of it.",
		"big":   WaitResource + " lic: the job needs 4, more than its totalQuantity of 3.",
		"ghost": WaitResource + " nope: it does not exist.",
		"t3":    WaitResource + " tokens: the job needs 1 of its totalQuantity of 2, and jobs have consumed too much of it.",
	} {
		if r[id] != want {
			t.Errorf("%s waits with %q, want %q", id, r[id], want)
		}
	}
	for _, p := range places {
		w.start(p)
	}
	// A REPLENISHABLE quantity comes back when the job ends; a
	// NON_REPLENISHABLE one does not.
	w.finish("a", batch.StatusSucceeded)
	w.finish("t1", batch.StatusSucceeded)
	if got := w.startAll(); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("placed %v, want b", got)
	}
	// A retried job keeps what it consumed: t2 runs again without taking
	// another token, t3 still waits.
	w.retry("t2")
	if got := w.startAll(); !slices.Equal(got, []string{"t2"}) {
		t.Fatalf("placed %v, want t2 again", got)
	}
	// Raising the total lets t3 run.
	w.s.Resources["tokens"].Total = 3
	w.s.Touch()
	if got := w.startAll(); !slices.Equal(got, []string{"t3"}) {
		t.Fatalf("placed %v, want t3", got)
	}
	// Removing a finished holder's record gives its NON_REPLENISHABLE
	// quantity back (the api counts the records it has).
	w.job(Job{ID: "t4", Queue: "q", Seq: 9, Needs: []Need{{"tokens", 1}}})
	if got := w.startAll(); len(got) != 0 {
		t.Fatalf("placed %v", got)
	}
	w.s.Remove("t1")
	if got := w.startAll(); !slices.Equal(got, []string{"t4"}) {
		t.Fatalf("placed %v, want t4", got)
	}
}

func TestDisabledQueue(t *testing.T) {
	w := newWorld(t).env("ce", 64).host("h", 64, 1<<20).queue("q", 1, "ce")
	w.job(Job{ID: "a", Queue: "q", Seq: 1})
	w.job(Job{ID: "b", Queue: "q", Seq: 2})
	w.s.Queues["q"].MaxRunning = 1
	w.startAll()
	w.set("a", batch.StatusRunning)
	w.s.Queues["q"].Enabled = false
	w.s.Queues["q"].MaxRunning = 0
	places, waits := w.place()
	if len(places) != 0 {
		t.Fatalf("placed %v from a DISABLED queue", ids(places))
	}
	if r := waitsOf(waits)["b"]; !strings.HasPrefix(r, WaitQueue+" q: the queue is DISABLED") {
		t.Errorf("b waits with %q", r)
	}
	if j := w.s.Jobs["a"]; !j.occupies() {
		t.Errorf("the running job of a DISABLED queue stopped holding capacity")
	}
	w.s.Queues["q"].Enabled = true
	w.s.Touch()
	if got := w.startAll(); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("placed %v after enabling, want b", got)
	}
}

func TestDisabledEnvKeepsRunningJobs(t *testing.T) {
	w := newWorld(t).env("a", 2).env("b", 2).host("h", 64, 1<<20).queue("q", 1, "a", "b")
	for i, id := range jobIDs("j", 4) {
		w.runnable(id, "q", uint64(i+1), 1, 1)
	}
	if got := w.startAll(); len(got) != 4 {
		t.Fatalf("placed %v", got)
	}
	w.s.Envs["a"].Enabled = false
	w.runnable("late", "q", 10, 1, 1)
	w.finish("j01", batch.StatusSucceeded) // frees a slot in the disabled env
	places, waits := w.place()
	if len(places) != 0 {
		t.Fatalf("placed %v into a DISABLED environment", ids(places))
	}
	if r := waitsOf(waits)["late"]; r != WaitCapacity+": no room for 1 vCPUs and 1 MiB of memory in compute environment b of job queue q (a is DISABLED)." {
		t.Errorf("late waits with %q", r)
	}
	// b's running jobs continue to hold b.
	w.finish("j03", batch.StatusSucceeded)
	if got := w.startAll(); !slices.Equal(got, []string{"late"}) {
		t.Fatalf("placed %v, want late on b", got)
	}
	if j := w.s.Jobs["late"]; j.Env != "b" {
		t.Errorf("late on %s, want b", j.Env)
	}
}

func TestReasonPrecedence(t *testing.T) {
	// The first reason that holds wins, in the documented order.
	w := newWorld(t).env("ce", 4).host("h", 4, 1<<20).queue("q", 1, "ce")
	w.s.Queues["q"].MaxRunning = 1
	w.s.Resources["r"] = &Resource{Name: "r", Total: 1, Replenishable: true}
	w.job(Job{ID: "run", Queue: "q", Seq: 1, VCPU: 4000, Needs: []Need{{"r", 1}}})
	w.startAll()
	w.job(Job{ID: "huge", Queue: "q", Seq: 2, VCPU: 8000, Needs: []Need{{"r", 1}}})
	w.job(Job{ID: "limited", Queue: "q", Seq: 3, Needs: []Need{{"r", 1}}})
	w.job(Job{ID: "missing", Queue: "q", Seq: 4, Needs: []Need{{"gone", 1}}})
	_, waits := w.place()
	r := waitsOf(waits)
	for id, prefix := range map[string]string{"huge": ReasonEnvMaxResource, "limited": WaitLimit, "missing": WaitResource + " gone"} {
		if !strings.HasPrefix(r[id], prefix) {
			t.Errorf("%s waits with %q, want %s...", id, r[id], prefix)
		}
	}
	// Without the queue limit, the resource is next; without the
	// resource, capacity.
	w.s.Queues["q"].MaxRunning = 0
	w.s.Touch()
	_, waits = w.place()
	if got := waitsOf(waits)["limited"]; !strings.HasPrefix(got, WaitResource+" r:") {
		t.Errorf("limited waits with %q, want the resource", got)
	}
	w.s.Resources["r"].Total = 2
	w.s.Touch()
	_, waits = w.place()
	if got := waitsOf(waits)["limited"]; !strings.HasPrefix(got, WaitCapacity) {
		t.Errorf("limited waits with %q, want capacity", got)
	}
}

func TestEveryRunnableJobHasAReason(t *testing.T) {
	w := newWorld(t).env("ce", 2).host("h", 64, 1<<20).queue("q", 1, "ce").queue("off", 1, "ce")
	w.s.Queues["off"].Enabled = false
	for i := range 50 {
		w.job(Job{ID: fmt.Sprintf("q%02d", i), Queue: "q", Seq: uint64(i + 1)})
		w.job(Job{ID: fmt.Sprintf("off%02d", i), Queue: "off", Seq: uint64(100 + i)})
	}
	w.job(Job{ID: "lost", Queue: "deleted", Seq: 500})
	places, waits := w.place()
	if len(places)+len(waits) != 101 {
		t.Fatalf("%d placed + %d waits, want 101", len(places), len(waits))
	}
	for _, j := range w.s.Jobs {
		if j.Placed == 0 && j.Reason == "" {
			t.Errorf("%s waits with no reason", j.ID)
		}
	}
	if r := waitsOf(waits)["lost"]; r != WaitQueue+" deleted: the queue does not exist." {
		t.Errorf("lost waits with %q", r)
	}
	// Reasons are said once: the record coming back with the reason, and
	// another pass, publish nothing.
	for _, wt := range waits {
		rec := w.recs[wt.Job.ID]
		rec.Reason = wt.Reason
		w.upsert(rec)
	}
	if p2, w2 := w.place(); len(p2) != 0 || len(w2) != 0 {
		t.Fatalf("second pass placed %v, waits %d", ids(p2), len(w2))
	}
}

func TestRecordReasonNotRepeated(t *testing.T) {
	// A scheduler that restarts learns the published reason from the
	// record and does not publish it again.
	w := newWorld(t).env("ce", 1).host("h", 64, 1<<20).queue("q", 1, "ce")
	w.job(Job{ID: "a", Queue: "q", Seq: 1})
	w.job(Job{ID: "b", Queue: "q", Seq: 2, Reason: WaitCapacity + ": no room for 1 vCPUs and 0 MiB of memory in compute environment ce of job queue q."})
	places, waits := w.place()
	if !slices.Equal(ids(places), []string{"a"}) || len(waits) != 0 {
		t.Fatalf("placed %v, waits %v", ids(places), waitsOf(waits))
	}
}

func TestSettled(t *testing.T) {
	w := newWorld(t).env("ce", 2).host("h", 64, 1<<20).queue("q", 1, "ce")
	for i, id := range jobIDs("j", 4) {
		w.runnable(id, "q", uint64(i+1), 1, 1)
	}
	if w.s.Settled() {
		t.Fatal("settled with new jobs")
	}
	places, _ := w.place()
	if !w.s.Settled() {
		t.Fatal("not settled after a pass")
	}
	// Confirmations of placements change nothing.
	for _, p := range places {
		w.start(p)
		w.set(p.Job.ID, batch.StatusRunning)
	}
	if !w.s.Settled() {
		t.Fatal("not settled after STARTING/RUNNING confirmations")
	}
	w.finish("j01", batch.StatusSucceeded)
	if w.s.Settled() {
		t.Fatal("settled although capacity was freed")
	}
	if got := w.startAll(); !slices.Equal(got, []string{"j03"}) {
		t.Fatalf("placed %v", got)
	}
	w.s.Touch()
	if w.s.Settled() {
		t.Fatal("settled after Touch")
	}
}

func TestUnplace(t *testing.T) {
	w := newWorld(t).env("ce", 1).host("h", 64, 1<<20).queue("q", 1, "ce")
	w.runnable("a", "q", 1, 1, 1)
	w.runnable("b", "q", 2, 1, 1)
	places, _ := w.place()
	w.s.Unplace(places[0].Job)
	places, _ = w.place()
	if !slices.Equal(ids(places), []string{"a"}) {
		t.Fatalf("after unplace placed %v, want a again", ids(places))
	}
}

func TestPrioritySharedEnvsAndFallThrough(t *testing.T) {
	// hi (priority 10) and lo (1) share env a; hi falls through to b when
	// a is full, lo has only a. hi takes a first, so lo waits, and names a.
	w := newWorld(t).env("a", 2).env("b", 2).host("h", 64, 1<<20).queue("hi", 10, "a", "b").queue("lo", 1, "a")
	w.job(Job{ID: "lo1", Queue: "lo", Seq: 1})
	w.job(Job{ID: "lo2", Queue: "lo", Seq: 2})
	for i := range 5 {
		w.job(Job{ID: fmt.Sprintf("hi%d", i), Queue: "hi", Seq: uint64(10 + i)})
	}
	places, waits := w.place()
	got := map[string]string{}
	for _, p := range places {
		got[p.Job.ID] = p.Env
	}
	if want := map[string]string{"hi0": "a", "hi1": "a", "hi2": "b", "hi3": "b"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("placed %v, want %v", got, want)
	}
	r := waitsOf(waits)
	if r["hi4"] != WaitCapacity+": no room for 1 vCPUs and 0 MiB of memory in compute environments a, b of job queue hi." ||
		r["lo1"] != WaitCapacity+": no room for 1 vCPUs and 0 MiB of memory in compute environment a of job queue lo." {
		t.Errorf("reasons %v", r)
	}
	for _, p := range places {
		w.start(p)
	}
	// A slot of a frees: hi4, not lo1 that waits longer, takes it.
	w.finish("hi0", batch.StatusSucceeded)
	if got := w.startAll(); !slices.Equal(got, []string{"hi4"}) {
		t.Fatalf("placed %v, want hi4", got)
	}
	// hi has nothing left: lo gets a's next slot.
	w.finish("hi1", batch.StatusSucceeded)
	if got := w.startAll(); !slices.Equal(got, []string{"lo1"}) {
		t.Fatalf("placed %v, want lo1", got)
	}
}

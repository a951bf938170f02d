package partition

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// simStore is a store on a simulated clock: every call takes a random time
// (the write is stored when it ends), and entries expire TTL after they
// were stored, as JetStream's per-key TTLs do.
type simStore struct {
	now     time.Time
	t       *rapid.T
	maxCall time.Duration
	rev     uint64
	leases  map[int]simEntry
	members map[string]time.Time // replica -> expiry
}

type simEntry struct {
	lease    Lease
	rev      uint64
	storedAt time.Time
	expires  time.Time
}

func (s *simStore) clock() time.Time { return s.now }

// call lets a call's time pass; fail makes it fail before it was stored.
func (s *simStore) call(label string) (fail bool) {
	s.now = s.now.Add(time.Duration(rapid.Int64Range(0, int64(s.maxCall)).Draw(s.t, label+"-latency")))
	return rapid.IntRange(0, 19).Draw(s.t, label+"-fails") == 0
}

func (s *simStore) live(p int) (simEntry, bool) {
	e, ok := s.leases[p]
	if !ok || !s.now.Before(e.expires) {
		delete(s.leases, p)
		return simEntry{}, false
	}
	return e, true
}

func (s *simStore) Acquire(_ context.Context, p int, l Lease, ttl time.Duration) (uint64, error) {
	if s.call("acquire") {
		return 0, fmt.Errorf("timeout")
	}
	if _, ok := s.live(p); ok {
		return 0, ErrHeld
	}
	s.rev++
	s.leases[p] = simEntry{lease: l, rev: s.rev, storedAt: s.now, expires: s.now.Add(ttl)}
	return s.rev, nil
}

func (s *simStore) Renew(_ context.Context, p int, l Lease, rev uint64, ttl time.Duration) (uint64, error) {
	if s.call("renew") {
		return 0, fmt.Errorf("timeout")
	}
	e, ok := s.live(p)
	if !ok || e.rev != rev {
		return 0, ErrLost
	}
	s.rev++
	s.leases[p] = simEntry{lease: l, rev: s.rev, storedAt: s.now, expires: s.now.Add(ttl)}
	// A reply lost after the write was stored.
	if rapid.IntRange(0, 19).Draw(s.t, "renew-reply-lost") == 0 {
		return 0, fmt.Errorf("timeout")
	}
	return s.rev, nil
}

func (s *simStore) Release(_ context.Context, p int, rev uint64) error {
	if s.call("release") {
		return fmt.Errorf("timeout")
	}
	if e, ok := s.live(p); ok && e.rev == rev {
		delete(s.leases, p)
	}
	return nil
}

func (s *simStore) Current(_ context.Context, p int) (Lease, uint64, error) {
	if s.call("current") {
		return Lease{}, 0, fmt.Errorf("timeout")
	}
	e, ok := s.live(p)
	if !ok {
		return Lease{}, 0, ErrLost
	}
	return e.lease, e.rev, nil
}

func (s *simStore) Heartbeat(_ context.Context, r string, ttl time.Duration) error {
	if s.call("heartbeat") {
		return fmt.Errorf("timeout")
	}
	s.members[r] = s.now.Add(ttl)
	return nil
}

func (s *simStore) Members(context.Context) ([]string, error) {
	if s.call("members") {
		return nil, fmt.Errorf("timeout")
	}
	var out []string
	for r, exp := range s.members {
		if s.now.Before(exp) {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out, nil
}

// interval is a time a replica applied a partition.
type interval struct {
	replica    string
	start, end time.Time
	open       bool
	until      func() time.Time // of an open interval: its lease's time
}

// simReplica is a replica as the monitor runs it: it starts applying a
// partition when a step acquired it, stops when the step lost it or when
// its lease's time ran out (the monitor's deadline timer), and releases a
// partition it gives back only after it stopped.
type simReplica struct {
	c       *Claims
	running map[int]*interval
}

type simWorld struct {
	s         *simStore
	replicas  []*simReplica // alive
	next      int
	intervals map[int][]*interval
}

func (w *simWorld) start() {
	w.next++
	r := &simReplica{c: NewClaims(w.s, fmt.Sprintf("r%d", w.next), 16, w.s.clock), running: map[int]*interval{}}
	w.replicas = append(w.replicas, r)
}

// expire closes the intervals whose lease time ran out (the deadline timer).
func (w *simWorld) expire(r *simReplica) {
	for p, iv := range r.running {
		if until := r.c.Until(p); !w.s.now.Before(until) || r.c.leases[p].state == free {
			iv.end, iv.open = minTime(until, w.s.now), false
			delete(r.running, p)
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

func (w *simWorld) step(r *simReplica) {
	// Deadline timers fire at their time, before the step's calls.
	w.expire(r)
	untils := map[int]time.Time{}
	for p := range r.running {
		untils[p] = r.c.Until(p)
	}
	ch := r.c.Step(context.Background())
	for _, p := range ch.Lost {
		if iv := r.running[p]; iv != nil {
			iv.end, iv.open = minTime(untils[p], w.s.now), false
			delete(r.running, p)
		}
	}
	for _, p := range ch.Acquired {
		e := w.s.leases[p]
		iv := &interval{replica: r.c.Me(), start: e.storedAt, open: true, until: func() time.Time { return r.c.Until(p) }}
		r.running[p] = iv
		w.intervals[p] = append(w.intervals[p], iv)
	}
	for _, p := range ch.Release {
		if iv := r.running[p]; iv != nil {
			iv.end, iv.open = w.s.now, false // stopped, then released
			delete(r.running, p)
		}
		r.c.Release(context.Background(), p)
	}
	w.expire(r)
}

// kill stops a replica without releasing anything: its handlers may go on
// until its leases' time runs out (a paused process), never later.
func (w *simWorld) kill(i int) {
	r := w.replicas[i]
	for p, iv := range r.running {
		iv.end, iv.open = r.c.Until(p), false
	}
	w.replicas = slices.Delete(w.replicas, i, i+1)
}

// checkExclusive: no two replicas ever applied a partition at once.
func (w *simWorld) checkExclusive(t *rapid.T) {
	for p, ivs := range w.intervals {
		for i, a := range ivs {
			for _, b := range ivs[i+1:] {
				aEnd, bEnd := a.end, b.end
				// An open interval ends when its lease's time runs out at
				// the latest (the deadline timer), unless renewed later.
				if a.open {
					aEnd = a.until()
				}
				if b.open {
					bEnd = b.until()
				}
				if a.start.Before(bEnd) && b.start.Before(aEnd) {
					t.Fatalf("partition %d applied by %s [%v, %v] and %s [%v, %v] at once", p,
						a.replica, a.start.Sub(time.Time{}), aEnd.Sub(time.Time{}), b.replica, b.start.Sub(time.Time{}), bEnd.Sub(time.Time{}))
				}
			}
		}
	}
}

func TestClaimsProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := &simStore{now: time.Time{}.Add(time.Hour), t: t, maxCall: Margin / 8,
			leases: map[int]simEntry{}, members: map[string]time.Time{}}
		w := &simWorld{s: s, intervals: map[int][]*interval{}}
		for range rapid.IntRange(1, 3).Draw(t, "replicas") {
			w.start()
		}
		steps := rapid.IntRange(1, 120).Draw(t, "steps")
		for range steps {
			switch rapid.IntRange(0, 9).Draw(t, "action") {
			case 0:
				if len(w.replicas) > 0 {
					w.kill(rapid.IntRange(0, len(w.replicas)-1).Draw(t, "kill"))
				}
			case 1:
				if len(w.replicas) < 4 {
					w.start()
				}
			case 2, 3:
				s.now = s.now.Add(time.Duration(rapid.Int64Range(0, int64(2*Renew)).Draw(t, "pause")))
			default:
				if len(w.replicas) > 0 {
					w.step(w.replicas[rapid.IntRange(0, len(w.replicas)-1).Draw(t, "who")])
				}
			}
			w.checkExclusive(t)
		}
		if len(w.replicas) == 0 {
			w.start()
		}
		// Calm: no faults, every replica steps once per Renew. Every
		// partition is then applied by exactly one live replica, and the
		// replicas share them evenly.
		s.t = nil
		calm := &calmStore{simStore: s}
		for _, r := range w.replicas {
			r.c.store = calm
		}
		for range 12 {
			s.now = s.now.Add(Renew)
			for _, r := range w.replicas {
				w.step(r)
			}
			w.checkExclusive(t)
		}
		counts := map[string]int{}
		for p := range 16 {
			holders := 0
			for _, r := range w.replicas {
				if r.running[p] != nil {
					holders++
					counts[r.c.Me()]++
				}
			}
			if holders != 1 {
				t.Fatalf("partition %d applied by %d live replicas after a calm period", p, holders)
			}
		}
		lo, hi := 16, 0
		for _, r := range w.replicas {
			lo, hi = min(lo, counts[r.c.Me()]), max(hi, counts[r.c.Me()])
		}
		if hi-lo > 1 {
			t.Fatalf("partitions not shared evenly: %v", counts)
		}
	})
}

// calmStore is the simulated store without latency or failures.
type calmStore struct{ *simStore }

func (c *calmStore) Acquire(_ context.Context, p int, l Lease, ttl time.Duration) (uint64, error) {
	s := c.simStore
	if _, ok := s.live(p); ok {
		return 0, ErrHeld
	}
	s.rev++
	s.leases[p] = simEntry{lease: l, rev: s.rev, storedAt: s.now, expires: s.now.Add(ttl)}
	return s.rev, nil
}

func (c *calmStore) Renew(_ context.Context, p int, l Lease, rev uint64, ttl time.Duration) (uint64, error) {
	s := c.simStore
	e, ok := s.live(p)
	if !ok || e.rev != rev {
		return 0, ErrLost
	}
	s.rev++
	s.leases[p] = simEntry{lease: l, rev: s.rev, storedAt: s.now, expires: s.now.Add(ttl)}
	return s.rev, nil
}

func (c *calmStore) Release(_ context.Context, p int, rev uint64) error {
	s := c.simStore
	if e, ok := s.live(p); ok && e.rev == rev {
		delete(s.leases, p)
	}
	return nil
}

func (c *calmStore) Current(_ context.Context, p int) (Lease, uint64, error) {
	e, ok := c.simStore.live(p)
	if !ok {
		return Lease{}, 0, ErrLost
	}
	return e.lease, e.rev, nil
}

func (c *calmStore) Heartbeat(_ context.Context, r string, ttl time.Duration) error {
	c.simStore.members[r] = c.simStore.now.Add(ttl)
	return nil
}

func (c *calmStore) Members(context.Context) ([]string, error) {
	s := c.simStore
	var out []string
	for r, exp := range s.members {
		if s.now.Before(exp) {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out, nil
}

func TestAssignShares(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		members := rapid.SliceOfNDistinct(rapid.StringMatching(`r[0-9]{1,3}`), 1, 8, rapid.ID[string]).Draw(t, "members")
		a := Assign(members, 16)
		b := Assign(slices.Concat(members[1:], members[:1]), 16) // any order
		if !slices.Equal(a, b) {
			t.Fatalf("assignment depends on the order of the members: %v %v", a, b)
		}
		counts := map[string]int{}
		for _, r := range a {
			if !slices.Contains(members, r) {
				t.Fatalf("partition meant for %q, not a member", r)
			}
			counts[r]++
		}
		lo, hi := 16, 0
		for _, m := range members {
			lo, hi = min(lo, counts[m]), max(hi, counts[m])
		}
		if hi-lo > 1 {
			t.Fatalf("uneven: %v", counts)
		}
	})
}

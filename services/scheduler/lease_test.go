package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/events"
	"pgregory.net/rapid"
)

// fakeLeaseStore is a lease store over an injected clock, with a network
// that delays requests and answers and loses some of either.
type fakeLeaseStore struct {
	t       *rapid.T
	now     *time.Time
	check   func() // called at every instant the clock moves to
	value   events.SchedulerLease
	rev     uint64 // 0: no key
	seq     uint64
	expires time.Time
}

var errNetwork = errors.New("network")

func (f *fakeLeaseStore) advance(label string) {
	d := time.Duration(rapid.IntRange(0, 1500).Draw(f.t, label)) * time.Millisecond
	*f.now = f.now.Add(d)
	f.check()
}

// call runs op at the store after a request delay, unless the request is
// lost, and returns its result after an answer delay, unless the answer is
// lost.
func (f *fakeLeaseStore) call(op func() (uint64, error)) (uint64, error) {
	f.advance("request delay")
	if rapid.IntRange(0, 9).Draw(f.t, "request lost") == 0 {
		return 0, errNetwork
	}
	if f.rev != 0 && !f.now.Before(f.expires) {
		f.rev = 0 // the TTL ran out
	}
	rev, err := op()
	f.advance("answer delay")
	if rapid.IntRange(0, 9).Draw(f.t, "answer lost") == 0 {
		return 0, errNetwork
	}
	return rev, err
}

func (f *fakeLeaseStore) write(v []byte, ttl time.Duration) uint64 {
	if err := json.Unmarshal(v, &f.value); err != nil {
		panic(err)
	}
	f.seq++
	f.rev, f.expires = f.seq, f.now.Add(ttl)
	return f.rev
}

func (f *fakeLeaseStore) acquire(_ context.Context, v []byte, ttl time.Duration) (uint64, error) {
	return f.call(func() (uint64, error) {
		if f.rev != 0 {
			return 0, errLeaseHeld
		}
		return f.write(v, ttl), nil
	})
}

func (f *fakeLeaseStore) renew(_ context.Context, v []byte, rev uint64, ttl time.Duration) (uint64, error) {
	return f.call(func() (uint64, error) {
		if f.rev == 0 || f.rev != rev {
			return 0, errLeaseLost
		}
		return f.write(v, ttl), nil
	})
}

func (f *fakeLeaseStore) release(_ context.Context, rev uint64) error {
	_, err := f.call(func() (uint64, error) {
		if f.rev == rev {
			f.rev = 0
			f.seq++
		}
		return 0, nil
	})
	return err
}

func (f *fakeLeaseStore) current(_ context.Context) (events.SchedulerLease, uint64, error) {
	var cur events.SchedulerLease
	rev, err := f.call(func() (uint64, error) {
		if f.rev == 0 {
			return 0, errLeaseLost
		}
		cur = f.value
		return f.rev, nil
	})
	return cur, rev, err
}

// TestLeaseNeverTwoHolders: whatever the interleaving of the replicas'
// calls, the delays and losses of the network and the clock, at no
// instant do two replicas hold the lease, and a replica that holds it
// holds the key the store keeps.
func TestLeaseNeverTwoHolders(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		now := time.Unix(1_700_000_000, 0)
		clock := func() time.Time { return now }
		store := &fakeLeaseStore{t: rt, now: &now}
		n := rapid.IntRange(2, 4).Draw(rt, "replicas")
		leases := make([]*lease, n)
		for i := range leases {
			leases[i] = newLease(store, fmt.Sprintf("replica-%d", i), clock)
		}
		store.check = func() {
			holders := 0
			for _, l := range leases {
				if l.held(now) {
					holders++
					if store.rev == 0 || !now.Before(store.expires) || store.value.Holder != l.holder {
						rt.Fatalf("%s holds the lease at %v but the store has %+v (rev %d, expires %v)",
							l.holder, now, store.value, store.rev, store.expires)
					}
				}
			}
			if holders > 1 {
				rt.Fatalf("%d replicas hold the lease at %v", holders, now)
			}
		}
		ctx := context.Background()
		for step := 0; step < 60; step++ {
			i := rapid.IntRange(0, n-1).Draw(rt, "replica")
			switch rapid.IntRange(0, 9).Draw(rt, "action") {
			case 0:
				leases[i].release(ctx)
			case 1, 2:
				store.advance("idle")
			default:
				leases[i].refresh(ctx)
			}
			store.check()
		}
	})
}

// TestLeaseTakeover: a replica that stops renewing loses the lease to a
// standby within the TTL and one retry; a clean release hands it over at
// the standby's next try.
func TestLeaseTakeover(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	store := &memLeaseStore{now: &now}
	a, b := newLease(store, "a", clock), newLease(store, "b", clock)
	if !a.refresh(context.Background()) {
		t.Fatal("a could not acquire a free lease")
	}
	if b.refresh(context.Background()) {
		t.Fatal("b acquired a held lease")
	}
	// a dies: b retries every LeaseRetry.
	start := now
	for !b.refresh(context.Background()) {
		now = now.Add(LeaseRetry)
		if now.Sub(start) > LeaseTTL+LeaseRetry {
			t.Fatalf("b had no lease %v after a stopped", now.Sub(start))
		}
	}
	if a.refresh(context.Background()) {
		t.Fatal("a renewed a lease b holds")
	}
	if b.epoch <= a.epoch && a.epoch != 0 {
		t.Fatalf("epochs do not grow: a %d, b %d", a.epoch, b.epoch)
	}
	b.release(context.Background())
	if !a.refresh(context.Background()) {
		t.Fatal("a could not take a released lease at once")
	}
}

// memLeaseStore is a lease store with no network faults.
type memLeaseStore struct {
	now     *time.Time
	value   events.SchedulerLease
	rev     uint64
	seq     uint64
	expires time.Time
}

func (m *memLeaseStore) live() bool { return m.rev != 0 && m.now.Before(m.expires) }

func (m *memLeaseStore) acquire(_ context.Context, v []byte, ttl time.Duration) (uint64, error) {
	if m.live() {
		return 0, errLeaseHeld
	}
	_ = json.Unmarshal(v, &m.value)
	m.seq++
	m.rev, m.expires = m.seq, m.now.Add(ttl)
	return m.rev, nil
}

func (m *memLeaseStore) renew(_ context.Context, v []byte, rev uint64, ttl time.Duration) (uint64, error) {
	if !m.live() || m.rev != rev {
		return 0, errLeaseLost
	}
	_ = json.Unmarshal(v, &m.value)
	m.seq++
	m.rev, m.expires = m.seq, m.now.Add(ttl)
	return m.rev, nil
}

func (m *memLeaseStore) release(_ context.Context, rev uint64) error {
	if m.rev == rev {
		m.rev = 0
	}
	return nil
}

func (m *memLeaseStore) current(_ context.Context) (events.SchedulerLease, uint64, error) {
	if !m.live() {
		return events.SchedulerLease{}, 0, errLeaseLost
	}
	return m.value, m.rev, nil
}

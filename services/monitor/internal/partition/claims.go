// Package partition decides which monitor replica applies which partition
// of the job facts (events.JobPartitions): each partition is held by at
// most one replica at a time, through a lease with a time to live, and
// the live replicas share the partitions evenly.
//
// The rules, which the property tests check on a simulated store:
//
//   - a replica applies a partition only while it holds the partition's
//     lease: from its acquisition (a create that fails when a lease is
//     there) until its last successful write was sent plus TTL minus Margin,
//     which ends before the store lets the lease expire (the store starts the
//     TTL when it stores the write, after it was sent), or until it released
//     it, which it does only after it stopped applying;
//   - the live replicas (those whose heartbeat has not expired) are sorted;
//     partition p is meant for the (p mod n)-th of them (Assign). A replica
//     claims the partitions meant for it, and also one that has been free
//     for OrphanLooks steps (replicas whose lists of members differ for a
//     moment leave none unheld); it gives back a partition meant for
//     another live replica, after it stopped applying it.
package partition

import (
	"context"
	"errors"
	"slices"
	"time"
)

// Timing of the leases.
const (
	// TTL is how long a lease (and a replica's heartbeat) lives without
	// being written again.
	TTL = 3 * time.Second
	// Renew is how often a replica steps: renews its leases and heartbeat,
	// claims and gives back partitions.
	Renew = time.Second
	// Margin is taken off a lease's life as its holder sees it: for the
	// difference between its clock's rate and the store's, and for a write
	// in flight when the lease ends.
	Margin = TTL / 6
	// CallTimeout bounds one call to the store, so that a call to a server
	// that went away cannot outlive a lease.
	CallTimeout = Renew
	// OrphanLooks is after how many steps a replica claims a free partition
	// that is meant for another replica.
	OrphanLooks = 2
)

var (
	// ErrHeld: another replica holds the lease.
	ErrHeld = errors.New("partition held by another replica")
	// ErrLost: the lease is no longer at the revision this replica wrote.
	ErrLost = errors.New("partition lease lost")
)

// Lease is the value of a partition's lease as the store keeps it.
type Lease struct {
	Holder string
	Epoch  uint64 // revision of the acquisition; 0 in the acquiring write
}

// Store keeps the leases and the heartbeats. Its calls are the only
// shared state between replicas.
type Store interface {
	// Acquire writes a lease of p held by holder if none is there (or it
	// expired); ErrHeld if one is.
	Acquire(ctx context.Context, p int, l Lease, ttl time.Duration) (rev uint64, err error)
	// Renew writes l and restarts the TTL if p's lease is still at rev;
	// ErrLost if not.
	Renew(ctx context.Context, p int, l Lease, rev uint64, ttl time.Duration) (uint64, error)
	// Release deletes p's lease if it is still at rev.
	Release(ctx context.Context, p int, rev uint64) error
	// Current reads p's lease and its revision; ErrLost if there is none.
	Current(ctx context.Context, p int) (Lease, uint64, error)
	// Heartbeat says replica is alive for ttl.
	Heartbeat(ctx context.Context, replica string, ttl time.Duration) error
	// Members lists the replicas whose heartbeat has not expired.
	Members(ctx context.Context) ([]string, error)
}

// Assign is the replica each partition is meant for: the live replicas
// sorted, partition p for the (p mod n)-th. Every replica that sees the
// same members computes the same assignment, and the partitions are shared
// evenly (counts differ by at most one).
func Assign(members []string, partitions int) []string {
	m := slices.Clone(members)
	slices.Sort(m)
	m = slices.Compact(m)
	out := make([]string, partitions)
	if len(m) == 0 {
		return out
	}
	for p := range out {
		out[p] = m[p%len(m)]
	}
	return out
}

type state int

const (
	free      state = iota
	held            // applying
	releasing       // meant for another replica: stopping, still renewed
)

type lease struct {
	state state
	rev   uint64    // revision of this replica's last write
	epoch uint64    // revision of the acquisition
	until time.Time // applying allowed until then
	looks int       // steps the partition was seen free (state free)
}

// Claims are one replica's leases.
type Claims struct {
	store  Store
	clock  func() time.Time
	me     string
	leases []lease
}

// NewClaims makes the claims of replica me over partitions partitions.
func NewClaims(store Store, me string, partitions int, clock func() time.Time) *Claims {
	return &Claims{store: store, clock: clock, me: me, leases: make([]lease, partitions)}
}

// Me is the replica's name.
func (c *Claims) Me() string { return c.me }

// Changes are what one step changed: partitions to start applying
// (acquired), to stop applying and then give back with Release (meant for
// another replica), and lost ones (stop at once: the lease ran out or
// another replica took it).
type Changes struct {
	Acquired, Release, Lost []int
}

// Step heartbeats, renews the leases held, and claims or gives back
// partitions by the assignment among the live replicas.
func (c *Claims) Step(ctx context.Context) Changes {
	var ch Changes
	call := func(fn func(context.Context) error) error {
		cctx, cancel := context.WithTimeout(ctx, CallTimeout)
		defer cancel()
		return fn(cctx)
	}
	_ = call(func(ctx context.Context) error { return c.store.Heartbeat(ctx, c.me, TTL) })
	var members []string
	if err := call(func(ctx context.Context) (err error) { members, err = c.store.Members(ctx); return err }); err != nil {
		members = nil // claim nothing new, keep what is held
	}
	alive := func(r string) bool { return slices.Contains(members, r) }
	want := Assign(append(members, c.me), len(c.leases))
	for p := range c.leases {
		l := &c.leases[p]
		switch l.state {
		case held, releasing:
			ok := false
			_ = call(func(ctx context.Context) error { ok = c.renew(ctx, p); return nil })
			if !ok {
				ch.Lost = append(ch.Lost, p)
				continue
			}
			if l.state == held && members != nil && want[p] != c.me && alive(want[p]) {
				l.state = releasing
				ch.Release = append(ch.Release, p)
			}
		case free:
			if members == nil {
				continue
			}
			if want[p] != c.me && l.looks < OrphanLooks {
				_ = call(func(ctx context.Context) error {
					if _, _, err := c.store.Current(ctx, p); errors.Is(err, ErrLost) {
						l.looks++
					} else {
						l.looks = 0
					}
					return nil
				})
				if l.looks < OrphanLooks {
					continue
				}
			}
			ok := false
			_ = call(func(ctx context.Context) error { ok = c.acquire(ctx, p); return nil })
			if ok {
				ch.Acquired = append(ch.Acquired, p)
			}
		}
	}
	return ch
}

// Holds reports whether the replica may apply p at now.
func (c *Claims) Holds(p int, now time.Time) bool {
	l := c.leases[p]
	return l.state != free && now.Before(l.until)
}

// Until is when the replica must have stopped applying p, unless a later
// step renews the lease.
func (c *Claims) Until(p int) time.Time { return c.leases[p].until }

// Epoch is the revision at which the replica acquired p (0: not held).
func (c *Claims) Epoch(p int) uint64 { return c.leases[p].epoch }

// Held lists the partitions held (applying or releasing).
func (c *Claims) Held() []int {
	var out []int
	for p, l := range c.leases {
		if l.state != free {
			out = append(out, p)
		}
	}
	return out
}

func (c *Claims) acquire(ctx context.Context, p int) bool {
	l := &c.leases[p]
	sent := c.clock()
	rev, err := c.store.Acquire(ctx, p, Lease{Holder: c.me}, TTL)
	if err != nil {
		if errors.Is(err, ErrHeld) {
			l.looks = 0
		}
		return false
	}
	*l = lease{state: held, rev: rev, epoch: rev, until: sent.Add(TTL - Margin)}
	return true
}

// renew writes the lease again; false when it is lost (and dropped).
func (c *Claims) renew(ctx context.Context, p int) bool {
	l := &c.leases[p]
	sent := c.clock()
	if !sent.Before(l.until) {
		c.drop(p) // ran out between two steps (calls failing)
		return false
	}
	v := Lease{Holder: c.me, Epoch: l.epoch}
	rev, err := c.store.Renew(ctx, p, v, l.rev, TTL)
	if errors.Is(err, ErrLost) {
		// A renewal whose answer was lost may have been stored: the lease
		// is still this replica's if it shows this holder and epoch.
		cur, crev, cerr := c.store.Current(ctx, p)
		if cerr != nil || cur.Holder != c.me || cur.Epoch != l.epoch {
			c.drop(p)
			return false
		}
		l.rev = crev
		rev, err = c.store.Renew(ctx, p, v, l.rev, TTL)
	}
	if err != nil {
		if errors.Is(err, ErrLost) {
			c.drop(p)
			return false
		}
		// Unreachable: the lease stays held until it runs out.
		if c.clock().Before(l.until) {
			return true
		}
		c.drop(p)
		return false
	}
	l.rev, l.until = rev, sent.Add(TTL-Margin)
	return true
}

// Release gives p back, once the replica stopped applying it (after Step
// returned it in Release, or to leave on a clean stop).
func (c *Claims) Release(ctx context.Context, p int) {
	l := c.leases[p]
	if l.state == free {
		return
	}
	c.drop(p)
	ctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	_ = c.store.Release(ctx, p, l.rev)
}

func (c *Claims) drop(p int) { c.leases[p] = lease{} }

package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/segmentio/encoding/json"
)

// One scheduler replica decides at a time: the one holding the lease, a
// key of the batch_scheduler bucket with a per-key TTL. The holder renews
// it every LeaseRenew; the others try to create it every LeaseRetry and
// succeed once it is gone, LeaseTTL after the holder's last renewal at the
// latest. docs/architecture.md ("Scheduler replicas") explains why no
// placement is ever decided by two.
const (
	LeaseTTL   = 3 * time.Second
	LeaseRenew = time.Second
	LeaseRetry = 500 * time.Millisecond
	// leaseMargin is taken off the lease's life as its holder sees it, for
	// the difference between its clock and the server's and for a publish
	// in flight when the lease ends.
	leaseMargin = LeaseTTL / 6
	// leaseMinLeft is the lease life a pass needs left to start.
	leaseMinLeft = LeaseTTL / 3
	// leaseCallTimeout bounds one lease call, so that a call to a server
	// that went away cannot outlive the lease.
	leaseCallTimeout = LeaseRenew
)

var (
	// errLeaseHeld: another replica holds the lease.
	errLeaseHeld = errors.New("lease held by another scheduler")
	// errLeaseLost: the lease is no longer at the revision this replica
	// wrote (it expired, or another replica took it).
	errLeaseLost = errors.New("lease lost")
)

// leaseStore keeps the lease: a value with a time to live, written with
// compare-and-set on its revision.
type leaseStore interface {
	// acquire writes v if no lease is there (or it expired); errLeaseHeld
	// if one is.
	acquire(ctx context.Context, v []byte, ttl time.Duration) (rev uint64, err error)
	// renew writes v and restarts the TTL if the lease is still at rev;
	// errLeaseLost if not.
	renew(ctx context.Context, v []byte, rev uint64, ttl time.Duration) (uint64, error)
	// release deletes the lease if it is still at rev.
	release(ctx context.Context, rev uint64) error
	// current reads the lease and its revision; errLeaseLost if there is none.
	current(ctx context.Context) (events.SchedulerLease, uint64, error)
}

// lease is one replica's view of the lease. Its clock is the replica's:
// the lease counts as held until its last successful write was sent plus
// LeaseTTL minus leaseMargin, which ends before the server lets the key
// expire (the server starts the TTL when it stores the write, after it
// was sent).
type lease struct {
	store  leaseStore
	clock  func() time.Time
	holder string
	rev    uint64    // revision of this replica's last write; 0: not held
	epoch  uint64    // revision of the acquisition
	until  time.Time // decisions are allowed until then
}

func newLease(store leaseStore, holder string, clock func() time.Time) *lease {
	return &lease{store: store, clock: clock, holder: holder}
}

// held reports whether this replica holds the lease at now.
func (l *lease) held(now time.Time) bool { return l.rev != 0 && now.Before(l.until) }

// mayDecide reports whether a pass may start at now: the lease is held
// with at least leaseMinLeft of its life left.
func (l *lease) mayDecide(now time.Time) bool { return l.rev != 0 && l.until.Sub(now) >= leaseMinLeft }

// refresh acquires the lease when this replica does not hold it, renews
// it when it does. It reports whether this replica holds it afterwards.
func (l *lease) refresh(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, leaseCallTimeout)
	defer cancel()
	sent := l.clock()
	if l.rev != 0 && !sent.Before(l.until) {
		l.drop() // ran out between two renewals (calls failing): start again
	}
	if l.rev == 0 {
		v, _ := json.Marshal(events.SchedulerLease{Holder: l.holder, Time: sent.UnixMilli()})
		rev, err := l.store.acquire(ctx, v, LeaseTTL)
		if err != nil {
			return false
		}
		l.rev, l.epoch, l.until = rev, rev, sent.Add(LeaseTTL-leaseMargin)
		return true
	}
	v, _ := json.Marshal(events.SchedulerLease{Holder: l.holder, Epoch: l.epoch, Time: sent.UnixMilli()})
	rev, err := l.store.renew(ctx, v, l.rev, LeaseTTL)
	if errors.Is(err, errLeaseLost) {
		// A renewal whose answer was lost may have been stored: the lease
		// is still this replica's if it shows this holder and epoch.
		cur, crev, cerr := l.store.current(ctx)
		if cerr != nil || cur.Holder != l.holder || cur.Epoch != l.epoch {
			l.drop()
			return false
		}
		l.rev = crev
		rev, err = l.store.renew(ctx, v, l.rev, LeaseTTL)
	}
	if err != nil {
		if errors.Is(err, errLeaseLost) {
			l.drop()
			return false
		}
		// Unreachable: the lease stays held until it runs out.
		return l.held(l.clock())
	}
	l.rev, l.until = rev, sent.Add(LeaseTTL-leaseMargin)
	return true
}

// release gives the lease up (on a clean stop) so that a standby takes
// over at once.
func (l *lease) release(ctx context.Context) {
	if l.rev == 0 {
		return
	}
	rev := l.rev
	l.drop() // no decision from now on, before the lease is free
	ctx, cancel := context.WithTimeout(ctx, leaseCallTimeout)
	defer cancel()
	_ = l.store.release(ctx, rev)
}

func (l *lease) drop() { l.rev, l.epoch, l.until = 0, 0, time.Time{} }

// kvLease keeps the lease in the batch_scheduler bucket.
type kvLease struct {
	js jetstream.JetStream
	kv jetstream.KeyValue
}

func (s kvLease) subject() string {
	return "$KV." + events.BucketScheduler + "." + events.KeySchedulerLease
}

func (s kvLease) acquire(ctx context.Context, v []byte, ttl time.Duration) (uint64, error) {
	rev, err := s.kv.Create(ctx, events.KeySchedulerLease, v, jetstream.KeyTTL(ttl))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return 0, errLeaseHeld
	}
	return rev, err
}

func (s kvLease) renew(ctx context.Context, v []byte, rev uint64, ttl time.Duration) (uint64, error) {
	// kv.Update cannot set a TTL: publish to the key's subject with the
	// same compare-and-set header kv.Update sends.
	ack, err := s.js.Publish(ctx, s.subject(), v, jetstream.WithExpectLastSequencePerSubject(rev), jetstream.WithMsgTTL(ttl))
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
			return 0, errLeaseLost
		}
		return 0, err
	}
	return ack.Sequence, nil
}

func (s kvLease) release(ctx context.Context, rev uint64) error {
	return s.kv.Delete(ctx, events.KeySchedulerLease, jetstream.LastRevision(rev))
}

func (s kvLease) current(ctx context.Context) (events.SchedulerLease, uint64, error) {
	var cur events.SchedulerLease
	e, err := s.kv.Get(ctx, events.KeySchedulerLease)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return cur, 0, errLeaseLost
	}
	if err != nil {
		return cur, 0, err
	}
	if err := json.Unmarshal(e.Value(), &cur); err != nil {
		return cur, 0, fmt.Errorf("decode lease: %w", err)
	}
	return cur, e.Revision(), nil
}

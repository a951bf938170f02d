package scheduler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/services/scheduler/internal/plan"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/segmentio/encoding/json"
)

// Handing the decisions over from one scheduler replica to the next.

const (
	// UsageSaveInterval is how often the active replica saves the
	// fair-share usage (it also saves it when it stops).
	UsageSaveInterval = 10 * time.Second
	// TakeoverLookback is how far back a replica that takes the lease
	// reads the placements on the jobs stream for ones the job records do
	// not show yet (the monitor has not applied them).
	TakeoverLookback = time.Minute
	// takeoverTimeout bounds the reading of those placements.
	takeoverTimeout = 10 * time.Second
)

// leaseView is what the lease loop tells the scheduling loop: the epoch
// held (0: none) and until when decisions are allowed.
type leaseView struct {
	epoch    uint64
	decideBy time.Time // a pass may start before then
}

// holderID names this replica in the lease: host, process and a random
// part (two replicas of one process in tests).
func holderID() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// keepLease acquires and renews the lease until ctx ends, publishing what
// it holds in view and each new epoch on acquired.
func keepLease(ctx context.Context, l *lease, view *atomic.Pointer[leaseView], acquired chan<- uint64) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		before := l.epoch
		held := l.refresh(ctx)
		v := &leaseView{}
		if held {
			v.epoch, v.decideBy = l.epoch, l.until.Add(-leaseMinLeft)
		}
		view.Store(v)
		if held && l.epoch != before {
			select {
			case acquired <- l.epoch:
			case <-ctx.Done():
				return
			}
		}
		if held {
			timer.Reset(LeaseRenew)
		} else {
			timer.Reset(LeaseRetry)
		}
	}
}

// decides reports whether this replica may make decisions now: it holds
// the lease with time left, and took over at that epoch.
func (s *scheduler) decides() bool {
	v := s.lease.Load()
	return v != nil && v.epoch != 0 && v.epoch == s.epoch && s.clock().Before(v.decideBy)
}

// leaseValid reports whether the lease this replica decides under is
// still held: a pass stops publishing placements when it is not.
func (s *scheduler) leaseValid() bool {
	v := s.lease.Load()
	return v != nil && v.epoch == s.epoch && s.clock().Before(v.decideBy.Add(leaseMinLeft))
}

// takeover prepares this replica to decide at a new epoch: it continues
// the fair-share usage the previous holder saved and counts the
// placements it published that the records do not show yet.
func (s *scheduler) takeover(ctx context.Context, epoch uint64) {
	start := s.clock()
	s.restoreUsage(ctx)
	n, err := s.adoptPlacements(ctx)
	if err != nil {
		s.log.Warn("takeover: reading recent placements", "err", err)
	}
	s.epoch = epoch
	s.lastSave = s.clock()
	s.state.Touch()
	s.log.Info("scheduler active", "epoch", epoch, "adopted_placements", n, "took", s.clock().Sub(start))
}

// saveUsage stores the fair-share usage for the next holder.
func (s *scheduler) saveUsage(ctx context.Context) {
	s.lastSave = s.clock()
	u := events.FairshareUsage{Time: s.clock().UnixMilli()}
	for _, su := range s.state.Usage() {
		u.Shares = append(u.Shares, events.ShareUsage{Queue: su.Queue, Share: su.Share, Usage: su.Usage.Float(),
			Held: su.Held.Float()})
		if t := su.At.UnixMilli(); t < u.Time {
			u.Time = t
		}
	}
	v, err := json.Marshal(u)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := s.sched.Put(ctx, events.KeyFairshareUsage, v); err != nil {
		s.log.Warn("save fair-share usage", "err", err)
	}
}

// restoreUsage continues from the saved fair-share usage, if any.
func (s *scheduler) restoreUsage(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	e, err := s.sched.Get(ctx, events.KeyFairshareUsage)
	if err != nil {
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			s.log.Warn("read fair-share usage", "err", err)
		}
		return
	}
	var u events.FairshareUsage
	if err := json.Unmarshal(e.Value(), &u); err != nil {
		s.log.Warn("bad fair-share usage", "err", err)
		return
	}
	at := time.UnixMilli(u.Time)
	us := make([]plan.ShareUsage, 0, len(u.Shares))
	for _, su := range u.Shares {
		us = append(us, plan.ShareUsage{Queue: su.Queue, Share: su.Share, Usage: plan.ToMilli(su.Usage),
			Held: plan.ToMilli(su.Held), At: at})
	}
	s.state.RestoreUsage(us)
}

// adoptPlacements reads the placements stored in the last
// TakeoverLookback and adopts those the records do not show yet.
func (s *scheduler) adoptPlacements(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, takeoverTimeout)
	defer cancel()
	since := s.clock().Add(-TakeoverLookback)
	c, err := s.jobsStream.CreateConsumer(ctx, jetstream.ConsumerConfig{
		FilterSubjects: []string{events.SubjectPlacedAll, events.SubjectGangAll}, DeliverPolicy: jetstream.DeliverByStartTimePolicy,
		OptStartTime: &since, AckPolicy: jetstream.AckNonePolicy, MemoryStorage: true, Replicas: 1,
		InactiveThreshold: time.Minute})
	if err != nil {
		return 0, fmt.Errorf("consumer: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = s.jobsStream.DeleteConsumer(dctx, c.CachedInfo().Name)
	}()
	info := c.CachedInfo()
	pending, adopted := info.NumPending, 0
	for pending > 0 {
		batch, err := c.Fetch(int(min(pending, 1000)), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return adopted, fmt.Errorf("fetch: %w", err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			if m.Headers().Get(events.HeaderType) == events.TypeJobNodesPlaced {
				if s.adoptGang(m.Data()) {
					adopted++
				}
				continue
			}
			var p events.JobPlaced
			if json.Unmarshal(m.Data(), &p) == nil && s.state.Adopt(p.JobID, p.Attempt, p.HostID, p.ComputeEnvironment) {
				adopted++
			}
			if md, err := m.Metadata(); err == nil {
				pending = md.NumPending
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return adopted, fmt.Errorf("fetch: %w", err)
		}
		if got == 0 {
			break
		}
	}
	return adopted, nil
}

// duplicate handles a placement the stream already held under the same
// message id: another replica placed the same attempt (before a
// takeover). The stored one is what the launcher and monitor act on, so
// the state follows it.
func (s *scheduler) duplicate(ctx context.Context, ack *jetstream.PubAck) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	m, err := s.jobsStream.GetMsg(ctx, ack.Sequence)
	if err != nil {
		s.log.Warn("read the stored placement", "seq", ack.Sequence, "err", err)
		return
	}
	if m.Header.Get(events.HeaderType) == events.TypeJobNodesPlaced {
		if s.adoptGang(m.Data) {
			s.log.Info("gang placement made by the previous scheduler kept", "seq", ack.Sequence)
		}
		return
	}
	var p events.JobPlaced
	if err := json.Unmarshal(m.Data, &p); err != nil {
		return
	}
	if s.state.Adopt(p.JobID, p.Attempt, p.HostID, p.ComputeEnvironment) {
		s.log.Info("placement made by the previous scheduler kept", "job_id", p.JobID, "attempt", p.Attempt, "host", p.HostID)
	}
}

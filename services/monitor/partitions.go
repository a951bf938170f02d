package monitor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/services/monitor/internal/partition"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/segmentio/encoding/json"
)

// The facts of BATCH_JOBS are split into events.JobPartitions partitions
// by job (events.Partition). Each partition is applied in stream order by
// one consume loop of the one replica that holds its lease
// (internal/partition: leases in the batch_monitor bucket, shared evenly by
// the live replicas); a replica applies its partitions in parallel.
// docs/architecture.md ("Monitor partitions") explains the handover.

// partitions runs the partitions this replica holds.
type partitions struct {
	m      *monitor
	claims *partition.Claims
	kv     jetstream.KeyValue
	h      *bus.Handlers
	runs   map[int]*partitionRun
	// stopped receives the partitions whose run ended: released ones
	// (given back to their holder-to-be) and ones that stopped on their
	// own (their lease's time ran out).
	stopped chan int
}

// partitionRun is one partition being applied.
type partitionRun struct {
	cancel    context.CancelFunc
	done      chan struct{}
	releasing bool
	mu        sync.Mutex
	until     time.Time
	timer     *time.Timer
}

// extend moves the run's deadline: it is cancelled when the lease's time
// runs out.
func (r *partitionRun) extend(until time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.until = until
	if r.timer != nil {
		r.timer.Reset(time.Until(until))
	}
}

func (r *partitionRun) expired() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !time.Now().Before(r.until)
}

// runPartitions claims, applies and gives back partitions until ctx ends,
// then stops applying and gives every partition back.
func (m *monitor) runPartitions(ctx context.Context, h *bus.Handlers) error {
	kv, err := m.js.KeyValue(ctx, events.BucketMonitor)
	if err != nil {
		return fmt.Errorf("partitions: %w", err)
	}
	ps := &partitions{m: m, kv: kv, h: h, runs: map[int]*partitionRun{}, stopped: make(chan int, 4*events.JobPartitions)}
	ps.claims = partition.NewClaims(kvPartitions{js: m.js, kv: kv}, m.replica, events.JobPartitions, time.Now)
	// The one consumer of every fact that monitors before the partitions
	// shared, should this deployment have it: refuse to go on if it had
	// not applied them all, else delete it.
	if err := m.checkPrePartitionFacts(ctx); err != nil {
		return fmt.Errorf("monitor: %w", err)
	}
	if err := m.js.DeleteConsumer(ctx, events.StreamJobs, m.cfg.Consumer); err == nil {
		m.log.Info("deleted the consumer of the monitor before partitions", "consumer", m.cfg.Consumer)
	}
	tick := time.NewTicker(partition.Renew)
	defer tick.Stop()
	for {
		ps.step(ctx)
		select {
		case <-ctx.Done():
			ps.shutdown()
			return nil
		case <-tick.C:
		case p := <-ps.stopped:
			ps.reap(ctx, p)
		}
	}
}

func (ps *partitions) step(ctx context.Context) {
	for {
		select {
		case p := <-ps.stopped:
			ps.reap(ctx, p)
			continue
		default:
		}
		break
	}
	ch := ps.claims.Step(ctx)
	for _, p := range ch.Lost {
		if r := ps.runs[p]; r != nil {
			r.cancel()
		}
	}
	for _, p := range ch.Release {
		if r := ps.runs[p]; r != nil {
			r.releasing = true
			r.cancel()
		} else {
			ps.claims.Release(ctx, p)
		}
	}
	for _, p := range ch.Acquired {
		ps.start(ctx, p)
	}
	for _, p := range ps.claims.Held() {
		if r := ps.runs[p]; r != nil && !r.releasing {
			r.extend(ps.claims.Until(p))
		}
	}
	if len(ch.Acquired)+len(ch.Release)+len(ch.Lost) > 0 {
		ps.m.log.Info("partitions changed", "acquired", ch.Acquired, "giving_back", ch.Release, "lost", ch.Lost,
			"held", len(ps.claims.Held()))
	}
}

// reap handles a run that ended: a released partition is given back now
// that nothing of it is applied any more; one that stopped while its lease
// is still held (its time ran out between a renewal's sending and its
// answer) is given back too, and claimed again by the rules.
func (ps *partitions) reap(ctx context.Context, p int) {
	r := ps.runs[p]
	if r == nil {
		return
	}
	select {
	case <-r.done:
	default:
		return
	}
	delete(ps.runs, p)
	if ps.claims.Epoch(p) != 0 {
		ps.claims.Release(ctx, p)
	}
}

// start applies partition p, once a run of it that ended is done (the
// loop does not wait for it: the other leases are renewed meanwhile).
func (ps *partitions) start(ctx context.Context, p int) {
	old := ps.runs[p]
	if old != nil {
		old.cancel()
	}
	rctx, cancel := context.WithCancel(ctx)
	r := &partitionRun{cancel: cancel, done: make(chan struct{}), until: ps.claims.Until(p)}
	r.timer = time.AfterFunc(time.Until(r.until), func() {
		if r.expired() {
			cancel()
		}
	})
	ps.runs[p] = r
	epoch := ps.claims.Epoch(p)
	go func() {
		defer func() {
			r.timer.Stop()
			close(r.done)
			ps.stopped <- p
		}()
		if old != nil {
			<-old.done
		}
		ps.apply(rctx, p, epoch)
	}()
}

// apply consumes partition p until ctx ends (the lease is lost, given
// back, or the monitor stops).
func (ps *partitions) apply(ctx context.Context, p int, epoch uint64) {
	log := ps.m.log.With("partition", p, "epoch", epoch)
	log.Debug("applying partition")
	for wait := 100 * time.Millisecond; ctx.Err() == nil; wait = min(2*wait, 2*time.Second) {
		spec, err := ps.prepare(ctx, p, epoch)
		if err == nil {
			err = bus.Consume(ctx, ps.m.js, spec, ps.h)
		}
		if ctx.Err() != nil {
			return
		}
		log.Warn("partition consumer stopped; preparing it again", "err", err, "in", wait)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}

// spec is the consumer of partition p named name.
func (ps *partitions) spec(p int, name string) bus.ConsumerSpec {
	cfg := ps.m.cfg
	return bus.ConsumerSpec{
		Stream: events.StreamJobs, Durable: name, Filters: []string{events.PartitionFilter(p)},
		Description:   fmt.Sprintf("monitor: facts of partition %d of %d", p, events.JobPartitions),
		MaxAckPending: partitionMaxAckPending, Pull: partitionPull, Workers: max(cfg.Workers, 1), Logger: ps.m.log,
		OnGiveUp: ps.m.giveUp, Bind: true,
	}
}

const (
	// partitionMaxAckPending bounds the unsettled facts of one partition.
	partitionMaxAckPending = 2000
	// partitionPull is how many facts one partition buffers.
	partitionPull = 250
)

// prepare finds the consumer partition p continues from. The current one
// (named in the partition's resume key) is used as it is when it has no
// unsettled delivery. Otherwise a replica that held the partition stopped
// with facts delivered but not settled (it died, or stopped as its lease
// ran out); JetStream would deliver them again only after their ack wait,
// after later facts of the same jobs. So a new consumer is made that starts
// at the first unacknowledged fact (the old one's ack floor), in order; the
// facts it delivers again up to what the old one delivered count as
// redelivered (the monitor's transitions are idempotent, and a redelivered
// fact is announced again). The resume key is written before the old
// consumer is deleted, so a crash in between loses no position.
func (ps *partitions) prepare(ctx context.Context, p int, epoch uint64) (bus.ConsumerSpec, error) {
	var res events.PartitionResume
	resKey := events.PartitionResumeKey(p)
	resRev, err := bus.GetJSON(ctx, ps.kv, resKey, &res)
	if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return bus.ConsumerSpec{}, fmt.Errorf("partition %d: read resume point: %w", p, err)
	}
	var info *jetstream.ConsumerInfo
	if res.Consumer != "" {
		c, err := ps.m.js.Consumer(ctx, events.StreamJobs, res.Consumer)
		switch {
		case err == nil:
			info = c.CachedInfo()
		case !errors.Is(err, jetstream.ErrConsumerNotFound):
			return bus.ConsumerSpec{}, fmt.Errorf("partition %d: consumer %s: %w", p, res.Consumer, err)
		}
	}
	if info != nil && info.NumAckPending == 0 {
		spec := ps.spec(p, res.Consumer)
		spec.RedeliveredUpTo = res.Delivered
		ps.removeOthers(ctx, p, res.Consumer)
		return spec, nil
	}
	old := res.Consumer
	next := events.PartitionResume{Consumer: events.PartitionConsumer(ps.m.cfg.Consumer, p, epoch), From: res.From, Delivered: res.Delivered}
	if info != nil {
		next.From = max(next.From, info.AckFloor.Stream+1)
		next.Delivered = max(next.Delivered, info.Delivered.Stream)
	}
	data, _ := json.Marshal(next)
	if resRev == 0 {
		_, err = ps.kv.Create(ctx, resKey, data)
	} else {
		_, err = ps.kv.Update(ctx, resKey, data, resRev)
	}
	if err != nil {
		return bus.ConsumerSpec{}, fmt.Errorf("partition %d: write resume point: %w", p, err)
	}
	if old == next.Consumer {
		// Made again in the same epoch (this replica's own consumer lost
		// its deliveries): the position is in the resume key.
		if err := ps.m.js.DeleteConsumer(ctx, events.StreamJobs, old); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return bus.ConsumerSpec{}, fmt.Errorf("partition %d: delete consumer %s: %w", p, old, err)
		}
	}
	spec := ps.spec(p, next.Consumer)
	spec.RedeliveredUpTo = next.Delivered
	cc := spec.Config()
	if next.From > 0 {
		cc.DeliverPolicy, cc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, next.From
	}
	if _, err := ps.m.js.CreateOrUpdateConsumer(ctx, events.StreamJobs, cc); err != nil {
		return bus.ConsumerSpec{}, fmt.Errorf("partition %d: make consumer %s: %w", p, next.Consumer, err)
	}
	if old != "" {
		ps.m.log.Info("partition taken over with deliveries unsettled: applying again from its first unacknowledged fact",
			"partition", p, "from", next.From, "redelivered_up_to", next.Delivered, "consumer", next.Consumer)
	}
	ps.removeOthers(ctx, p, next.Consumer)
	return spec, nil
}

// removeOthers deletes partition p's consumers other than current (the
// previous one, or one a crash left behind).
func (ps *partitions) removeOthers(ctx context.Context, p int, current string) {
	s, err := ps.m.js.Stream(ctx, events.StreamJobs)
	if err != nil {
		return
	}
	prefix := events.PartitionConsumerPrefix(ps.m.cfg.Consumer, p)
	names := s.ConsumerNames(ctx)
	var stale []string
	for name := range names.Name() {
		if strings.HasPrefix(name, prefix) && name != current {
			stale = append(stale, name)
		}
	}
	for _, name := range stale {
		if err := s.DeleteConsumer(ctx, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			ps.m.log.Warn("delete an old partition consumer", "consumer", name, "err", err)
		}
	}
}

// shutdown stops every partition and gives it back, so that the other
// replicas take them over at once rather than after the leases' TTL.
func (ps *partitions) shutdown() {
	for _, r := range ps.runs {
		r.cancel()
	}
	for _, r := range ps.runs {
		<-r.done
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*partition.CallTimeout)
	defer cancel()
	for _, p := range ps.claims.Held() {
		ps.claims.Release(ctx, p)
	}
	_ = ps.kv.Delete(ctx, events.MonitorMemberKey(ps.m.replica))
}

// kvPartitions is partition.Store on the batch_monitor bucket.
type kvPartitions struct {
	js jetstream.JetStream
	kv jetstream.KeyValue
}

func (s kvPartitions) subject(key string) string { return "$KV." + events.BucketMonitor + "." + key }

func (s kvPartitions) Acquire(ctx context.Context, p int, l partition.Lease, ttl time.Duration) (uint64, error) {
	v, _ := json.Marshal(events.PartitionLease{Holder: l.Holder, Epoch: l.Epoch, Time: time.Now().UnixMilli()})
	rev, err := s.kv.Create(ctx, events.PartitionLeaseKey(p), v, jetstream.KeyTTL(ttl))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return 0, partition.ErrHeld
	}
	return rev, err
}

func (s kvPartitions) Renew(ctx context.Context, p int, l partition.Lease, rev uint64, ttl time.Duration) (uint64, error) {
	v, _ := json.Marshal(events.PartitionLease{Holder: l.Holder, Epoch: l.Epoch, Time: time.Now().UnixMilli()})
	// kv.Update cannot set a TTL: publish to the key's subject with the
	// compare-and-set header kv.Update sends.
	ack, err := s.js.Publish(ctx, s.subject(events.PartitionLeaseKey(p)), v,
		jetstream.WithExpectLastSequencePerSubject(rev), jetstream.WithMsgTTL(ttl))
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
			return 0, partition.ErrLost
		}
		return 0, err
	}
	return ack.Sequence, nil
}

func (s kvPartitions) Release(ctx context.Context, p int, rev uint64) error {
	return s.kv.Delete(ctx, events.PartitionLeaseKey(p), jetstream.LastRevision(rev))
}

func (s kvPartitions) Current(ctx context.Context, p int) (partition.Lease, uint64, error) {
	var cur events.PartitionLease
	e, err := s.kv.Get(ctx, events.PartitionLeaseKey(p))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return partition.Lease{}, 0, partition.ErrLost
	}
	if err != nil {
		return partition.Lease{}, 0, err
	}
	if err := json.Unmarshal(e.Value(), &cur); err != nil {
		return partition.Lease{}, 0, fmt.Errorf("decode partition lease: %w", err)
	}
	return partition.Lease{Holder: cur.Holder, Epoch: cur.Epoch}, e.Revision(), nil
}

func (s kvPartitions) Heartbeat(ctx context.Context, replica string, ttl time.Duration) error {
	v, _ := json.Marshal(events.MonitorMember{Replica: replica, Time: time.Now().UnixMilli()})
	_, err := s.js.Publish(ctx, s.subject(events.MonitorMemberKey(replica)), v, jetstream.WithMsgTTL(ttl))
	return err
}

func (s kvPartitions) Members(ctx context.Context) ([]string, error) {
	l, err := s.kv.ListKeysFiltered(ctx, events.MonitorMemberFilter)
	if err != nil {
		return nil, err
	}
	var out []string
	for k := range l.Keys() {
		if r, ok := events.MonitorMemberOf(k); ok {
			out = append(out, r)
		}
	}
	return out, nil
}

package monitor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/segmentio/encoding/json"
)

// Array jobs. The api stores one submit for the whole array; the monitor
// creates the parent record, then every child record "<parent>:<index>"
// (RUNNABLE when it waits for nothing, else PENDING) with asynchronous KV
// writes in
// batches, so a 10,000-child array is expanded in one pass without a
// round trip per child. The parent's status and statusSummary follow its
// children: status changes of children are counted in memory and stored
// on the parent in one compare-and-set per parent every flush interval,
// not one per child.

const (
	// expandBatch is how many child records (and as many events) are in
	// flight at once while an array is expanded, and how many facts are
	// published before waiting for their acknowledgements in a fan-out.
	expandBatch = 1000
	// flushInterval is how often counted child changes are stored on
	// their parents.
	flushInterval = 100 * time.Millisecond
	// recountParallelism bounds the reads of one recount.
	recountParallelism = 32
)

// expandArray creates the children of an array parent and gives the parent
// its first statusSummary. Children that exist already (a redelivered
// submit) are left as they are; redelivered then counts the children
// again instead of assuming they are all PENDING.
func (m *monitor) expandArray(ctx context.Context, parent batch.JobDetail, redelivered bool) error {
	size := parent.ArrayProperties.Size
	now := m.clock().UnixMilli()
	began := time.Now()
	// A pipeline with at most expandBatch writes and expandBatch events in
	// flight: a child's event goes out once its record is stored.
	type pending struct {
		f     jetstream.PubAckFuture
		child batch.JobDetail
	}
	var creates []pending
	var announces []jetstream.PubAckFuture
	settle := func(n int) error {
		for len(creates) > n {
			p := creates[0]
			creates = creates[1:]
			select {
			case <-p.f.Ok():
				a, err := m.announceAsync(ctx, p.child)
				if err != nil {
					return err
				}
				announces = append(announces, a)
			case err := <-p.f.Err():
				var apiErr *jetstream.APIError
				if !errors.As(err, &apiErr) || apiErr.ErrorCode != jetstream.JSErrCodeStreamWrongLastSequence {
					return fmt.Errorf("create child %s: %w", p.child.JobID, err)
				}
				// created by an earlier delivery
			case <-ctx.Done():
				return ctx.Err()
			}
			if len(announces) > expandBatch {
				if err := waitAll(ctx, announces[:len(announces)-expandBatch]); err != nil {
					return fmt.Errorf("announce children of %s: %w", parent.JobID, err)
				}
				announces = announces[len(announces)-expandBatch:]
			}
		}
		return nil
	}
	for i := range size {
		child := arrayChild(parent, i, now)
		data, err := json.Marshal(child)
		if err != nil {
			return bus.Permanent(fmt.Errorf("encode child: %w", err))
		}
		msg := nats.NewMsg("$KV." + events.BucketJobs + "." + events.Token(child.JobID))
		msg.Data = data
		msg.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0") // create only
		f, err := m.js.PublishMsgAsync(msg)
		if err != nil {
			return fmt.Errorf("create child %s: %w", child.JobID, err)
		}
		creates = append(creates, pending{f, child})
		if err := settle(expandBatch); err != nil {
			return err
		}
	}
	if err := settle(0); err != nil {
		return err
	}
	if err := waitAll(ctx, announces); err != nil {
		return fmt.Errorf("announce children of %s: %w", parent.JobID, err)
	}
	m.log.Info("array job expanded", "job", parent.JobID, "children", size, "took", time.Since(began).Round(time.Millisecond))
	if redelivered {
		m.arrays.recount(parent.JobID)
		return nil
	}
	_, err := m.updateParent(ctx, parent.JobID, func(p *batch.JobDetail) bool {
		if p.Status != batch.StatusSubmitted {
			return false
		}
		sum := emptySummary()
		for i := range size {
			sum[string(childStatus(parent.DependsOn, i))]++
		}
		p.ArrayProperties.StatusSummary = sum
		p.ArrayProperties.StatusSummaryLastUpdatedAt = now
		p.Status = batch.StatusPending
		return true
	})
	return err
}

// childStatus is the status a child is created in: RUNNABLE when it waits
// for nothing (no dependencies, or only SEQUENTIAL and it is child 0), so
// a large array does not need one gate per child; PENDING otherwise, and
// the scheduler gates it.
func childStatus(deps []batch.JobDependency, index int) batch.JobStatus {
	for _, d := range deps {
		if d.Type != batch.DependencySequential || index > 0 {
			return batch.StatusPending
		}
	}
	return batch.StatusRunnable
}

// arrayChild is child index of an array parent: the parent's record with
// its own id, the index, and no summary. Its dependsOn is the parent's;
// the scheduler resolves N_TO_N and SEQUENTIAL per index.
func arrayChild(parent batch.JobDetail, index int, now int64) batch.JobDetail {
	c := parent
	c.JobID = batch.ArrayChildID(parent.JobID, index)
	c.JobArn = batch.ARN(batch.KindJob, c.JobID)
	c.Status = childStatus(parent.DependsOn, index)
	c.CreatedAt = now
	c.StatusChangedAt = now
	c.ClientToken = ""
	c.Tags = nil // child ARNs cannot be tagged
	idx := index
	c.ArrayProperties = &batch.ArrayPropertiesDetail{Index: &idx, MaxRunningJobs: parent.ArrayProperties.MaxRunningJobs}
	return c
}

// fanOut publishes a fact for every child of an array parent (cancel or
// terminate of the whole array), in batches of asynchronous publishes.
func (m *monitor) fanOut(ctx context.Context, parent batch.JobDetail, fact func(child string) events.Event) error {
	size := parent.ArrayProperties.Size
	for start := 0; start < size; start += expandBatch {
		var futures []jetstream.PubAckFuture
		for i := start; i < min(start+expandBatch, size); i++ {
			f, err := bus.PublishAsync(ctx, m.js, fact(batch.ArrayChildID(parent.JobID, i)))
			if err != nil {
				return err
			}
			futures = append(futures, f)
		}
		if err := waitAll(ctx, futures); err != nil {
			return fmt.Errorf("fan out to the children of %s: %w", parent.JobID, err)
		}
	}
	return nil
}

func waitAll(ctx context.Context, futures []jetstream.PubAckFuture) error {
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// announceAsync publishes a job's state change without waiting.
func (m *monitor) announceAsync(ctx context.Context, job batch.JobDetail) (jetstream.PubAckFuture, error) {
	msg, id, err := m.stateChange(ctx, job)
	if err != nil {
		return nil, err
	}
	f, err := m.js.PublishMsgAsync(msg)
	if err != nil {
		return nil, fmt.Errorf("announce %s: publish: %w", id, err)
	}
	return f, nil
}

func emptySummary() map[string]int {
	sum := make(map[string]int, len(batch.AllStatuses))
	for _, st := range batch.AllStatuses {
		sum[string(st)] = 0
	}
	return sum
}

// arrayStatus is the parent's status for a summary: final once every
// child is (FAILED when any failed), else PENDING (it never is RUNNABLE
// or RUNNING, as AWS's parents).
func arrayStatus(size int, sum map[string]int) batch.JobStatus {
	failed, succeeded := sum[string(batch.StatusFailed)], sum[string(batch.StatusSucceeded)]
	switch {
	case failed+succeeded < size:
		return batch.StatusPending
	case failed > 0:
		return batch.StatusFailed
	}
	return batch.StatusSucceeded
}

// applySummary stores a summary on the parent and moves its status. A
// final parent stays as it is.
func applySummary(p *batch.JobDetail, sum map[string]int, now int64) bool {
	if p.Status.Final() || p.ArrayProperties == nil {
		return false
	}
	p.ArrayProperties.StatusSummary = sum
	p.ArrayProperties.StatusSummaryLastUpdatedAt = now
	st := arrayStatus(p.ArrayProperties.Size, sum)
	p.Status = st
	switch st {
	case batch.StatusFailed:
		p.StoppedAt = now
		if !p.IsCancelled && !p.IsTerminated {
			p.StatusReason = fmt.Sprintf("Array Child Job failed: %d of %d children failed", sum[string(batch.StatusFailed)], p.ArrayProperties.Size)
		}
	case batch.StatusSucceeded:
		p.StoppedAt = now
		p.StatusReason = ""
	}
	return true
}

// updateParent is update for the parent record, which no fact of its own
// changes: compare-and-set, status time, state change event.
func (m *monitor) updateParent(ctx context.Context, id string, fn func(*batch.JobDetail) bool) (batch.JobDetail, error) {
	key := events.Token(id)
	for try := 0; try < 20; try++ {
		var p batch.JobDetail
		rev, err := bus.GetJSON(ctx, m.jobs, key, &p)
		if err != nil {
			return p, fmt.Errorf("read array %s: %w", id, err)
		}
		before := p.Status
		if !fn(&p) {
			return p, nil
		}
		if p.Status != before {
			p.StatusChangedAt = m.clock().UnixMilli()
		}
		data, err := json.Marshal(p)
		if err != nil {
			return p, fmt.Errorf("encode array %s: %w", id, err)
		}
		if _, err := m.jobs.Update(ctx, key, data, rev); err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue
			}
			return p, fmt.Errorf("write array %s: %w", id, err)
		}
		if p.Status != before {
			return p, m.announce(ctx, p)
		}
		return p, nil
	}
	return batch.JobDetail{}, fmt.Errorf("array %s: too many concurrent updates", id)
}

// arrayTally collects the status changes of array children between
// flushes. The facts that caused them are acknowledged only after the
// parent is stored, so a crash before that redelivers them, and a
// redelivered child fact makes the parent be counted again from its
// children (recount).
type arrayTally struct {
	m  *monitor
	mu sync.Mutex
	// deltas per parent per status.
	deltas map[string]map[batch.JobStatus]int
	full   map[string]bool
	acks   map[string][]*bus.Delivery
}

func newArrayTally(m *monitor) *arrayTally {
	return &arrayTally{m: m, deltas: map[string]map[batch.JobStatus]int{}, full: map[string]bool{}, acks: map[string][]*bus.Delivery{}}
}

// count records a child's move from one status to another.
func (t *arrayTally) count(parent string, from, to batch.JobStatus) {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.deltas[parent]
	if d == nil {
		d = map[batch.JobStatus]int{}
		t.deltas[parent] = d
	}
	d[from]--
	d[to]++
}

// recount asks for the parent's summary to be counted from its children.
func (t *arrayTally) recount(parent string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.full[parent] = true
}

// ackAfterFlush acknowledges d once parent's summary is next stored.
func (t *arrayTally) ackAfterFlush(parent string, d *bus.Delivery) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.acks[parent] = append(t.acks[parent], d)
}

func (t *arrayTally) run(ctx context.Context) {
	tick := time.NewTicker(flushInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			t.flush(ctx)
		}
	}
}

// flush stores what was counted since the last flush, one compare-and-set
// per parent; a parent that could not be stored keeps its counts (and its
// messages unacknowledged) for the next flush.
func (t *arrayTally) flush(ctx context.Context) {
	t.mu.Lock()
	parents := map[string]bool{}
	for p := range t.deltas {
		parents[p] = true
	}
	for p := range t.full {
		parents[p] = true
	}
	for p := range t.acks {
		parents[p] = true
	}
	deltas, full, acks := t.deltas, t.full, t.acks
	t.deltas, t.full, t.acks = map[string]map[batch.JobStatus]int{}, map[string]bool{}, map[string][]*bus.Delivery{}
	t.mu.Unlock()

	for _, p := range slices.Sorted(maps.Keys(parents)) {
		err := t.store(ctx, p, deltas[p], full[p])
		if err != nil {
			if ctx.Err() == nil {
				t.m.log.Warn("monitor: store array summary, will retry", "array", p, "err", err)
			}
			t.mu.Lock()
			for st, n := range deltas[p] {
				if t.deltas[p] == nil {
					t.deltas[p] = map[batch.JobStatus]int{}
				}
				t.deltas[p][st] += n
			}
			if full[p] {
				t.full[p] = true
			}
			t.acks[p] = append(t.acks[p], acks[p]...)
			t.mu.Unlock()
			continue
		}
		for _, d := range acks[p] {
			_ = d.Ack()
		}
	}
}

// store applies counted deltas (or a full recount) to a parent.
func (t *arrayTally) store(ctx context.Context, parent string, delta map[batch.JobStatus]int, full bool) error {
	if !full {
		_, err := t.m.updateParent(ctx, parent, func(p *batch.JobDetail) bool {
			if p.ArrayProperties == nil || p.ArrayProperties.StatusSummary == nil {
				full = true // not expanded yet, or no summary: count
				return false
			}
			sum := maps.Clone(p.ArrayProperties.StatusSummary)
			for st, n := range delta {
				sum[string(st)] += n
				if sum[string(st)] < 0 {
					full = true
					return false
				}
			}
			return applySummary(p, sum, t.m.clock().UnixMilli())
		})
		if err != nil || !full {
			return err
		}
	}
	var size int
	var pj batch.JobDetail
	if _, err := bus.GetJSON(ctx, t.m.jobs, events.Token(parent), &pj); err != nil {
		return fmt.Errorf("read array %s: %w", parent, err)
	}
	if pj.ArrayProperties == nil || pj.Status.Final() {
		return nil
	}
	size = pj.ArrayProperties.Size
	sum, err := t.m.countChildren(ctx, parent, size)
	if err != nil {
		return err
	}
	_, err = t.m.updateParent(ctx, parent, func(p *batch.JobDetail) bool {
		return applySummary(p, sum, t.m.clock().UnixMilli())
	})
	return err
}

// countChildren reads every child of an array and counts them by status.
// A child not created yet counts as PENDING.
func (m *monitor) countChildren(ctx context.Context, parent string, size int) (map[string]int, error) {
	statuses := make([]batch.JobStatus, size)
	sem := make(chan struct{}, recountParallelism)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for i := range size {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			var c struct {
				Status batch.JobStatus `json:"status"`
			}
			_, err := bus.GetJSON(ctx, m.jobs, events.Token(batch.ArrayChildID(parent, i)), &c)
			switch {
			case errors.Is(err, jetstream.ErrKeyNotFound):
				statuses[i] = batch.StatusPending
			case err != nil:
				mu.Lock()
				firstErr = cmpErr(firstErr, err)
				mu.Unlock()
			default:
				statuses[i] = c.Status
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, fmt.Errorf("count children of %s: %w", parent, firstErr)
	}
	sum := emptySummary()
	for _, st := range statuses {
		sum[string(st)]++
	}
	return sum, nil
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

package monitor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go/jetstream"
)

// History retention: with Config.JobRetention set, the records of jobs
// that finished longer ago than that are deleted, with the job's facts on
// the jobs stream (so DescribeJobs no longer finds the job, and the api's
// index and the scheduler drop it). Every replica sweeps; deleting twice
// is harmless. The job's output (BATCH_LOGS) and its events (BATCH_EVENTS)
// follow the retention of their streams.

// historyInterval is how often finished jobs are swept by default.
const historyInterval = time.Minute

// sweepHistory deletes the records of jobs finished before the retention,
// every interval, until ctx ends.
func (m *monitor) sweepHistory(ctx context.Context) {
	if m.cfg.JobRetention <= 0 {
		return
	}
	interval := m.cfg.HistoryInterval
	if interval <= 0 {
		interval = historyInterval
	}
	m.periodically(ctx, interval, m.forgetFinished)
}

// forgetFinished deletes the records of the jobs finished before the
// retention.
func (m *monitor) forgetFinished(ctx context.Context) {
	cutoff := m.clock().Add(-m.cfg.JobRetention).UnixMilli()
	n := 0
	for _, key := range m.view.finishedBefore(cutoff) {
		if err := m.forget(ctx, key); err != nil {
			if ctx.Err() == nil {
				m.log.Warn("monitor: delete finished job, will retry", "key", key, "err", err)
			}
			continue
		}
		n++
	}
	if n > 0 {
		m.log.Info("monitor: deleted finished jobs past their retention", "jobs", n, "retention", m.cfg.JobRetention)
	}
}

// finishedBefore lists the keys of jobs that stopped before cutoff.
func (v *jobView) finishedBefore(cutoff int64) []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	for k, stopped := range v.finished {
		if stopped < cutoff {
			out = append(out, k)
		}
	}
	return out
}

// forget deletes a job's facts from the jobs stream, then its record.
func (m *monitor) forget(ctx context.Context, key string) error {
	stream, err := m.js.Stream(ctx, events.StreamJobs)
	if err != nil {
		return fmt.Errorf("open stream: %w", err)
	}
	for _, filter := range events.JobFactFilters(key) {
		if err := stream.Purge(ctx, jetstream.WithPurgeSubject(filter)); err != nil {
			return fmt.Errorf("purge %s: %w", filter, err)
		}
	}
	if err := m.jobs.Delete(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("delete record %s: %w", key, err)
	}
	return nil
}

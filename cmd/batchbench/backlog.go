package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"
)

// backlog fills queue bench-hold up to queued jobs, lets the server settle,
// reads batchd's memory (VmRSS of its process) and measures placement of
// single jobs again, on another queue, with that backlog.
func (b *bench) backlog(ctx context.Context) error {
	f := b.res.Figures
	if more := b.cfg.queued - b.held; more > 0 {
		b.logf("  submitting %d more jobs to hold %d", more, b.cfg.queued)
		body := submitBody("held", queueHold, defTrue)
		err := parallel(ctx, more, b.cfg.submitClients, func(ctx context.Context, i int) error {
			_, err := request(ctx, b.cl.nc, "SubmitJob", body)
			return err
		})
		if err != nil {
			return err
		}
		b.held += more
	}
	b.logf("  letting the server settle with %d queued jobs", b.held)
	start := time.Now()
	if err := b.settle(ctx); err != nil {
		return err
	}
	f["queued_settle_seconds"] = round(time.Since(start).Seconds(), 1)
	f["queued_jobs"] = b.held
	time.Sleep(2 * time.Second)
	rss, peak, err := b.srv.memory()
	if err != nil {
		return fmt.Errorf("batchd memory: %w", err)
	}
	if b.cfg.profileDir != "" {
		if err := b.fetch("/debug/pprof/heap", filepath.Join(b.cfg.profileDir, "backlog-heap.pprof")); err != nil {
			b.logf("  heap profile: %v", err)
		}
	}
	f["queued_rss_mib"] = round(rss, 0)
	f["queued_rss_peak_mib"] = round(peak, 0)

	b.logf("  placing %d single jobs with the backlog", b.cfg.schedSamples)
	d, err := b.placeSamples(ctx, b.cfg.schedSamples)
	if err != nil {
		return err
	}
	f["sched_place_backlog_p50_ms"] = round(percentile(d, 50), 1)
	idle := percentile(b.res.placeIdle, 50)
	f["sched_slowdown"] = round(percentile(d, 50)/idle, 2)
	return nil
}

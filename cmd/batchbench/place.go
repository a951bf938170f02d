package main

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// warmUp runs a few jobs through batchd and a few bare containers, so that
// the measured phases find caches, the launcher's host and the image warm.
func (b *bench) warmUp(ctx context.Context) error {
	n := b.cfg.concurrency
	ids, err := b.submitMany(ctx, queueWarm, defTrue, n, 1)
	if err != nil {
		return err
	}
	if err := b.waitFinal(ctx, queueWarm, ids, 3*time.Minute); err != nil {
		return err
	}
	_, err = runPodman(ctx, b.cfg.image, n, n)
	_, _ = b.rec.takeLags()
	return err
}

// placeSamples submits single jobs one after another, each once the
// previous one ended, and returns for each the time from the SubmitJob call
// to its STARTING state being stored (the scheduler placed it on a host).
// (The answer to SubmitJob can arrive after the placement is stored.)
func (b *bench) placeSamples(ctx context.Context, n int) ([]time.Duration, error) {
	var out []time.Duration
	for i := range n {
		called := time.Now()
		ans, err := request(ctx, b.cl.nc, "SubmitJob", submitBody(fmt.Sprintf("place-%d", i), queueSched, defTrue))
		if err != nil {
			return nil, err
		}
		id, err := jobID(ans)
		if err != nil {
			return nil, err
		}
		if err := b.waitFinal(ctx, queueSched, []string{id}, 2*time.Minute); err != nil {
			return nil, err
		}
		st, ok := b.rec.event(id, "STARTING")
		if !ok || st.decided.IsZero() {
			return nil, fmt.Errorf("job %s: no STARTING event with a decision time", id)
		}
		out = append(out, st.decided.Sub(called))
	}
	return out, nil
}

// schedIdle measures placement with no backlog.
func (b *bench) schedIdle(ctx context.Context) error {
	d, err := b.placeSamples(ctx, b.cfg.schedSamples)
	if err != nil {
		return err
	}
	b.res.placeIdle = d
	b.res.Figures["sched_place_idle_p50_ms"] = round(percentile(d, 50), 1)
	if rss, _, err := b.srv.memory(); err == nil {
		b.res.Figures["idle_rss_mib"] = round(rss, 0)
	}
	return nil
}

// waitFinal waits until every job in ids has a SUCCEEDED or FAILED event;
// a FAILED one is an error.
func (b *bench) waitFinal(ctx context.Context, queue string, ids []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var failed string
	err := b.rec.waitFor(ctx, func() bool {
		for _, id := range ids {
			h := b.rec.history(id)
			if !slices.ContainsFunc(h, func(e seen) bool { return e.status == "SUCCEEDED" || e.status == "FAILED" }) {
				return false
			}
			if slices.ContainsFunc(h, func(e seen) bool { return e.status == "FAILED" }) {
				failed = id
			}
		}
		return true
	})
	if err != nil {
		s, f := b.rec.final(queue)
		return fmt.Errorf("waiting for %d jobs of %s to end (%d succeeded, %d failed so far): %w", len(ids), queue, s, f, err)
	}
	if failed != "" {
		return fmt.Errorf("%w: job %s of queue %s FAILED (batchctl describe-jobs --jobs %s)", errJobFailed, failed, queue, failed)
	}
	return nil
}

// submitMany submits n jobs over NATS with the given number of concurrent
// callers and returns their ids in submit order.
func (b *bench) submitMany(ctx context.Context, queue, def string, n, callers int) ([]string, error) {
	ids := make([]string, n)
	err := parallel(ctx, n, callers, func(ctx context.Context, i int) error {
		ans, err := request(ctx, b.cl.nc, "SubmitJob", submitBody(fmt.Sprintf("%s-%d", queue, i), queue, def))
		if err != nil {
			return err
		}
		ids[i], err = jobID(ans)
		return err
	})
	return ids, err
}

package main

import (
	"context"
	"fmt"
	"time"
)

// e2e runs e2eJobs trivial containers (`true`) through bare `podman run
// --rm` and through batchd, at the same concurrency, one after the other.
//
//	podman_seconds: from starting the first `podman run` to the end of the
//	  last, concurrency of them at a time.
//	e2e_seconds: from the first SubmitJob call to receiving the last job's
//	  SUCCEEDED event; the jobs are submitted at once over NATS and batchd
//	  runs concurrency of them at a time (its environment's maxvCpus and
//	  the host's vCPUs are both concurrency, each job takes 1 vCPU).
func (b *bench) e2e(ctx context.Context) error {
	n, c := b.cfg.e2eJobs, b.cfg.concurrency
	f := b.res.Figures
	f["e2e_jobs"], f["e2e_concurrency"] = n, c

	b.logf("  %d containers with bare podman, %d at a time", n, c)
	cpu0 := busyCPUSeconds()
	pd, err := runPodman(ctx, b.cfg.image, n, c)
	if err != nil {
		return err
	}
	podmanCPU := busyCPUSeconds() - cpu0
	f["podman_seconds"] = round(pd.Seconds(), 2)
	f["podman_cpu_s_per_job"] = round(podmanCPU/float64(n), 3)

	b.logf("  %d jobs through batchd, %d at a time", n, c)
	cpu0, srv0 := busyCPUSeconds(), b.srv.cpuSeconds()
	start := time.Now()
	ids, err := b.submitMany(ctx, queueE2E, defTrue, n, 16)
	if err != nil {
		return err
	}
	if err := b.waitFinal(ctx, queueE2E, ids, 10*pd+5*time.Minute); err != nil {
		return err
	}
	var last time.Time
	for _, id := range ids {
		if e, ok := b.rec.event(id, "SUCCEEDED"); ok && e.received.After(last) {
			last = e.received
		}
	}
	if last.IsZero() {
		return fmt.Errorf("no SUCCEEDED event of queue %s", queueE2E)
	}
	bd := last.Sub(start)
	f["e2e_seconds"] = round(bd.Seconds(), 2)
	f["e2e_ratio_vs_podman"] = round(bd.Seconds()/pd.Seconds(), 3)
	f["e2e_cpu_s_per_job"] = round((busyCPUSeconds()-cpu0)/float64(n), 3)
	f["batchd_cpu_s_per_job"] = round((b.srv.cpuSeconds()-srv0)/float64(n), 3)

	lags, bad := b.rec.takeLags()
	if bad > 0 {
		return fmt.Errorf("%d state change events had no %s header", bad, "Batch-Decided-At")
	}
	f["event_latency_p50_ms"] = round(percentile(lags, 50), 2)
	f["event_latency_p99_ms"] = round(percentile(lags, 99), 2)
	f["event_count"] = len(lags)
	return nil
}

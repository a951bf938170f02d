package launcher

import (
	"context"
	"fmt"
	"strconv"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/pkg/telemetry"
)

// recover re-adopts the containers a previous launcher of this host left:
// running ones are supervised again (not started again), exited ones are
// reported and removed.
func (l *launcher) recover(ctx context.Context) error {
	cs, err := l.rt.List(ctx, map[string]string{labelHost: l.cfg.HostID})
	if err != nil {
		return fmt.Errorf("launcher: list containers: %w", err)
	}
	for _, c := range cs {
		job := c.Labels[labelJob]
		attempt, err := strconv.Atoi(c.Labels[labelAttempt])
		if job == "" || err != nil {
			continue
		}
		run := l.claim(job, attempt)
		if run == nil {
			continue
		}
		// Its GPUs stay its own until it has exited.
		l.gpus.hold(attemptKey(job, attempt), gpusOfLabel(c.Labels))
		timeout, _ := strconv.Atoi(c.Labels[labelTimeout])
		from := l.resumeFrom(ctx, job, attempt)
		jctx := l.jobTrace(ctx, job)
		l.log.InfoContext(jctx, "re-adopting container", telemetry.LogJobID, job, "attempt", attempt, "running", c.Running)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer l.release(job, attempt)
			l.supervise(jctx, job, attempt, run, c, timeout, from, nil, nil)
		}()
	}
	return nil
}

// jobTrace returns ctx in the job's trace, read from its record (a
// re-adopted container has no placement message to carry it).
func (l *launcher) jobTrace(ctx context.Context, job string) context.Context {
	var rec batch.JobDetail
	if _, err := bus.GetJSON(ctx, l.jobs, events.Token(job), &rec); err != nil {
		return ctx
	}
	return telemetry.WithTraceParent(ctx, rec.TraceParent)
}

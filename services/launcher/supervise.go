package launcher

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/pkg/telemetry"
	"github.com/batchd/batchd/services/launcher/internal/runtime"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Reasons the launcher reports.
const (
	reasonTimeout = "Job attempt duration exceeded timeout"
	// maxStartDeliveries bounds how often a placement whose container
	// could not be started for a transient cause (engine unreachable) is
	// tried before the attempt fails.
	maxStartDeliveries = 5
	labelTimeout       = "batch.timeout-seconds"
)

// containerName names an attempt's container; the engine refuses a second
// container of the same name, so an attempt never runs twice.
func containerName(job string, attempt int) string {
	return fmt.Sprintf("batch-%s-%d", events.Token(job), attempt)
}

// run starts a placed attempt and supervises it to its end; span is the
// placement's, ended once the start is reported.
func (l *launcher) run(ctx context.Context, p events.JobPlaced, run *attemptRun, d *bus.Delivery, span trace.Span) {
	if p.Task != nil {
		l.runTask(ctx, p, run, d, span)
		return
	}
	spec, err := l.runtimeSpec(p.JobID, p.Attempt, containerName(p.JobID, p.Attempt), l.attemptLabels(p), p.Container)
	var c runtime.Container
	if err == nil {
		// A start may pull the image for minutes: the placement stays
		// ours (not redelivered, and so not acknowledged by a second
		// delivery) while it does.
		stop := keepInProgress(d, placementAckWait/4)
		c, err = l.startWithGPUs(ctx, p.JobID, p.Attempt, p.Container.GPUs, spec)
		stop()
	}
	if err != nil {
		l.startFailed(ctx, p, err, failedPull(err), d, span, "container", nil)
		return
	}
	l.supervise(ctx, p.JobID, p.Attempt, run, c, p.Container.TimeoutSeconds, resumePoint{}, d, span)
}

// startFailureReason words a start failure as AWS Batch does. The
// runtime's messages mostly say it already ("CannotPullContainerError:
// ...").
func startFailureReason(err error) string {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "CannotPullContainerError:") || strings.HasPrefix(msg, "CannotStartContainerError:"):
		return truncate(msg, 255)
	case errors.Is(err, runtime.ErrImageNotFound):
		return truncate("CannotPullContainerError: "+msg, 255)
	}
	return truncate("CannotStartContainerError: "+msg, 255)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// supervise follows a running container: it reports the start, ships the
// output, enforces the attempt timeout, reports the exit and removes the
// container. placement, when not nil, is acknowledged once the start is
// reported, and its span (placedSpan, when not nil) ends then. The rest
// is the span "launcher.wait", which reports the exit. When ctx ends first
// the container is left running for the next launcher to re-adopt.
func (l *launcher) supervise(ctx context.Context, job string, attempt int, run *attemptRun, c runtime.Container, timeoutSec int, logsFrom resumePoint, placement *bus.Delivery, placedSpan trace.Span) {
	log := l.log.With(telemetry.LogJobID, job, "attempt", attempt, "container", c.ID)
	run.attach(func(reason string) {
		log.InfoContext(ctx, "job terminated, stopping its container", "reason", reason)
		if err := l.rt.Stop(context.WithoutCancel(ctx), c.ID, l.cfg.StopGrace); err != nil {
			log.WarnContext(ctx, "stop", "err", err)
		}
	})
	startedAt := l.clock()
	started := events.JobStarted{JobID: job, Attempt: attempt, HostID: l.cfg.HostID, ContainerID: c.ID, StartedAt: startedAt.UnixMilli()}
	started.PullStartedAt, started.PullStoppedAt = pullTimes(c.ImagePull)
	err := l.report(ctx, started)
	if placedSpan != nil {
		placedSpan.End()
	}
	if err != nil {
		log.ErrorContext(ctx, "report start", "err", err)
		_ = placement.Nak(time.Second) // redelivered: the container is found by its name
		return
	}
	_ = placement.Ack()
	ctx, span := l.tracer.Start(ctx, "launcher.wait", trace.WithAttributes(telemetry.JobID(job), telemetry.Attempt(attempt),
		attribute.String("container.id", c.ID)))
	defer span.End()

	logsDone := make(chan error, 1)
	go func() { logsDone <- l.shipLogs(ctx, events.LogSubject(job, attempt), "", c.ID, logsFrom) }()

	var timedOut atomic.Bool
	var timer *time.Timer
	if timeoutSec > 0 {
		timer = time.AfterFunc(time.Duration(timeoutSec)*time.Second, func() {
			timedOut.Store(true)
			log.InfoContext(ctx, "attempt timed out, stopping")
			if err := l.rt.Stop(context.WithoutCancel(ctx), c.ID, l.cfg.StopGrace); err != nil {
				log.WarnContext(ctx, "stop", "err", err)
			}
		})
	}
	exit, err := l.rt.Wait(ctx, c.ID)
	if timer != nil {
		timer.Stop()
	}
	if err == nil {
		// The container has exited: its GPUs are free before its exit
		// is reported, so a job the scheduler places on them next finds
		// them free.
		l.gpus.release(attemptKey(job, attempt))
	}
	if err != nil {
		if ctx.Err() == nil {
			span.SetStatus(codes.Error, err.Error())
			log.ErrorContext(ctx, "wait", "err", err)
		}
		return
	}
	span.SetAttributes(attribute.Int("container.exit_code", exit.ExitCode))
	if err := <-logsDone; err != nil && ctx.Err() == nil {
		log.WarnContext(ctx, "logs", "err", err)
	}
	code := exit.ExitCode
	ev := events.JobExited{JobID: job, Attempt: attempt, HostID: l.cfg.HostID, ContainerID: c.ID, ExitCode: &code,
		Reason: exit.Reason, StoppedAt: l.clock().UnixMilli()}
	ev.PullStartedAt, ev.PullStoppedAt = pullTimes(c.ImagePull)
	if !exit.StartedAt.IsZero() {
		ev.StartedAt = exit.StartedAt.UnixMilli()
	}
	if !exit.FinishedAt.IsZero() {
		ev.StoppedAt = exit.FinishedAt.UnixMilli()
	}
	end := attemptEnd{exit: ev, timedOut: timedOut.Load(), kind: "container",
		remove: func(ctx context.Context) error { return l.rt.Remove(ctx, c.ID) }}
	if l.finishAttempt(ctx, log, run, end) {
		log.DebugContext(ctx, "attempt done", "exitCode", code)
	}
}

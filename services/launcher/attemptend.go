package launcher

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/pkg/telemetry"
	"github.com/batchd/batchd/services/launcher/internal/runtime"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// An attempt ends one of two ways: what it runs in (a single-container
// job's container, a task's pod) could not be started (startFailed), or
// it ran and every container has exited (finishAttempt).

// startFailed handles an attempt whose container or pod could not be
// created or started: a transient engine failure is retried through the
// placement d; otherwise cleanup (when not nil) removes what was created
// and the attempt ends with the failure (pull: the image pull that failed,
// nil for none). span is the placement's and ends here. what names the
// attempt in the logs ("container", "task").
func (l *launcher) startFailed(ctx context.Context, p events.JobPlaced, err error, pull *runtime.ImagePull,
	d *bus.Delivery, span trace.Span, what string, cleanup func(context.Context)) {
	defer span.End()
	span.SetStatus(codes.Error, err.Error())
	if ctx.Err() != nil {
		_ = d.Nak(0) // shutting down: the placement is redelivered to the next launcher
		return
	}
	if !errors.Is(err, runtime.ErrCannotStart) && d != nil && d.NumDelivered < maxStartDeliveries {
		l.log.WarnContext(ctx, what+" start failed, will retry", telemetry.LogJobID, p.JobID, "err", err)
		_ = d.Nak(time.Duration(d.NumDelivered) * time.Second)
		return
	}
	l.log.InfoContext(ctx, what+" cannot start", telemetry.LogJobID, p.JobID, "attempt", p.Attempt, "err", err)
	if cleanup != nil {
		cleanup(context.WithoutCancel(ctx))
	}
	reason := startFailureReason(err)
	ev := events.JobExited{JobID: p.JobID, Attempt: p.Attempt, HostID: l.cfg.HostID, Reason: reason,
		StatusReason: reason, StoppedAt: l.clock().UnixMilli()}
	ev.PullStartedAt, ev.PullStoppedAt = pullTimes(pull)
	if err := l.report(ctx, ev); err != nil {
		l.log.ErrorContext(ctx, "report start failure", telemetry.LogJobID, p.JobID, "err", err)
		_ = d.Nak(time.Second)
		return
	}
	_ = d.Ack()
}

// attemptEnd is an attempt every container of which has exited.
type attemptEnd struct {
	exit     events.JobExited // its result
	timedOut bool
	kind     string                      // what it ran in, as the logs name it: "container", "pod"
	remove   func(context.Context) error // removes what it ran in
	// placement, when it is not acknowledged yet (a task none of whose
	// containers started), is acknowledged once the exit is reported, and
	// placedSpan (when not nil) ends then.
	placement  *bus.Delivery
	placedSpan trace.Span
}

// finishAttempt reports an attempt's end and removes what it ran in. An
// abandoned attempt (given up while it ran: its host was lost) has its
// result already: what it ran in is removed and nothing is reported. A
// job terminated, or an attempt timed out, is not retried. When ctx ends
// first, or the report fails (stopping), all is left for the next
// launcher to re-adopt and report. It says whether the exit was reported.
func (l *launcher) finishAttempt(ctx context.Context, log *slog.Logger, run *attemptRun, a attemptEnd) bool {
	if ctx.Err() != nil {
		return false
	}
	if run.isAbandoned() {
		log.InfoContext(ctx, "abandoned attempt ended, removing its "+a.kind)
		if err := a.remove(ctx); err != nil {
			log.WarnContext(ctx, "remove "+a.kind, "err", err)
		}
		return false
	}
	ev := a.exit
	if a.timedOut {
		ev.StatusReason, ev.NoRetry = reasonTimeout, true
	}
	if reason, stopped := run.stopped(); stopped {
		ev.StatusReason, ev.NoRetry = reason, true
	}
	if err := l.report(ctx, ev); err != nil {
		log.ErrorContext(ctx, "report exit", "err", err)
		return false // the next launcher re-adopts what it ran in and reports it
	}
	if a.placedSpan != nil {
		a.placedSpan.End()
	}
	_ = a.placement.Ack()
	if err := a.remove(ctx); err != nil {
		log.WarnContext(ctx, "remove "+a.kind, "err", err)
	}
	return true
}

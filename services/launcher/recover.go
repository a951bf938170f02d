package launcher

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/pkg/telemetry"
	"github.com/batchd/batchd/services/launcher/internal/runtime"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/segmentio/encoding/json"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// reasonContainerGone is the failure of an attempt recorded RUNNING on this
// host whose container a restarted launcher does not find.
const reasonContainerGone = "CannotInspectContainerError: the container of this attempt is gone (the launcher restarted and did not find it)"

// recover re-adopts the containers a previous launcher of this host left:
// running ones are supervised again (not started again), exited ones are
// reported and removed, and ones created but never started (the launcher
// died between create and start) are started when the record still wants
// the attempt, else removed. The containers of a task's pod are re-adopted
// together (recoverTasks).
func (l *launcher) recover(ctx context.Context) error {
	cs, err := l.rt.List(ctx, map[string]string{labelHost: l.cfg.HostID})
	if err != nil {
		return fmt.Errorf("launcher: list containers: %w", err)
	}
	l.recoverTasks(ctx, cs)
	for _, c := range cs {
		if c.Labels[labelPod] != "" {
			continue // a container of a task, re-adopted with its pod
		}
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
		if c.Created {
			l.recoverCreated(ctx, job, attempt, run, c)
			continue
		}
		if l.givenUp(ctx, job, attempt) {
			// Its result is in the record already (reported before a
			// crash, or the attempt given up when this host was lost):
			// stop and remove it, report nothing.
			l.log.InfoContext(ctx, "removing the container of an attempt that is over", telemetry.LogJobID, job,
				"attempt", attempt, "container", c.ID, "running", c.Running)
			if err := l.rt.Remove(ctx, c.ID); err != nil {
				l.log.WarnContext(ctx, "remove container", telemetry.LogJobID, job, "err", err)
			}
			l.release(job, attempt)
			continue
		}
		timeout, _ := strconv.Atoi(c.Labels[labelTimeout])
		from := l.resumeFrom(ctx, events.LogSubject(job, attempt))
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

// recoverCreated decides about a container that was created but never
// started. It is never waited on as if it had run: the record decides.
// Attempt STARTING: it is started from the placement stored in the stream
// (the same spec), and the redelivered placement then finds it
// supervised. Terminated meanwhile: it is removed and the attempt reported
// ended without a container. Over, cancelled or gone: removed. Not recorded
// yet: left for the redelivered placement, whose Start starts it.
func (l *launcher) recoverCreated(ctx context.Context, job string, attempt int, run *attemptRun, c runtime.Container) {
	jctx := l.jobTrace(ctx, job)
	log := l.log.With(telemetry.LogJobID, job, "attempt", attempt, "container", c.ID)
	var rec placementRecord
	verdict := placementUnwanted
	if _, err := bus.GetJSON(ctx, l.jobs, events.Token(job), &rec); err == nil {
		verdict, _ = verdictOf(rec, attempt, l.cfg.HostID)
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		verdict = placementLagging // cannot tell: the placement's redelivery decides
	}
	switch verdict {
	case placementWanted:
		p, err := l.storedPlacement(ctx, job, attempt)
		if err != nil {
			log.WarnContext(jctx, "created container: placement not readable, left for its redelivery", "err", err)
			l.release(job, attempt)
			return
		}
		log.InfoContext(jctx, "starting a container created but never started")
		pctx, span := l.tracer.Start(jctx, "launcher.placed", trace.WithAttributes(telemetry.JobID(job),
			telemetry.Attempt(attempt), attribute.String("batch.host", l.cfg.HostID)))
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer l.release(job, attempt)
			l.run(pctx, p, run, nil, span)
		}()
	case placementLagging:
		l.release(job, attempt)
	case placementTerminated:
		defer l.release(job, attempt)
		if err := l.rt.Remove(ctx, c.ID); err != nil {
			log.WarnContext(jctx, "remove created container", "err", err)
		}
		l.reportNotStarted(jctx, events.JobPlaced{JobID: job, Attempt: attempt}, rec.StatusReason, nil)
	default:
		defer l.release(job, attempt)
		log.InfoContext(jctx, "removing a created container no longer wanted", "status", rec.Status)
		if err := l.rt.Remove(ctx, c.ID); err != nil {
			log.WarnContext(jctx, "remove created container", "err", err)
		}
	}
}

// storedPlacement reads the placement of a job on this host from the jobs
// stream (the last one stored); it must be of the given attempt.
func (l *launcher) storedPlacement(ctx context.Context, job string, attempt int) (events.JobPlaced, error) {
	var p events.JobPlaced
	s, err := l.js.Stream(ctx, events.StreamJobs)
	if err != nil {
		return p, fmt.Errorf("jobs stream: %w", err)
	}
	m, err := s.GetLastMsgForSubject(ctx, events.PlacedSubject(l.cfg.HostID, job))
	if err != nil {
		return p, fmt.Errorf("last placement of %s: %w", job, err)
	}
	if err := json.Unmarshal(m.Data, &p); err != nil {
		return p, fmt.Errorf("decode placement of %s: %w", job, err)
	}
	if p.Attempt != attempt {
		return p, fmt.Errorf("last placement of %s is of attempt %d, not %d", job, p.Attempt, attempt)
	}
	return p, nil
}

// reportGone fails an attempt recorded RUNNING on this host that this
// launcher does not supervise, when no container of it exists: its start
// was reported, then the launcher died before acknowledging the placement,
// and the container went with the host. The failure is retried per the
// job's retry strategy. A container that does exist is left alone.
func (l *launcher) reportGone(ctx context.Context, p events.JobPlaced, d *bus.Delivery) {
	cs, err := l.rt.List(ctx, map[string]string{labelHost: l.cfg.HostID, labelJob: p.JobID, labelAttempt: strconv.Itoa(p.Attempt)})
	if err != nil {
		l.log.WarnContext(ctx, "list containers", telemetry.LogJobID, p.JobID, "err", err)
		_ = d.Nak(time.Second)
		return
	}
	if len(cs) > 0 {
		_ = d.Ack()
		return
	}
	ev := events.JobExited{JobID: p.JobID, Attempt: p.Attempt, HostID: l.cfg.HostID, Reason: reasonContainerGone,
		StatusReason: reasonContainerGone, StoppedAt: l.clock().UnixMilli()}
	if err := l.report(ctx, ev); err != nil {
		l.log.ErrorContext(ctx, "report lost container", telemetry.LogJobID, p.JobID, "err", err)
		_ = d.Nak(time.Second)
		return
	}
	l.log.WarnContext(ctx, "container of a running attempt is gone", telemetry.LogJobID, p.JobID, "attempt", p.Attempt)
	_ = d.Ack()
}

// givenUp reports whether the record shows an attempt over (or the job
// gone); a record that cannot be read says nothing.
func (l *launcher) givenUp(ctx context.Context, job string, attempt int) bool {
	var rec batch.JobDetail
	_, err := bus.GetJSON(ctx, l.jobs, events.Token(job), &rec)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return true
	}
	return err == nil && len(rec.Attempts) >= attempt
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

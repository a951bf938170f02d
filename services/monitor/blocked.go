package monitor

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"
)

// Blocked jobs. The monitor's view of the job records (jobview.go) lists
// the waiting jobs with the time they entered their status; the scan
// announces, once per wait, a job that has been RUNNABLE or PENDING for longer than
// Config.BlockedAfter: a "Batch Job Queue Blocked" event on
// batch.events.blocked.<queue>.<job> whose detail is the job with a
// statusReason saying in plain words why it waits. A wait is one stay in
// one status for one attempt: a job that fails, is retried and waits
// again is announced again. The event id (also its Nats-Msg-Id) names the
// wait, and the last event of the job's subject is checked before
// announcing, so replicas and restarts announce a wait once.
// Array parents are not announced (their children are).

// reasonUndetermined is AWS's statusReason for a blocked job whose cause is
// not known.
const reasonUndetermined = "UNDETERMINED - Batch job is blocked, root cause is undetermined."

// maxReasonDeps bounds the dependencies a PENDING reason names.
const maxReasonDeps = 5

// waitingJob is one wait the scan follows: a job in one status since a
// time.
type waitingJob struct {
	key    string
	id     string
	queue  string
	status batch.JobStatus
	since  time.Time
}

// scanInterval is how often the scan looks for blocked jobs.
func scanInterval(threshold time.Duration) time.Duration {
	return min(max(threshold/4, 50*time.Millisecond), 30*time.Second)
}

// waitingJobs lists the PENDING and RUNNABLE jobs of the view (array
// parents excluded), each dated from its status change.
func (v *jobView) waitingJobs() []waitingJob {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]waitingJob, 0, len(v.waiting))
	for key, j := range v.waiting {
		out = append(out, waitingJob{key: key, id: j.ID, queue: j.Queue, status: j.Status, since: time.UnixMilli(j.since())})
	}
	return out
}

// watchBlocked announces the jobs that wait too long, until ctx ends. It
// reads the waiting jobs from the monitor's view of the job records.
func (m *monitor) watchBlocked(ctx context.Context) {
	// announced remembers the waits announced (key -> since), so each
	// is announced once by this replica.
	announced := map[string]time.Time{}
	m.periodically(ctx, scanInterval(m.cfg.BlockedAfter), func(ctx context.Context) {
		now := m.clock()
		current := map[string]bool{}
		for _, wj := range m.view.waitingJobs() {
			current[wj.key] = true
			if at, ok := announced[wj.key]; (ok && at.Equal(wj.since)) || now.Sub(wj.since) < m.cfg.BlockedAfter {
				continue
			}
			done, err := m.announceBlocked(ctx, wj, now)
			if err != nil {
				if ctx.Err() == nil {
					m.log.Warn("monitor: announce a blocked job", "job", wj.id, "err", err)
				}
				continue
			}
			if done {
				announced[wj.key] = wj.since
			}
		}
		for key := range announced {
			if !current[key] {
				delete(announced, key)
			}
		}
	})
}

// announceBlocked publishes the blocked event of a wait, unless the job
// has moved on or the wait was announced already; done reports that the
// wait needs no more announcing.
func (m *monitor) announceBlocked(ctx context.Context, wj waitingJob, now time.Time) (done bool, _ error) {
	var job batch.JobDetail
	if _, err := bus.GetJSON(ctx, m.jobs, wj.key, &job); err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return true, nil
		}
		return false, fmt.Errorf("read job: %w", err)
	}
	if job.Status != wj.status || (job.StatusChangedAt != 0 && job.StatusChangedAt != wj.since.UnixMilli()) {
		return false, nil // the view brings the change
	}
	id := fmt.Sprintf("blocked/%s/%d/%s", job.JobID, len(job.Attempts), job.Status)
	subject := events.BlockedSubject(wj.queue, job.JobID)
	last, err := m.eventsStream.GetLastMsgForSubject(ctx, subject)
	switch {
	case err == nil && last.Header.Get(jetstream.MsgIDHeader) == id:
		return true, nil
	case err != nil && !errors.Is(err, jetstream.ErrMsgNotFound):
		return false, fmt.Errorf("read the last blocked event of the job: %w", err)
	}
	job.StatusReason = m.waitReason(ctx, job)
	ctx, span := m.tracer.Start(jobTraceContext(ctx, job.TraceID), "monitor.blocked", trace.WithSpanKind(trace.SpanKindProducer))
	defer span.End()
	ev := events.NewJobQueueBlocked(id, now, job, wj.since)
	if _, err := bus.Publish(ctx, m.js, ev); err != nil {
		return false, fmt.Errorf("publish %s: %w", id, err)
	}
	m.log.Info("job blocked", "job", job.JobID, "status", job.Status, "queue", wj.queue,
		"waiting", now.Sub(wj.since).Round(time.Second), "reason", job.StatusReason)
	return true, nil
}

// waitReason says in plain words why a job waits: the scheduler's reason
// when it gave one, the dependencies a PENDING job waits for, else AWS's
// "undetermined".
func (m *monitor) waitReason(ctx context.Context, job batch.JobDetail) string {
	if job.StatusReason != "" {
		return job.StatusReason
	}
	if job.Status != batch.StatusPending || len(job.DependsOn) == 0 {
		return reasonUndetermined
	}
	var parts []string
	for i, d := range job.DependsOn {
		if i == maxReasonDeps {
			parts = append(parts, fmt.Sprintf("and %d more", len(job.DependsOn)-i))
			break
		}
		var dep batch.JobDetail
		st := "unknown"
		if _, err := bus.GetJSON(ctx, m.jobs, events.Token(d.JobID), &dep); err == nil {
			st = string(dep.Status)
		}
		parts = append(parts, d.JobID+" ("+st+")")
	}
	return "Waiting for dependencies: " + strings.Join(parts, ", ")
}

// jobTraceContext puts the job's trace (from its record) in ctx, so the
// blocked event joins the job's trace.
func jobTraceContext(ctx context.Context, traceID string) context.Context {
	tid, err := trace.TraceIDFromHex(traceID)
	if err != nil {
		return ctx
	}
	var sid trace.SpanID
	_, _ = rand.Read(sid[:])
	return trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true}))
}

package monitor

import (
	"context"
	"crypto/rand"
	"encoding/json"
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

// Blocked jobs. The monitor follows the job records and announces, once
// per wait, a job that has been RUNNABLE or PENDING for longer than
// Config.BlockedAfter: a "Batch Job Queue Blocked" event on
// batch.events.blocked.<queue>.<job> whose detail is the job with a
// statusReason saying in plain words why it waits. A wait is one stay in
// one status for one attempt: a job that fails, is retried and waits
// again is announced again. The event id (also its Nats-Msg-Id) names the
// wait, and the last event of the job's subject is checked before
// announcing, so replicas and restarts announce a wait once.

// reasonUndetermined is AWS's statusReason for a blocked job whose cause is
// not known.
const reasonUndetermined = "UNDETERMINED - Batch job is blocked, root cause is undetermined."

// maxReasonDeps bounds the dependencies a PENDING reason names.
const maxReasonDeps = 5

// waitingJob is a job the scan follows.
type waitingJob struct {
	id        string
	queue     string
	status    batch.JobStatus
	attempts  int
	since     time.Time
	announced bool
}

// waitRecord is the part of a job record the scan reads.
type waitRecord struct {
	JobID        string          `json:"jobId"`
	JobQueue     string          `json:"jobQueue"`
	JobQueueName string          `json:"jobQueueName"`
	Status       batch.JobStatus `json:"status"`
	CreatedAt    int64           `json:"createdAt"`
	Attempts     []struct {
		StoppedAt int64 `json:"stoppedAt"`
	} `json:"attempts"`
	DependsOn []json.RawMessage `json:"dependsOn"`
}

// scanInterval is how often the scan looks for blocked jobs.
func scanInterval(threshold time.Duration) time.Duration {
	return min(max(threshold/4, 50*time.Millisecond), 30*time.Second)
}

// watchBlocked follows the job records until ctx ends and announces the
// jobs that wait too long.
func (m *monitor) watchBlocked(ctx context.Context) error {
	w, err := m.jobs.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch bucket %s: %w", events.BucketJobs, err)
	}
	defer func() { _ = w.Stop() }()
	waiting := map[string]*waitingJob{}
	loaded := false
	tick := time.NewTicker(scanInterval(m.cfg.BlockedAfter))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() == nil {
					return errors.New("the job records watch ended")
				}
				return nil
			}
			if e == nil {
				loaded = true
				continue
			}
			trackWait(waiting, e, loaded)
		case <-tick.C:
			now := m.clock()
			for key, wj := range waiting {
				if wj.announced || now.Sub(wj.since) < m.cfg.BlockedAfter {
					continue
				}
				if err := m.announceBlocked(ctx, key, wj, now); err != nil {
					if ctx.Err() != nil {
						return nil
					}
					m.log.Warn("monitor: announce a blocked job", "job", wj.id, "err", err)
				}
			}
		}
	}
}

// trackWait updates the waiting jobs with one record change. A wait seen
// as it begins starts at the record's write; one found when the watch
// starts is dated from the record itself where it can be (the submit, or
// the end of the last attempt), else from its last write.
func trackWait(waiting map[string]*waitingJob, e jetstream.KeyValueEntry, live bool) {
	key := e.Key()
	var r waitRecord
	if e.Operation() != jetstream.KeyValuePut || json.Unmarshal(e.Value(), &r) != nil ||
		(r.Status != batch.StatusRunnable && r.Status != batch.StatusPending) {
		delete(waiting, key)
		return
	}
	if wj := waiting[key]; wj != nil && wj.status == r.Status && wj.attempts == len(r.Attempts) {
		return // the same wait (a new statusReason, say)
	}
	since := e.Created()
	if !live {
		switch {
		case r.Status == batch.StatusRunnable && len(r.Attempts) > 0 && r.Attempts[len(r.Attempts)-1].StoppedAt > 0:
			since = time.UnixMilli(r.Attempts[len(r.Attempts)-1].StoppedAt)
		case len(r.Attempts) == 0 && (r.Status == batch.StatusPending || len(r.DependsOn) == 0) && r.CreatedAt > 0:
			since = time.UnixMilli(r.CreatedAt)
		}
	}
	queue := r.JobQueueName
	if queue == "" {
		queue = batch.NameFromRef(batch.KindJobQueue, r.JobQueue)
	}
	waiting[key] = &waitingJob{id: r.JobID, queue: queue, status: r.Status, attempts: len(r.Attempts), since: since}
}

// announceBlocked publishes the blocked event of a wait, unless the job
// has moved on or the wait was announced already.
func (m *monitor) announceBlocked(ctx context.Context, key string, wj *waitingJob, now time.Time) error {
	var job batch.JobDetail
	if _, err := bus.GetJSON(ctx, m.jobs, key, &job); err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			wj.announced = true
			return nil
		}
		return fmt.Errorf("read job: %w", err)
	}
	if job.Status != wj.status || len(job.Attempts) != wj.attempts {
		return nil // the watch brings the change
	}
	id := fmt.Sprintf("blocked/%s/%d/%s", job.JobID, len(job.Attempts), job.Status)
	subject := events.BlockedSubject(wj.queue, job.JobID)
	last, err := m.eventsStream.GetLastMsgForSubject(ctx, subject)
	switch {
	case err == nil && last.Header.Get(jetstream.MsgIDHeader) == id:
		wj.announced = true
		return nil
	case err != nil && !errors.Is(err, jetstream.ErrMsgNotFound):
		return fmt.Errorf("read the last blocked event of the job: %w", err)
	}
	job.StatusReason = m.waitReason(ctx, job)
	ctx, span := m.tracer.Start(jobTraceContext(ctx, job.TraceID), "monitor.blocked", trace.WithSpanKind(trace.SpanKindProducer))
	defer span.End()
	ev := events.NewJobQueueBlocked(id, now, job, wj.since)
	if _, err := bus.Publish(ctx, m.js, subject, events.TypeJobQueueBlocked, id, ev); err != nil {
		return fmt.Errorf("publish %s: %w", id, err)
	}
	wj.announced = true
	m.log.Info("job blocked", "job", job.JobID, "status", job.Status, "queue", wj.queue,
		"waiting", now.Sub(wj.since).Round(time.Second), "reason", job.StatusReason)
	return nil
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

package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/pkg/telemetry"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Config configures the monitor.
type Config struct {
	// Consumer is the durable consumer name shared by all replicas.
	Consumer string
	// Retention of the streams, passed to bus.EnsureStreams.
	Retention bus.Retention
	// JobRetention is how long the records of finished jobs are kept; 0
	// keeps them for ever.
	JobRetention time.Duration
	// HistoryInterval is how often finished jobs are swept (default 1 min).
	HistoryInterval time.Duration
	// TimeLimitInterval is how often time limits are checked (default 5 s).
	TimeLimitInterval time.Duration
	// BlockedAfter is how long a job may wait RUNNABLE or PENDING before
	// a "Batch Job Queue Blocked" event announces it (blocked.go); 0
	// announces none.
	BlockedAfter time.Duration
}

// DefaultConfig returns the configuration used by batchd.
func DefaultConfig() Config {
	return Config{Consumer: "monitor", Retention: bus.DefaultRetention, BlockedAfter: 10 * time.Minute}
}

// Deps are the monitor's connections.
type Deps struct {
	NATS   *nats.Conn
	Logger *slog.Logger
	Clock  func() time.Time
}

type monitor struct {
	cfg    Config
	log    *slog.Logger
	clock  func() time.Time
	js     jetstream.JetStream
	jobs   jetstream.KeyValue
	tracer trace.Tracer
	arrays *arrayTally
	view   *jobView
	// deferAck is set by apply when the message must be acknowledged only
	// once the array summary it changed is stored.
	deferAck bool
	// eventsStream is BATCH_EVENTS, read by the blocked-job scan.
	eventsStream jetstream.Stream
	metrics      *metrics
}

// Run applies job facts until ctx ends.
func Run(ctx context.Context, cfg Config, d Deps) error {
	if cfg.Consumer == "" {
		cfg.Consumer = "monitor"
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Clock == nil {
		d.Clock = time.Now
	}
	js, err := jetstream.New(d.NATS)
	if err != nil {
		return fmt.Errorf("monitor: jetstream: %w", err)
	}
	if err := bus.EnsureStreams(ctx, js, cfg.Retention); err != nil {
		return fmt.Errorf("monitor: %w", err)
	}
	jobs, err := js.KeyValue(ctx, events.BucketJobs)
	if err != nil {
		return fmt.Errorf("monitor: %w", err)
	}
	eventsStream, err := js.Stream(ctx, events.StreamEvents)
	if err != nil {
		return fmt.Errorf("monitor: %w", err)
	}
	met, err := newMetrics()
	if err != nil {
		return fmt.Errorf("monitor: %w", err)
	}
	m := &monitor{cfg: cfg, log: d.Logger.With("service", "monitor"), clock: d.Clock, js: js, jobs: jobs,
		tracer: telemetry.Tracer("monitor"), eventsStream: eventsStream, metrics: met}
	m.arrays = newArrayTally(m)
	go m.arrays.run(ctx)
	m.view = newJobView(cfg.JobRetention > 0)
	if err := m.view.watch(ctx, js); err != nil {
		return fmt.Errorf("monitor: watch jobs: %w", err)
	}
	go m.enforceTimeLimits(ctx)
	go m.sweepHistory(ctx)
	if cfg.BlockedAfter > 0 {
		go m.watchBlocked(ctx)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, events.StreamJobs, jetstream.ConsumerConfig{
		Durable: cfg.Consumer, AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second,
		MaxAckPending: 20000, FilterSubjects: []string{events.SubjectJobs},
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("monitor: consumer: %w", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1000))
	if err != nil {
		return fmt.Errorf("monitor: consume: %w", err)
	}
	go func() { <-ctx.Done(); it.Stop() }()
	m.log.Info("monitor started")
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			m.log.Warn("next message", "err", err)
			continue
		}
		m.handle(ctx, msg)
	}
}

// handle applies one fact in a span "monitor.<verb>" that continues the
// trace in the message's headers (the job's trace).
func (m *monitor) handle(ctx context.Context, msg jetstream.Msg) {
	kind := subjectKind(msg.Subject())
	job := events.JobFromSubject(msg.Subject())
	ctx, span := bus.StartConsumerSpan(ctx, m.tracer, "monitor."+kind, msg.Subject(), msg.Headers(), telemetry.JobID(job))
	defer span.End()
	m.deferAck = false
	err := m.apply(ctx, kind, msg)
	switch {
	case err == nil && m.deferAck:
		m.arrays.ackAfterFlush(msg)
	case err == nil:
		if err := msg.Ack(); err != nil {
			m.log.WarnContext(ctx, "ack", telemetry.LogJobID, job, "subject", msg.Subject(), "err", err)
		}
	case errors.Is(err, errPoison):
		span.SetStatus(codes.Error, err.Error())
		m.log.ErrorContext(ctx, "dropping bad message", telemetry.LogJobID, job, "subject", msg.Subject(), "err", err)
		_ = msg.TermWithReason(err.Error())
	default:
		span.SetStatus(codes.Error, err.Error())
		m.log.WarnContext(ctx, "will retry", telemetry.LogJobID, job, "subject", msg.Subject(), "err", err)
		_ = msg.NakWithDelay(500 * time.Millisecond)
	}
}

var errPoison = errors.New("undecodable message")

// subjectKind is the verb of batch.job.<verb>.… subjects.
func subjectKind(subject string) string {
	parts := strings.SplitN(subject, ".", 4)
	if len(parts) < 3 {
		return ""
	}
	return parts[2]
}

func decode(msg jetstream.Msg, v any) error {
	if err := json.Unmarshal(msg.Data(), v); err != nil {
		return fmt.Errorf("%w: %s: %v", errPoison, msg.Subject(), err)
	}
	return nil
}

// apply routes one message to its state transition.
func (m *monitor) apply(ctx context.Context, kind string, msg jetstream.Msg) error {
	redelivered, seq := false, uint64(0)
	if md, err := msg.Metadata(); err == nil {
		redelivered, seq = md.NumDelivered > 1, md.Sequence.Stream
	}
	switch kind {
	case "submit":
		var f events.JobSubmitted
		if err := decode(msg, &f); err != nil {
			return err
		}
		return m.create(ctx, f.Job, seq, redelivered)
	case "gate":
		var f events.JobGated
		if err := decode(msg, &f); err != nil {
			return err
		}
		_, err := m.update(ctx, f.JobID, redelivered, func(j *batch.JobDetail) bool { return applyGate(j, f) })
		return err
	case "wait":
		var f events.JobWaiting
		if err := decode(msg, &f); err != nil {
			return err
		}
		_, err := m.update(ctx, f.JobID, false, func(j *batch.JobDetail) bool { return applyWaiting(j, f) })
		return err
	case "placed":
		var f events.JobPlaced
		if err := decode(msg, &f); err != nil {
			return err
		}
		_, err := m.update(ctx, f.JobID, redelivered, func(j *batch.JobDetail) bool { return applyPlaced(j, f) })
		return err
	case "started":
		var f events.JobStarted
		if err := decode(msg, &f); err != nil {
			return err
		}
		job, err := m.update(ctx, f.JobID, redelivered, func(j *batch.JobDetail) bool { return applyStarted(j, f) })
		if err != nil {
			return err
		}
		return m.stopIfTerminated(ctx, job)
	case "exited":
		var f events.JobExited
		if err := decode(msg, &f); err != nil {
			return err
		}
		_, err := m.update(ctx, f.JobID, redelivered, func(j *batch.JobDetail) bool { return applyExited(j, f) })
		return err
	case "tag":
		var f events.JobTagged
		if err := decode(msg, &f); err != nil {
			return err
		}
		_, err := m.update(ctx, f.JobID, false, func(j *batch.JobDetail) bool { return applyTagged(j, f) })
		return err
	case "cancel":
		var f events.JobCancel
		if err := decode(msg, &f); err != nil {
			return err
		}
		job, err := m.update(ctx, f.JobID, redelivered, func(j *batch.JobDetail) bool { return applyCancel(j, f) })
		if err != nil || !job.IsArrayParent() {
			return err
		}
		return m.fanOut(ctx, job, func(child string) (string, string, string, any) {
			ev := events.JobCancel{JobID: child, Reason: f.Reason, By: events.ByArray, Time: f.Time}
			return events.CancelSubject(child), events.TypeJobCancel, ev.MsgID(), ev
		})
	case "terminate":
		var f events.JobTerminate
		if err := decode(msg, &f); err != nil {
			return err
		}
		job, err := m.update(ctx, f.JobID, redelivered, func(j *batch.JobDetail) bool { return applyTerminate(j, f) })
		if err != nil {
			return err
		}
		if job.IsArrayParent() {
			return m.fanOut(ctx, job, func(child string) (string, string, string, any) {
				ev := events.JobTerminate{JobID: child, Reason: f.Reason, By: events.ByArray, Time: f.Time}
				return events.TerminateSubject(child), events.TypeJobTerminate, ev.MsgID(), ev
			})
		}
		return m.stopIfTerminated(ctx, job)
	case "hostlost":
		var f events.JobHostLost
		if err := decode(msg, &f); err != nil {
			return err
		}
		return m.hostLost(ctx, f, redelivered)
	case "stop":
		return nil // for the launcher
	default:
		m.log.DebugContext(ctx, "ignoring unknown subject", "subject", msg.Subject())
		return nil
	}
}

func (m *monitor) create(ctx context.Context, job batch.JobDetail, seq uint64, redelivered bool) error {
	job.Status = batch.StatusSubmitted
	job.Seq = seq
	if job.StatusChangedAt == 0 {
		job.StatusChangedAt = job.CreatedAt
	}
	if job.Attempts == nil {
		job.Attempts = []batch.AttemptDetail{}
	}
	if job.DependsOn == nil {
		job.DependsOn = []batch.JobDependency{}
	}
	// The api records the job's trace; a submit without it joins the
	// trace of the message's headers.
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() && job.TraceID == "" {
		job.TraceID = sc.TraceID().String()
		job.TraceParent = telemetry.TraceParent(ctx)
	}
	data, err := json.Marshal(job)
	if err != nil {
		return fmt.Errorf("%w: encode job: %v", errPoison, err)
	}
	if _, err := m.jobs.Create(ctx, events.Token(job.JobID), data); err != nil {
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("create job %s: %w", job.JobID, err)
		}
		if job.IsArrayParent() {
			// A redelivered submit of an array: finish creating the
			// children, then count them again.
			return m.expandArray(ctx, job, true)
		}
		if redelivered {
			return m.reannounce(ctx, job.JobID)
		}
		return nil
	}
	if err := m.announce(ctx, job); err != nil {
		return err
	}
	if job.IsArrayParent() {
		return m.expandArray(ctx, job, redelivered)
	}
	return nil
}

// update reads the record, applies fn and writes it back with
// compare-and-set, retrying when another replica wrote in between. It
// returns the record as it is now. A status change of an array child is
// counted in its parent's statusSummary (the message is acknowledged once
// that is stored).
func (m *monitor) update(ctx context.Context, jobID string, redelivered bool, fn func(*batch.JobDetail) bool) (batch.JobDetail, error) {
	key := events.Token(jobID)
	for try := 0; try < 10; try++ {
		var job batch.JobDetail
		rev, err := bus.GetJSON(ctx, m.jobs, key, &job)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return job, fmt.Errorf("job %s not created yet", jobID)
		}
		if err != nil {
			return job, fmt.Errorf("read job %s: %w", jobID, err)
		}
		before := job.Status
		if !fn(&job) {
			if redelivered {
				if parent, _, ok := batch.ArrayParentOf(jobID); ok {
					// The count of a change applied before a crash may
					// be lost: count the array again.
					m.arrays.recount(parent)
					m.deferAck = true
				}
				return job, m.announce(ctx, job)
			}
			return job, nil
		}
		if job.Status != before {
			job.StatusChangedAt = m.clock().UnixMilli()
		}
		data, err := json.Marshal(job)
		if err != nil {
			return job, fmt.Errorf("encode job %s: %w", jobID, err)
		}
		if _, err := m.jobs.Update(ctx, key, data, rev); err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue // a concurrent writer; read again
			}
			return job, fmt.Errorf("write job %s: %w", jobID, err)
		}
		if job.Status == before {
			return job, nil
		}
		m.metrics.transition(ctx, before, &job)
		if parent, _, ok := batch.ArrayParentOf(jobID); ok {
			m.arrays.count(parent, before, job.Status)
			m.deferAck = true
		}
		return job, m.announce(ctx, job)
	}
	return batch.JobDetail{}, fmt.Errorf("job %s: too many concurrent updates", jobID)
}

// stopIfTerminated tells the launcher to stop the container of a
// terminated job that is STARTING or RUNNING. Repeating it is harmless
// (one stop per attempt is stored).
func (m *monitor) stopIfTerminated(ctx context.Context, job batch.JobDetail) error {
	if !job.IsTerminated || (job.Status != batch.StatusStarting && job.Status != batch.StatusRunning) || job.HostID == "" {
		return nil
	}
	ev := events.JobStop{JobID: job.JobID, Attempt: len(job.Attempts) + 1, HostID: job.HostID, Reason: job.StatusReason}
	if _, err := bus.Publish(ctx, m.js, events.StopSubject(job.HostID, job.JobID), events.TypeJobStop, ev.MsgID(), ev); err != nil {
		return fmt.Errorf("stop %s: %w", job.JobID, err)
	}
	return nil
}

func (m *monitor) reannounce(ctx context.Context, jobID string) error {
	var job batch.JobDetail
	if _, err := bus.GetJSON(ctx, m.jobs, events.Token(jobID), &job); err != nil {
		return fmt.Errorf("read job %s: %w", jobID, err)
	}
	return m.announce(ctx, job)
}

// announce publishes the job's current status. The event id names the job,
// the attempt and the status, so announcing the same change twice stores
// it once. It is called right after the record is stored: the header
// Batch-Decided-At carries that moment.
func (m *monitor) announce(ctx context.Context, job batch.JobDetail) error {
	msg, id, err := m.stateChange(ctx, job)
	if err != nil {
		return err
	}
	if _, err := m.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("announce %s: publish: %w", id, err)
	}
	return nil
}

// stateChange is the event message of a job's current status, and its id.
func (m *monitor) stateChange(ctx context.Context, job batch.JobDetail) (*nats.Msg, string, error) {
	decided := m.clock() // the record holding this status is stored
	id := fmt.Sprintf("%s/%d/%s", job.JobID, len(job.Attempts), job.Status)
	ev := events.NewJobStateChange(id, decided, job)
	queue := job.JobQueueName
	if queue == "" {
		queue = batch.NameFromRef(batch.KindJobQueue, job.JobQueue)
	}
	msg, err := bus.NewMsg(ctx, events.EventSubject(queue, string(job.Status)), events.TypeJobStateChange, id, ev)
	if err != nil {
		return nil, id, fmt.Errorf("announce %s: %w", id, err)
	}
	msg.Header.Set(events.HeaderDecidedAt, decided.UTC().Format(time.RFC3339Nano))
	return msg, id, nil
}

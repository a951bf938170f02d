package monitor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/pkg/telemetry"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/segmentio/encoding/json"
	"go.opentelemetry.io/otel/trace"
)

// Config configures the monitor.
type Config struct {
	// Consumer begins the names of the partitions' durable consumers
	// (events.PartitionConsumer), shared by all replicas.
	Consumer string
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
	// Workers apply the facts of one partition concurrently, those of one
	// job (its Key) always by the same worker, in stream order (default
	// DefaultWorkers). A replica holding every partition applies
	// Workers*events.JobPartitions facts at once.
	Workers int
	// ReplicaID names this replica in the partition leases (default: host,
	// process id and a random part).
	ReplicaID string
}

// DefaultWorkers is how many facts a monitor applies at once in each
// partition it holds: each waits mostly for JetStream (a read, a
// compare-and-set, an event), so more workers than cores keep it busy,
// and the more facts of a partition are in flight, the more of them each
// wake-up of its consumer carries (recording 30,000 submits on embedded
// JetStream: 2 workers 7.3 s and 6.6 s of CPU, 16 workers 2.6 s and 4.7 s).
const DefaultWorkers = 16

// DefaultConfig returns the configuration used by batchd.
func DefaultConfig() Config {
	return Config{Consumer: "monitor", BlockedAfter: 10 * time.Minute, Workers: DefaultWorkers}
}

// Deps are the monitor's connections.
type Deps struct {
	NATS   *nats.Conn
	Logger *slog.Logger
	Clock  func() time.Time
}

type monitor struct {
	cfg     Config
	replica string
	log     *slog.Logger
	clock   func() time.Time
	js      jetstream.JetStream
	jobs    jetstream.KeyValue
	tracer  trace.Tracer
	arrays  *arrayTally
	view    *jobView
	// records caches the records this monitor wrote (records.go).
	records *recordCache
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
	js, err := bus.JetStream(d.NATS)
	if err != nil {
		return fmt.Errorf("monitor: jetstream: %w", err)
	}
	if err := bus.AwaitStreams(ctx, js, d.Logger); err != nil {
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
	m.records = newRecordCache(defaultCachedRecords)
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
	m.replica = keySafe.Replace(cfg.ReplicaID)
	if m.replica == "" {
		m.replica = replicaID()
	}
	m.log = m.log.With("replica", m.replica)
	m.log.Info("monitor started")
	return m.runPartitions(ctx, m.handlers())
}

// replicaID names a monitor replica: host, process id and a random part.
func replicaID() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return keySafe.Replace(fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b)))
}

// keySafe makes a replica name one KV key token.
var keySafe = strings.NewReplacer(".", "_", "*", "_", ">", "_", " ", "_", "/", "_")

// fact is one delivery of a fact being applied.
type fact struct {
	d *bus.Delivery
	// ackAfter, when set, is the array parent whose summary must be
	// stored before the fact is acknowledged.
	ackAfter string
}

func (f *fact) redelivered() bool { return f.d.Redelivered() }

// on registers the handler of one fact type: each delivery is applied in a
// span "monitor.<verb>" that continues the trace in the message's headers
// (the job's trace), and a fact that changed an array child's status is
// acknowledged once its parent's summary is stored.
func on[E events.Event](m *monitor, h *bus.Handlers, span string, fn func(ctx context.Context, ev E, f *fact) error) {
	bus.On(h, span, func(ctx context.Context, ev E, d *bus.Delivery) error {
		f := &fact{d: d}
		if err := fn(ctx, ev, f); err != nil {
			return err
		}
		if f.ackAfter != "" {
			d.Hold()
			m.arrays.ackAfterFlush(f.ackAfter, d)
		}
		return nil
	})
}

// handlers routes each fact to its state transition.
func (m *monitor) handlers() *bus.Handlers {
	h := bus.NewHandlers(m.tracer)
	on(m, h, "monitor.submit", func(ctx context.Context, ev events.JobSubmitted, f *fact) error {
		return m.create(ctx, ev.Job, f)
	})
	on(m, h, "monitor.gate", func(ctx context.Context, ev events.JobGated, f *fact) error {
		_, err := m.update(ctx, f, ev.JobID, func(j *batch.JobDetail) bool { return applyGate(j, ev) })
		return err
	})
	on(m, h, "monitor.wait", func(ctx context.Context, ev events.JobWaiting, f *fact) error {
		_, err := m.update(ctx, nil, ev.JobID, func(j *batch.JobDetail) bool { return applyWaiting(j, ev) })
		return err
	})
	on(m, h, "monitor.placed", func(ctx context.Context, ev events.JobPlaced, f *fact) error {
		job, err := m.update(ctx, f, ev.JobID, func(j *batch.JobDetail) bool { return applyPlaced(j, ev) })
		if err == nil && placedBeforeGate(job, ev) {
			// The scheduler places a job it gated RUNNABLE without
			// waiting for the record; the gate may be waiting for a
			// redelivery still: apply the placement after it.
			return fmt.Errorf("placement of %s attempt %d came before its gate to RUNNABLE", ev.JobID, ev.Attempt)
		}
		return err
	})
	on(m, h, "monitor.started", func(ctx context.Context, ev events.JobStarted, f *fact) error {
		job, err := m.update(ctx, f, ev.JobID, func(j *batch.JobDetail) bool { return applyStarted(j, ev) })
		if err != nil {
			return err
		}
		if err := m.stopIfTerminated(ctx, job); err != nil || !job.IsNode() {
			return err
		}
		return m.onNodeStarted(ctx, job, ev, f)
	})
	on(m, h, "monitor.exited", func(ctx context.Context, ev events.JobExited, f *fact) error {
		job, err := m.update(ctx, f, ev.JobID, func(j *batch.JobDetail) bool { return applyExited(j, ev) })
		if err != nil || !job.IsNode() {
			return err
		}
		return m.onNodeExited(ctx, job, ev.Attempt, ev.NoRetry, ev.ExitCode, f)
	})
	on(m, h, "monitor.gang", func(ctx context.Context, ev events.JobNodesPlaced, f *fact) error {
		return m.onGang(ctx, ev, f)
	})
	on(m, h, "monitor.tag", func(ctx context.Context, ev events.JobTagged, f *fact) error {
		_, err := m.update(ctx, nil, ev.JobID, func(j *batch.JobDetail) bool { return applyTagged(j, ev) })
		return err
	})
	on(m, h, "monitor.cancel", func(ctx context.Context, ev events.JobCancel, f *fact) error {
		job, err := m.update(ctx, f, ev.JobID, func(j *batch.JobDetail) bool { return applyCancel(j, ev) })
		if err != nil || !job.IsArrayParent() {
			return err
		}
		return m.fanOut(ctx, job, func(child string) events.Event {
			return events.JobCancel{JobID: child, Reason: ev.Reason, By: events.ByArray, Time: ev.Time}
		})
	})
	on(m, h, "monitor.terminate", func(ctx context.Context, ev events.JobTerminate, f *fact) error {
		job, err := m.update(ctx, f, ev.JobID, func(j *batch.JobDetail) bool { return applyTerminate(j, ev) })
		if err != nil {
			return err
		}
		if job.IsArrayParent() {
			return m.fanOut(ctx, job, func(child string) events.Event {
				return events.JobTerminate{JobID: child, Reason: ev.Reason, By: events.ByArray, Time: ev.Time}
			})
		}
		if job.IsMultiNodeParent() {
			return m.terminateNodes(ctx, job)
		}
		return m.stopIfTerminated(ctx, job)
	})
	on(m, h, "monitor.hostlost", func(ctx context.Context, ev events.JobHostLost, f *fact) error {
		return m.hostLost(ctx, ev, f)
	})
	// JobStop is for the launcher: the default handling acknowledges it.
	return h
}

func (m *monitor) create(ctx context.Context, job batch.JobDetail, f *fact) error {
	redelivered := f.redelivered()
	job.Status = batch.StatusSubmitted
	job.Seq = f.d.StreamSeq
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
		return bus.Permanent(fmt.Errorf("encode job: %w", err))
	}
	rev, err := m.jobs.Create(ctx, events.Token(job.JobID), data)
	if err == nil {
		kept := job
		m.records.put(events.Token(job.JobID), rev, &kept)
	}
	if err != nil {
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
// counted in its parent's statusSummary (the fact f is acknowledged once
// that is stored). f is nil for facts that change no status.
func (m *monitor) update(ctx context.Context, f *fact, jobID string, fn func(*batch.JobDetail) bool) (batch.JobDetail, error) {
	redelivered := f != nil && f.redelivered()
	key := events.Token(jobID)
	for try := 0; try < 10; try++ {
		var job batch.JobDetail
		held, rev, cached := m.records.take(key)
		if cached {
			job = *held
		} else {
			var err error
			rev, err = bus.GetJSON(ctx, m.jobs, key, &job)
			if errors.Is(err, jetstream.ErrKeyNotFound) {
				return job, fmt.Errorf("job %s not created yet", jobID)
			}
			if err != nil {
				return job, fmt.Errorf("read job %s: %w", jobID, err)
			}
		}
		before := job.Status
		if !fn(&job) {
			if cached {
				// Perhaps it applies to a newer record than the cached
				// one (taken out of the cache: the stored one is read).
				continue
			}
			if redelivered {
				if parent, _, ok := batch.ArrayParentOf(jobID); ok {
					// The count of a change applied before a crash may
					// be lost: count the array again.
					m.arrays.recount(parent)
					f.ackAfter = parent
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
		newRev, err := m.jobs.Update(ctx, key, data, rev)
		if err != nil {
			m.records.forget(key)
			if errors.Is(err, jetstream.ErrKeyExists) || cached {
				continue // a concurrent writer (or a stale cache); read again
			}
			return job, fmt.Errorf("write job %s: %w", jobID, err)
		}
		// The cache keeps its own copy of the top level; what the record
		// points to is shared with the caller's, which reads it only
		// while it handles this fact (the next fact of the job takes it).
		kept := job
		m.records.put(key, newRev, &kept)
		if job.Status == before {
			return job, nil
		}
		m.metrics.transition(ctx, before, &job)
		if parent, _, ok := batch.ArrayParentOf(jobID); ok {
			m.arrays.count(parent, before, job.Status)
			if f != nil {
				f.ackAfter = parent
			}
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
	ev := events.JobStop{JobID: job.JobID, Attempt: job.CurrentAttempt(), HostID: job.HostID, Reason: job.StatusReason}
	if _, err := bus.Publish(ctx, m.js, ev); err != nil {
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
	msg, err := bus.NewMsg(ctx, ev)
	if err != nil {
		return nil, id, fmt.Errorf("announce %s: %w", id, err)
	}
	msg.Header.Set(events.HeaderDecidedAt, decided.UTC().Format(time.RFC3339Nano))
	return msg, id, nil
}

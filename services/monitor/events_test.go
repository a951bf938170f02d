package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/pkg/natstest"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Integration tests on an embedded JetStream: the monitor's events on
// BATCH_EVENTS, their order per job, replay, and blocked-job events.

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

type monEnv struct {
	t  *testing.T
	ns *natstest.Server
	js jetstream.JetStream
}

func startEventsMonitor(t *testing.T, cfg Config) *monEnv {
	t.Helper()
	ns := natstest.Run(t, "")
	js, err := jetstream.New(ns.Conn(t))
	if err != nil {
		t.Fatal(err)
	}
	e := &monEnv{t: t, ns: ns, js: js}
	e.run(cfg)
	return e
}

// run starts a monitor replica until the test ends; stop ends it sooner.
func (e *monEnv) run(cfg Config) (stop func()) {
	t := e.t
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	nc := e.ns.Conn(t)
	go func() { done <- Run(ctx, cfg, Deps{NATS: nc, Logger: log}) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("monitor: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("monitor did not stop")
		}
	}
	t.Cleanup(stop)
	return stop
}

func (e *monEnv) publish(ev events.Event) {
	e.t.Helper()
	if _, err := bus.Publish(e.t.Context(), e.js, ev); err != nil {
		e.t.Fatal(err)
	}
}

func (e *monEnv) submit(id, queue string, deps ...string) {
	j := batch.JobDetail{JobArn: batch.ARN(batch.KindJob, id), JobID: id, JobName: "n-" + id, JobQueue: batch.ARN(batch.KindJobQueue, queue),
		JobQueueName: queue, Status: batch.StatusSubmitted, CreatedAt: time.Now().UnixMilli(), JobDefinition: "d",
		RetryStrategy: &batch.RetryStrategy{Attempts: 2}}
	for _, d := range deps {
		j.DependsOn = append(j.DependsOn, batch.JobDependency{JobID: d})
	}
	f := events.JobSubmitted{Job: j}
	e.publish(f)
}

func (e *monEnv) gate(id string, st batch.JobStatus) {
	f := events.JobGated{JobID: id, Status: st, Time: time.Now().UnixMilli()}
	e.publish(f)
}

func (e *monEnv) place(id string, attempt int) {
	f := events.JobPlaced{JobID: id, Attempt: attempt, HostID: "h", ComputeEnvironment: "ce", JobQueue: "q", Time: time.Now().UnixMilli()}
	e.publish(f)
}

func (e *monEnv) start(id string, attempt int) {
	f := events.JobStarted{JobID: id, Attempt: attempt, HostID: "h", ContainerID: "c", StartedAt: time.Now().UnixMilli()}
	e.publish(f)
}

func (e *monEnv) exit(id string, attempt, code int) {
	f := events.JobExited{JobID: id, Attempt: attempt, HostID: "h", ContainerID: "c", ExitCode: &code,
		StartedAt: time.Now().UnixMilli(), StoppedAt: time.Now().UnixMilli()}
	e.publish(f)
}

// storedEvent is one message of BATCH_EVENTS.
type storedEvent struct {
	seq     uint64
	at      time.Time
	subject string
	id      string
	job     string
	status  batch.JobStatus
	reason  string
	msgType string
	raw     []byte
}

// read replays BATCH_EVENTS (filtered) from cfg's start until n events
// came or 20 s passed.
func (e *monEnv) read(cfg jetstream.OrderedConsumerConfig, n int) []storedEvent {
	e.t.Helper()
	return e.readFor(cfg, n, 20*time.Second)
}

// readFor is read with a deadline of wait.
func (e *monEnv) readFor(cfg jetstream.OrderedConsumerConfig, n int, wait time.Duration) []storedEvent {
	e.t.Helper()
	cons, err := e.js.OrderedConsumer(e.t.Context(), events.StreamEvents, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []storedEvent
	deadline := time.Now().Add(wait)
	for len(out) < n && time.Now().Before(deadline) {
		msgs, err := cons.Fetch(n-len(out), jetstream.FetchMaxWait(200*time.Millisecond))
		if err != nil {
			e.t.Fatal(err)
		}
		for m := range msgs.Messages() {
			md, _ := m.Metadata()
			var ev struct {
				ID     string `json:"id"`
				Detail struct {
					JobID        string          `json:"jobId"`
					Status       batch.JobStatus `json:"status"`
					StatusReason string          `json:"statusReason"`
				} `json:"detail"`
			}
			if err := json.Unmarshal(m.Data(), &ev); err != nil {
				e.t.Fatal(err)
			}
			out = append(out, storedEvent{seq: md.Sequence.Stream, at: md.Timestamp, subject: m.Subject(), id: ev.ID,
				job: ev.Detail.JobID, status: ev.Detail.Status, reason: ev.Detail.StatusReason,
				msgType: m.Headers().Get(events.HeaderType), raw: m.Data()})
		}
	}
	return out
}

// byJob groups the statuses of job events per job.
func byJob(evs []storedEvent) map[string][]batch.JobStatus {
	out := map[string][]batch.JobStatus{}
	for _, ev := range evs {
		out[ev.job] = append(out[ev.job], ev.status)
	}
	return out
}

var fullRun = []batch.JobStatus{batch.StatusSubmitted, batch.StatusRunnable, batch.StatusStarting, batch.StatusRunning, batch.StatusSucceeded}

// Every status change of every job is an event, SUBMITTED included, each
// job's in the order its status changed, on batch.events.job.<queue>.<status>;
// the stream replays from any sequence or time.
func TestEventsOrderAndReplay(t *testing.T) {
	e := startEventsMonitor(t, DefaultConfig())
	const n = 8
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("job-%d", i)
		e.submit(ids[i], "q"+fmt.Sprint(i%2))
	}
	submitted := e.read(jetstream.OrderedConsumerConfig{FilterSubjects: []string{events.SubjectJobEventsAll}}, n)
	if len(submitted) != n {
		t.Fatalf("%d SUBMITTED events, want %d", len(submitted), n)
	}
	time.Sleep(20 * time.Millisecond)
	afterSubmit := time.Now()
	time.Sleep(20 * time.Millisecond)
	// The facts of the jobs interleave; each job's events keep its order.
	for i := n - 1; i >= 0; i-- {
		e.gate(ids[i], batch.StatusRunnable)
	}
	for _, id := range ids {
		e.place(id, 1)
	}
	for i := n - 1; i >= 0; i-- {
		e.start(ids[i], 1)
		e.exit(ids[i], 1, 0)
	}
	all := e.read(jetstream.OrderedConsumerConfig{FilterSubjects: []string{events.SubjectJobEventsAll}}, n*len(fullRun))
	for _, id := range ids {
		if got := byJob(all)[id]; !slices.Equal(got, fullRun) {
			t.Fatalf("job %s events %v, want %v", id, got, fullRun)
		}
	}
	for _, ev := range all {
		var want string
		for i, id := range ids {
			if id == ev.job {
				want = events.EventSubject("q"+fmt.Sprint(i%2), string(ev.status))
			}
		}
		if ev.subject != want || ev.msgType != events.TypeJobStateChange {
			t.Fatalf("event %s %s on %s (%s), want subject %s", ev.job, ev.status, ev.subject, ev.msgType, want)
		}
	}

	// One queue, one status.
	q0 := e.read(jetstream.OrderedConsumerConfig{FilterSubjects: []string{"batch.events.job.q0.>"}}, n/2*len(fullRun))
	if len(q0) != n/2*len(fullRun) {
		t.Fatalf("queue q0: %d events", len(q0))
	}
	failed := e.read(jetstream.OrderedConsumerConfig{FilterSubjects: []string{"batch.events.job.*.SUCCEEDED"}}, n)
	if len(failed) != n {
		t.Fatalf("SUCCEEDED: %d events", len(failed))
	}

	// Replay from a sequence: exactly the events from there on.
	from := all[len(all)/2]
	tail := e.read(jetstream.OrderedConsumerConfig{FilterSubjects: []string{events.SubjectJobEventsAll},
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from.seq}, len(all)-len(all)/2)
	if len(tail) != len(all)-len(all)/2 || tail[0].seq != from.seq || tail[0].id != from.id {
		t.Fatalf("replay from seq %d: %d events starting at %d", from.seq, len(tail), tail[0].seq)
	}
	// Replay from a time: everything after the SUBMITTED events.
	since := e.read(jetstream.OrderedConsumerConfig{FilterSubjects: []string{events.SubjectJobEventsAll},
		DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &afterSubmit}, n*(len(fullRun)-1))
	if len(since) != n*(len(fullRun)-1) {
		t.Fatalf("replay from time: %d events", len(since))
	}
	for _, ev := range since {
		if ev.status == batch.StatusSubmitted {
			t.Fatalf("replay from a time after the submits holds a SUBMITTED event of %s", ev.job)
		}
	}
}

// A fact delivered again re-announces the job's status under the same
// event id, which the stream stores once.
func TestEventsNotDuplicated(t *testing.T) {
	e := startEventsMonitor(t, DefaultConfig())
	e.submit("dup", "q")
	e.gate("dup", batch.StatusRunnable)
	// The same facts again with other message ids (a publisher retrying
	// after the de-duplication window, say).
	f := events.JobGated{JobID: "dup", Status: batch.StatusRunnable, Time: 1}
	e.publish(bus.WithMsgID(f, "gate-again"))
	e.place("dup", 1)
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{events.SubjectJobEventsAll}}
	e.read(cfg, 3)
	evs := e.readFor(cfg, 4, time.Second)
	if got := byJob(evs)["dup"]; !slices.Equal(got, []batch.JobStatus{batch.StatusSubmitted, batch.StatusRunnable, batch.StatusStarting}) {
		t.Fatalf("events %v", got)
	}
}

// Events carry the trace context of the job's facts (traceparent), so a
// subscriber (the notifier) continues the job's trace.
func TestEventsCarryTraceparent(t *testing.T) {
	otel.SetTextMapPropagator(propagation.TraceContext{})
	e := startEventsMonitor(t, DefaultConfig())
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(t.Context(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true}))
	j := batch.JobDetail{JobArn: batch.ARN(batch.KindJob, "tp"), JobID: "tp", JobQueue: batch.ARN(batch.KindJobQueue, "q"), JobQueueName: "q",
		Status: batch.StatusSubmitted}
	f := events.JobSubmitted{Job: j}
	if _, err := bus.Publish(ctx, e.js, f); err != nil {
		t.Fatal(err)
	}
	cons, err := e.js.OrderedConsumer(t.Context(), events.StreamEvents, jetstream.OrderedConsumerConfig{FilterSubjects: []string{events.SubjectJobEventsAll}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := cons.Next(jetstream.FetchMaxWait(20 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if tp := m.Headers().Get("traceparent"); !strings.Contains(tp, tid.String()) {
		t.Fatalf("event traceparent %q, want trace %s", tp, tid)
	}
}

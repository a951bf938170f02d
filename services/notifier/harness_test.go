package notifier

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/pkg/natstest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

var (
	spans   = tracetest.NewSpanRecorder()
	metricR = sdkmetric.NewManualReader()
)

func TestMain(m *testing.M) {
	otel.SetTextMapPropagator(propagation.TraceContext{})
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)))
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(metricR)))
	os.Exit(m.Run())
}

// counter reads a notifier counter for one rule.
func counter(t *testing.T, name, rule string) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := metricR.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != "batchd/notifier" {
			continue
		}
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				t.Fatalf("%s is %T", name, m.Data)
			}
			for _, dp := range sum.DataPoints {
				if v, ok := dp.Attributes.Value(attribute.Key("rule")); ok && v.AsString() == rule {
					total += dp.Value
				}
			}
		}
	}
	return total
}

// countsSince returns a reader of a rule's counters relative to their
// values now (the meter provider is shared by every test of the package,
// and -count runs a test again).
func countsSince(t *testing.T, rule string) func(name string) int64 {
	base := map[string]int64{}
	for _, n := range []string{"batchd.notifications.delivered", "batchd.notifications.retried", "batchd.notifications.dead_lettered"} {
		base[n] = counter(t, n, rule)
	}
	return func(name string) int64 { return counter(t, name, rule) - base[name] }
}

// env is a notifier on an embedded JetStream.
type env struct {
	t   testing.TB
	ns  *natstest.Server
	nc  *nats.Conn
	js  jetstream.JetStream
	kv  jetstream.KeyValue
	cfg Config
}

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func fastConfig() Config {
	cfg := DefaultConfig()
	cfg.Attempts, cfg.Backoff, cfg.MaxBackoff, cfg.Timeout = 3, 20*time.Millisecond, 100*time.Millisecond, 5*time.Second
	return cfg
}

// start runs a notifier (one replica) until the test ends.
func start(t testing.TB, cfg Config) *env {
	t.Helper()
	ns := natstest.Run(t, "")
	e := &env{t: t, ns: ns, nc: ns.Conn(t), cfg: cfg}
	var err error
	if e.js, err = jetstream.New(e.nc); err != nil {
		t.Fatal(err)
	}
	if e.kv, err = e.js.KeyValue(t.Context(), events.BucketRules); err != nil {
		t.Fatal(err)
	}
	e.replica(cfg)
	return e
}

// replica starts one more notifier on the same server.
func (e *env) replica(cfg Config) {
	t := e.t
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	nc := e.ns.Conn(t)
	go func() { done <- Run(ctx, cfg, Deps{NATS: nc, Logger: log}) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("notifier: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("notifier did not stop in 20s")
		}
	})
}

// putRule stores a rule as the api does, created now.
func (e *env) putRule(name, pattern string, targets ...batch.NotificationTarget) batch.NotificationRule {
	e.t.Helper()
	r := batch.NotificationRule{RuleName: name, RuleArn: batch.ARN(batch.KindRule, name), EventPattern: pattern,
		State: batch.RuleEnabled, Targets: targets, CreatedAt: time.Now().UnixMilli()}
	data, _ := json.Marshal(r)
	if _, err := e.kv.Put(e.t.Context(), name, data); err != nil {
		e.t.Fatal(err)
	}
	return r
}

// job is a job record in a queue and status.
func job(id, queue string, st batch.JobStatus) batch.JobDetail {
	return batch.JobDetail{JobArn: batch.ARN(batch.KindJob, id), JobID: id, JobName: "name-" + id,
		JobQueue: batch.ARN(batch.KindJobQueue, queue), JobQueueName: queue, Status: st,
		Attempts: []batch.AttemptDetail{}, DependsOn: []batch.JobDependency{}, PlatformCapabilities: []string{}}
}

// announce publishes a state change as the monitor does; it returns the
// event id.
func (e *env) announce(ctx context.Context, j batch.JobDetail) string {
	e.t.Helper()
	id := fmt.Sprintf("%s/%d/%s", j.JobID, len(j.Attempts), j.Status)
	ev := events.NewJobStateChange(id, time.Now(), j)
	if _, err := bus.Publish(ctx, e.js, ev); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// hook is a test webhook receiver. Its handler decides each answer.
type hook struct {
	*httptest.Server
	mu       sync.Mutex
	requests []hookRequest
	arrived  chan hookRequest
	answer   func(r hookRequest, n int) int // status for the n-th request (1-based)
}

type hookRequest struct {
	header http.Header
	body   []byte
	note   SNSNotification
	event  events.JobStateChange
}

func newHook(t *testing.T, answer func(r hookRequest, n int) int) *hook {
	h := &hook{arrived: make(chan hookRequest, 1000), answer: answer}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		hr := hookRequest{header: r.Header.Clone(), body: body}
		if err := json.Unmarshal(body, &hr.note); err != nil {
			t.Errorf("webhook body is not JSON: %v: %s", err, body)
		}
		if err := json.Unmarshal([]byte(hr.note.Message), &hr.event); err != nil {
			t.Errorf("webhook Message is not the event JSON: %v: %s", err, hr.note.Message)
		}
		h.mu.Lock()
		h.requests = append(h.requests, hr)
		n := len(h.requests)
		h.mu.Unlock()
		h.arrived <- hr
		status := http.StatusOK
		if h.answer != nil {
			status = h.answer(hr, n)
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hook) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.requests)
}

// next waits for the next request.
func (h *hook) next(t *testing.T) hookRequest {
	t.Helper()
	select {
	case r := <-h.arrived:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("no webhook request in 20s")
	}
	return hookRequest{}
}

// none checks that no request is waiting.
func (h *hook) none(t *testing.T) {
	t.Helper()
	select {
	case r := <-h.arrived:
		t.Fatalf("unexpected webhook request: %s", r.body)
	default:
	}
}

func webhook(id, url, secret string) batch.NotificationTarget {
	return batch.NotificationTarget{ID: id, Type: batch.TargetWebhook, Endpoint: url, Secret: secret}
}

// eventually polls f until it returns nil or 20 seconds pass.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// deadLetters reads every message of the dead-letter stream.
func (e *env) deadLetters() []events.DeadLetter {
	e.t.Helper()
	cons, err := e.js.OrderedConsumer(e.t.Context(), events.StreamDeadLetters, jetstream.OrderedConsumerConfig{})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []events.DeadLetter
	for {
		batch, err := cons.Fetch(100, jetstream.FetchMaxWait(200*time.Millisecond))
		if err != nil {
			e.t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			var dl events.DeadLetter
			if err := json.Unmarshal(m.Data(), &dl); err != nil {
				e.t.Fatal(err)
			}
			out = append(out, dl)
			n++
		}
		if n == 0 {
			return out
		}
	}
}

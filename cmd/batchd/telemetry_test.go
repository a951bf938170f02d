package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/batchd/batchd/cmd/batchd/internal/otelsetup"
	pb "github.com/batchd/batchd/pkg/batch"
	"github.com/nats-io/nats.go"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// The observability of one job, with the five services in this process
// (as batchd runs them), real JetStream and a real Podman container: the
// spans recorded in memory form one trace across the services, from
// SubmitJob to the notification of its end, with the expected parents;
// the logs about the job carry its trace id; /metrics counts the job, its
// latencies and the capacity it holds.
//
// One daemon for all these checks: starting one costs seconds.
func TestObservabilityInProcess(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tel, err := otelsetup.Setup(context.Background(), otelsetup.Options{ServiceName: "batchd-test",
		SpanProcessors: []sdktrace.SpanProcessor{rec}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })

	var logs syncBuffer
	cfg, err := parseFlags([]string{"--data", t.TempDir(), "--http", freePort(t), "--nats", freePort(t),
		"--host-vcpus", "3", "--host-memory", "2048", "--log-level", "debug", "--log-format", "json"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, newLogger(&logs, cfg.logLevel, cfg.logFormat), tel.Metrics) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("run did not return 30s after its context ended")
		}
		if t.Failed() {
			t.Logf("batchd log:\n%s", logs.String())
		}
	})
	base := "http://" + cfg.httpAddr
	waitHealthy(t, base, done)
	c := batch.New(batch.Options{Region: "us-east-1", BaseEndpoint: aws.String(base),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")})
	// The notifier sends the job's SUCCEEDED event to a NATS subject.
	nc, err := nats.Connect("nats://" + cfg.natsAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	notified, err := nc.SubscribeSync("obs.notified")
	if err != nil {
		t.Fatal(err)
	}
	(&daemon{httpAddr: cfg.httpAddr}).call(t, "CreateNotificationRule", pb.CreateNotificationRuleInput{RuleName: "obs-done",
		EventPattern: `{"detail-type":["Batch Job State Change"],"detail":{"status":["SUCCEEDED"],"jobQueue":[{"suffix":"/obs-queue"}]}}`,
		Targets:      []pb.NotificationTarget{{ID: "bus", Type: pb.TargetNATS, Endpoint: "obs.notified"}}}, nil)
	setupQueue(t, c, "obs", 2, "1", "64", "sh", "-c", "echo traced; sleep 2")

	id := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("traced"), JobQueue: aws.String("obs-queue"),
		JobDefinition: aws.String("obs-def")})
	waitStatus(t, c, id, types.JobStatusRunning)

	// The metrics follow the records (the api and the scheduler watch
	// them), so they may lag DescribeJobs by a moment.
	t.Run("metrics while running", func(t *testing.T) {
		waitMetrics(t, base, []sample{
			{"batchd_jobs", labels{"queue": "obs-queue", "status": "RUNNING"}, 1},
			{"batchd_jobs", labels{"queue": "obs-queue", "status": "SUCCEEDED"}, 0},
			{"batchd_compute_environment_vcpus", labels{"compute_environment": "obs-ce", "state": "in_use"}, 1},
			// maxvCpus 2 leaves 1 of the host's 3 free vCPUs.
			{"batchd_compute_environment_vcpus", labels{"compute_environment": "obs-ce", "state": "free"}, 1},
			{"batchd_compute_environment_memory_bytes", labels{"compute_environment": "obs-ce", "state": "in_use"}, 64 << 20},
			{"batchd_compute_environment_memory_bytes", labels{"compute_environment": "obs-ce", "state": "free"}, (2048 - 64) << 20},
			// The default environment shares the host: no vCPU of it is in
			// use, and the host's free vCPUs are what it has free.
			{"batchd_compute_environment_vcpus", labels{"compute_environment": "default", "state": "in_use"}, 0},
			{"batchd_compute_environment_vcpus", labels{"compute_environment": "default", "state": "free"}, 2},
			{"batchd_job_submit_to_running_duration_seconds_count", labels{"queue": "obs-queue"}, 1},
		})
	})

	j := waitFinal(t, c, 2*time.Minute, id)[id]
	if j.Status != types.JobStatusSucceeded {
		t.Fatalf("job: %s %q", j.Status, aws.ToString(j.StatusReason))
	}
	traceID := describeTrace(t, base, id)

	// The launcher ends its span after the exit is reported (and the
	// monitor may have applied it): wait for both, and the delivery.
	spans := waitSpans(t, rec, traceID, "monitor.exited", "launcher.wait", "notifier.deliver NATS")
	t.Run("one trace", func(t *testing.T) { checkJobTrace(t, id, traceID, spans) })

	t.Run("the notification carries the trace", func(t *testing.T) {
		m, err := notified.NextMsg(30 * time.Second)
		if err != nil {
			t.Fatalf("no notification on obs.notified: %v", err)
		}
		tp := m.Header.Get("traceparent") // lower case, as nats.js and nats.py read it
		if !strings.HasPrefix(tp, "00-"+traceID+"-") {
			t.Fatalf("notification traceparent %q (headers %v), want one of trace %s", tp, m.Header, traceID)
		}
		var deliver sdktrace.ReadOnlySpan
		for _, s := range spans {
			if s.Name() == "notifier.deliver NATS" {
				deliver = s
			}
		}
		if !strings.HasSuffix(tp, "-"+deliver.SpanContext().SpanID().String()+"-01") {
			t.Fatalf("notification traceparent %q, want the delivery span %s as parent", tp, deliver.SpanContext().SpanID())
		}
	})

	t.Run("metrics after the job", func(t *testing.T) {
		m := waitMetrics(t, base, []sample{
			{"batchd_jobs", labels{"queue": "obs-queue", "status": "RUNNING"}, 0},
			{"batchd_jobs", labels{"queue": "obs-queue", "status": "SUCCEEDED"}, 1},
			{"batchd_jobs", labels{"queue": "default", "status": "SUCCEEDED"}, 0},
			{"batchd_compute_environment_vcpus", labels{"compute_environment": "obs-ce", "state": "in_use"}, 0},
			{"batchd_compute_environment_vcpus", labels{"compute_environment": "obs-ce", "state": "free"}, 2},
			{"batchd_compute_environment_memory_bytes", labels{"compute_environment": "obs-ce", "state": "free"}, 2048 << 20},
			{"batchd_job_submit_to_running_duration_seconds_count", labels{"queue": "obs-queue"}, 1},
			{"batchd_job_running_to_done_duration_seconds_count", labels{"queue": "obs-queue", "status": "SUCCEEDED"}, 1},
			{"batchd_notifications_delivered_total", labels{"rule": "obs-done", "target": "bus", "type": "NATS"}, 1},
		})
		// The container slept 2 s.
		if sum := m.value(t, "batchd_job_running_to_done_duration_seconds_sum", labels{"queue": "obs-queue", "status": "SUCCEEDED"}); sum < 1.9 {
			t.Fatalf("running to done: %gs for a job that sleeps 2s", sum)
		}
		if s2r := m.value(t, "batchd_job_submit_to_running_duration_seconds_sum", labels{"queue": "obs-queue"}); s2r <= 0 {
			t.Fatalf("submit to running: %gs", s2r)
		}
		for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "target_info"} {
			if m[name] == nil {
				t.Errorf("/metrics has no %s", name)
			}
		}
	})

	t.Run("logs carry the trace", func(t *testing.T) {
		lines := jobLogLines(t, logs.String(), id)
		if len(lines) < 2 {
			t.Fatalf("want the job's log lines (api, scheduler, launcher at debug level), got %v", lines)
		}
		services := map[string]bool{}
		for _, l := range lines {
			if l["trace_id"] != traceID {
				t.Fatalf("log line about the job without its trace id %s: %v", traceID, l)
			}
			if s, _ := l["service"].(string); s != "" {
				services[s] = true
			}
		}
		for _, s := range []string{"api", "scheduler", "launcher"} {
			if !services[s] {
				t.Errorf("no log line of the %s about the job: %v", s, lines)
			}
		}
	})
}

// checkJobTrace asserts that the job's spans are one trace across the
// services, each span a child of the step that caused it.
func checkJobTrace(t *testing.T, jobID, traceID string, spans []sdktrace.ReadOnlySpan) {
	t.Helper()
	byName := map[string][]sdktrace.ReadOnlySpan{}
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	services := map[string]bool{}
	for _, s := range spans {
		byName[s.Name()] = append(byName[s.Name()], s)
		byID[s.SpanContext().SpanID()] = s
		svc := attr(s, "batchd.service")
		services[svc] = true
		if want := "batchd/" + svc; s.InstrumentationScope().Name != want {
			t.Errorf("span %s: scope %q, want %q", s.Name(), s.InstrumentationScope().Name, want)
		}
		if id := attr(s, "batch.job_id"); id != "" && id != jobID {
			t.Errorf("span %s of the job's trace names job %s", s.Name(), id)
		}
	}
	one := func(name string) sdktrace.ReadOnlySpan {
		t.Helper()
		if len(byName[name]) != 1 {
			t.Fatalf("want one span %s in the job's trace, got %d (spans: %v)", name, len(byName[name]), names(spans))
		}
		return byName[name][0]
	}
	root := one("Batch/SubmitJob")
	if root.Parent().IsValid() || root.SpanKind() != trace.SpanKindServer {
		t.Fatalf("SubmitJob: parent %v, kind %v; want a root server span", root.Parent(), root.SpanKind())
	}
	if attr(root, "batch.job_id") != jobID {
		t.Fatalf("SubmitJob span without the job id: %v", root.Attributes())
	}
	// Each step and the step it follows from.
	parents := map[string]string{
		"monitor.submit":  "Batch/SubmitJob",
		"scheduler.gate":  "Batch/SubmitJob",
		"monitor.gate":    "scheduler.gate",
		"scheduler.place": "Batch/SubmitJob",
		"monitor.placed":  "scheduler.place",
		"launcher.placed": "scheduler.place",
		"podman.create":   "launcher.placed",
		"podman.start":    "launcher.placed",
		"monitor.started": "launcher.placed",
		"launcher.wait":   "launcher.placed",
		"monitor.exited":  "launcher.wait",
		// The SUCCEEDED event the monitor announced, delivered.
		"notifier.deliver NATS": "monitor.exited",
	}
	for child, parent := range parents {
		c, p := one(child), one(parent)
		if c.Parent().SpanID() != p.SpanContext().SpanID() {
			t.Errorf("%s: parent %s, want %s (%s)", child, c.Parent().SpanID(), parent, p.SpanContext().SpanID())
		}
		if strings.HasPrefix(child, "monitor.") || child == "launcher.placed" {
			if c.SpanKind() != trace.SpanKindConsumer || attr(c, "messaging.system") != "nats" {
				t.Errorf("%s: kind %v, messaging.system %q; want a NATS consumer span", child, c.SpanKind(), attr(c, "messaging.system"))
			}
		}
	}
	// No span hangs off a span that is not in the trace.
	for _, s := range spans {
		if p := s.Parent(); p.IsValid() && byID[p.SpanID()] == nil {
			t.Errorf("span %s: parent %s is not a span of the trace", s.Name(), p.SpanID())
		}
	}
	if attr(one("launcher.wait"), "container.exit_code") != "0" {
		t.Errorf("launcher.wait: exit code %q", attr(one("launcher.wait"), "container.exit_code"))
	}
	for _, s := range []string{"api", "scheduler", "launcher", "monitor", "notifier"} {
		if !services[s] {
			t.Errorf("no span of the %s in the job's trace %s: %v", s, traceID, names(spans))
		}
	}
}

// waitSpans waits until spans of the given names have ended in the trace
// and returns every ended span of the trace.
func waitSpans(t *testing.T, rec *tracetest.SpanRecorder, traceID string, last ...string) []sdktrace.ReadOnlySpan {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var out []sdktrace.ReadOnlySpan
		for _, s := range rec.Ended() {
			if s.SpanContext().TraceID().String() == traceID {
				out = append(out, s)
			}
		}
		have := names(out)
		if !slices.ContainsFunc(last, func(n string) bool { return !slices.Contains(have, n) }) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("spans %v not all in trace %s after 30s; the trace has %v", last, traceID, have)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	out := make([]string, 0, len(spans))
	for _, s := range spans {
		out = append(out, s.Name())
	}
	slices.Sort(out)
	return out
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if kv.Key == attribute.Key(key) {
			return kv.Value.Emit()
		}
	}
	return ""
}

// describeTrace returns the job's traceId from DescribeJobs (a field AWS
// clients ignore, so the SDK does not decode it).
func describeTrace(t *testing.T, base, id string) string {
	t.Helper()
	body, _ := json.Marshal(pb.DescribeJobsInput{Jobs: []string{id}})
	resp, err := http.Post(base+"/v1/describejobs", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out pb.DescribeJobsOutput
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Jobs) != 1 {
		t.Fatalf("describe %s: %v %+v", id, err, out)
	}
	j := out.Jobs[0]
	if len(j.TraceID) != 32 || !strings.Contains(j.TraceParent, j.TraceID) {
		t.Fatalf("job %s: traceId %q, traceParent %q", id, j.TraceID, j.TraceParent)
	}
	return j.TraceID
}

func waitHealthy(t *testing.T, base string, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-done:
			t.Fatalf("batchd stopped at start: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatal("batchd did not answer in 60s")
}

// metrics are the families of a /metrics answer.
type metrics map[string]*dto.MetricFamily

type labels map[string]string

func scrape(t *testing.T, base string) metrics {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s\n%s", resp.Status, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics is not the Prometheus text format: %v\n%s", err, body)
	}
	return fams
}

// value returns the sample of family name whose labels include want.
func (m metrics) value(t *testing.T, name string, want labels) float64 {
	t.Helper()
	v, err := m.lookup(name, want)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// sample is a value expected on /metrics.
type sample struct {
	name   string
	labels labels
	value  float64
}

// waitMetrics scrapes /metrics until it shows every sample (30 s at most)
// and returns the last scrape.
func waitMetrics(t *testing.T, base string, want []sample) metrics {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		m := scrape(t, base)
		var errs []error
		for _, w := range want {
			got, err := m.lookup(w.name, w.labels)
			if err == nil && got != w.value {
				err = fmt.Errorf("%s%v = %g, want %g", w.name, w.labels, got, w.value)
			}
			if err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) == 0 {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s: %v", errors.Join(errs...))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (m metrics) lookup(name string, want labels) (float64, error) {
	base, suffix := name, ""
	for _, s := range []string{"_count", "_sum"} {
		if f := m[strings.TrimSuffix(name, s)]; strings.HasSuffix(name, s) && f != nil && f.GetType() == dto.MetricType_HISTOGRAM {
			base, suffix = strings.TrimSuffix(name, s), s
		}
	}
	f := m[base]
	if f == nil {
		return 0, fmt.Errorf("/metrics has no family %s", base)
	}
next:
	for _, s := range f.GetMetric() {
		have := map[string]string{}
		for _, lp := range s.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case suffix == "_count":
			return float64(s.GetHistogram().GetSampleCount()), nil
		case suffix == "_sum":
			return s.GetHistogram().GetSampleSum(), nil
		case s.Gauge != nil:
			return s.GetGauge().GetValue(), nil
		case s.Counter != nil:
			return s.GetCounter().GetValue(), nil
		}
		return 0, fmt.Errorf("%s%v: not a gauge or counter", name, want)
	}
	return 0, fmt.Errorf("/metrics has no sample %s%v", name, want)
}

// jobLogLines returns the JSON log lines about a job.
func jobLogLines(t *testing.T, logs, jobID string) []map[string]any {
	t.Helper()
	var out []map[string]any
	dec := json.NewDecoder(strings.NewReader(logs))
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatalf("a log line is not JSON: %v", err)
		}
		if m["job_id"] == jobID {
			out = append(out, m)
		}
	}
}

// syncBuffer is a bytes.Buffer the services may write to concurrently.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

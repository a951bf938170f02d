package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	colmetric "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"
)

// batchd configured only by the standard OTEL_* variables exports its
// spans and metrics over OTLP/HTTP to a receiver in this test: the spans of
// a job run in a real container are in the trace DescribeJobs names, from
// every service; /metrics on the HTTP port counts the job; the log lines
// about the job carry its trace id.
func TestTelemetryExportE2E(t *testing.T) {
	recv := newOTLPReceiver(t)
	d := startDaemonEnv(t, []string{
		"OTEL_TRACES_EXPORTER=otlp", "OTEL_METRICS_EXPORTER=otlp",
		"OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf", "OTEL_EXPORTER_OTLP_ENDPOINT=" + recv.url,
		"OTEL_BSP_SCHEDULE_DELAY=200", "OTEL_METRIC_EXPORT_INTERVAL=500", "OTEL_SERVICE_NAME=batchd-e2e",
	}, "--host-vcpus", "4", "--host-memory", "4096", "--log-level", "debug")
	c := d.client()
	setupQueue(t, c, "otel", 4, "1", "32", "sh", "-c", "echo exported")
	id := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("exported"), JobQueue: aws.String("otel-queue"),
		JobDefinition: aws.String("otel-def")})
	if j := waitFinal(t, c, 2*time.Minute, id)[id]; j.Status != types.JobStatusSucceeded {
		t.Fatalf("job: %s %q", j.Status, aws.ToString(j.StatusReason))
	}
	base := "http://" + d.httpAddr
	traceID := describeTrace(t, base, id)

	// Spans: the job's whole path, in the trace DescribeJobs names.
	want := []string{"Batch/SubmitJob", "monitor.submit", "scheduler.gate", "monitor.gate", "scheduler.place",
		"monitor.placed", "launcher.placed", "podman.create", "podman.start", "monitor.started", "launcher.wait", "monitor.exited"}
	var got []exportedSpan
	deadline := time.Now().Add(30 * time.Second)
	for {
		got = recv.spansOf(traceID)
		if len(missingSpans(want, got)) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("exported spans of trace %s after 30s: %v; want %v", traceID, got, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
	services := map[string]bool{}
	for _, s := range got {
		if s.resourceService != "batchd-e2e" {
			t.Fatalf("span %s: resource service.name %q, want OTEL_SERVICE_NAME's batchd-e2e", s.name, s.resourceService)
		}
		services[s.service] = true
	}
	for _, s := range []string{"api", "scheduler", "launcher", "monitor"} {
		if !services[s] {
			t.Errorf("no exported span of the %s in the job's trace: %v", s, got)
		}
	}

	// Metrics: on /metrics, and exported over OTLP.
	waitMetrics(t, base, []sample{
		{"batchd_jobs", labels{"queue": "otel-queue", "status": "SUCCEEDED"}, 1},
		{"batchd_jobs", labels{"queue": "otel-queue", "status": "RUNNING"}, 0},
		{"batchd_job_submit_to_running_duration_seconds_count", labels{"queue": "otel-queue"}, 1},
		{"batchd_job_running_to_done_duration_seconds_count", labels{"queue": "otel-queue", "status": "SUCCEEDED"}, 1},
		{"batchd_compute_environment_vcpus", labels{"compute_environment": "otel-ce", "state": "free"}, 4},
	})
	deadline = time.Now().Add(30 * time.Second)
	for _, name := range []string{"batchd.jobs", "batchd.compute_environment.vcpus", "batchd.job.running_to_done.duration"} {
		for !recv.hasMetric(name) {
			if time.Now().After(deadline) {
				t.Fatalf("metric %s not exported over OTLP after 30s (got %v)", name, recv.metricNames())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	// Logs: every line about the job (text format) names its trace.
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(d.logs()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "job_id="+id) {
			lines = append(lines, sc.Text())
		}
	}
	if len(lines) < 2 {
		t.Fatalf("want the debug log lines about job %s, got %q", id, lines)
	}
	for _, l := range lines {
		if !strings.Contains(l, "trace_id="+traceID) {
			t.Fatalf("log line about the job without trace_id=%s: %s", traceID, l)
		}
	}
}

// Without OTEL_* variables nothing is exported: batchd runs, jobs still get
// a trace id, and no exporter connects anywhere (the OTLP default endpoint
// here is a receiver that must see nothing).
func TestTelemetryNoneByDefaultE2E(t *testing.T) {
	recv := newOTLPReceiver(t)
	// Point the OTLP endpoint at the receiver, with short export
	// intervals, without choosing an exporter.
	d := startDaemonEnv(t, []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + recv.url, "OTEL_BSP_SCHEDULE_DELAY=100",
		"OTEL_METRIC_EXPORT_INTERVAL=100"}, "--host-vcpus", "2", "--host-memory", "2048")
	c := d.client()
	setupQueue(t, c, "quiet", 2, "1", "32", "true")
	id := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("quiet"), JobQueue: aws.String("quiet-queue"),
		JobDefinition: aws.String("quiet-def")})
	waitFinal(t, c, 2*time.Minute, id)
	describeTrace(t, "http://"+d.httpAddr, id)
	time.Sleep(time.Second) // longer than the export intervals set above
	d.stop(syscall.SIGTERM) // an exporter would flush now
	if n := recv.requests(); n != 0 {
		t.Fatalf("with no OTEL_*_EXPORTER set, %d OTLP requests were sent", n)
	}
	if !strings.Contains(d.logs(), "msg=telemetry traces=none metrics=none") {
		t.Fatalf("batchd did not say it exports nothing:\n%s", d.logs())
	}
}

// otlpReceiver is an OTLP/HTTP (protobuf) receiver of traces and metrics.
type otlpReceiver struct {
	url   string
	mu    sync.Mutex
	spans []exportedSpan
	mets  map[string]bool
	reqs  int
}

type exportedSpan struct {
	traceID, name, service, resourceService string
}

func (s exportedSpan) String() string { return s.service + ":" + s.name }

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	r := &otlpReceiver{mets: map[string]bool{}}
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

func (r *otlpReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs++
	switch req.URL.Path {
	case "/v1/traces":
		var in coltrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, rs := range in.GetResourceSpans() {
			svc := attrValue(rs.GetResource().GetAttributes(), "service.name")
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					r.spans = append(r.spans, exportedSpan{traceID: fmt.Sprintf("%x", s.GetTraceId()), name: s.GetName(),
						service: attrValue(s.GetAttributes(), "batchd.service"), resourceService: svc})
				}
			}
		}
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	case "/v1/metrics":
		var in colmetric.ExportMetricsServiceRequest
		if err := proto.Unmarshal(body, &in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, rm := range in.GetResourceMetrics() {
			for _, sm := range rm.GetScopeMetrics() {
				for _, m := range sm.GetMetrics() {
					r.mets[m.GetName()] = true
				}
			}
		}
		out, _ := proto.Marshal(&colmetric.ExportMetricsServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	default:
		http.NotFound(w, req)
	}
}

// missingSpans returns the names in want that no span in got has.
func missingSpans(want []string, got []exportedSpan) []string {
	var out []string
	for _, n := range want {
		if !slices.ContainsFunc(got, func(s exportedSpan) bool { return s.name == n }) {
			out = append(out, n)
		}
	}
	return out
}

func attrValue(kvs []*commonpb.KeyValue, key string) string {
	for _, kv := range kvs {
		if kv.GetKey() == key {
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}

func (r *otlpReceiver) spansOf(traceID string) []exportedSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []exportedSpan
	for _, s := range r.spans {
		if s.traceID == traceID {
			out = append(out, s)
		}
	}
	return out
}

func (r *otlpReceiver) hasMetric(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mets[name]
}

func (r *otlpReceiver) metricNames() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for n := range r.mets {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func (r *otlpReceiver) requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reqs
}

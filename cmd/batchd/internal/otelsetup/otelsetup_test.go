package otelsetup

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/batchd/batchd/pkg/telemetry"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

func clearEnv(t *testing.T) {
	for _, k := range []string{envTracesExporter, envMetricsExporter, envTracesSampler, "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"} {
		t.Setenv(k, "")
	}
}

// With no OTEL_* variables nothing is exported, yet spans have ids (a job
// gets a trace id; they are sampled out, as nobody reads them) and
// /metrics serves the process's instruments.
func TestSetupNoneByDefault(t *testing.T) {
	clearEnv(t)
	tel, err := Setup(context.Background(), Options{ServiceName: "batchd-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	if tel.TracesExporter != "none" || tel.MetricsExporter != "none" {
		t.Fatalf("exporters %q/%q, want none", tel.TracesExporter, tel.MetricsExporter)
	}
	ctx, span := telemetry.Tracer("api").Start(context.Background(), "x")
	_, child := telemetry.Tracer("monitor").Start(ctx, "y")
	child.End()
	span.End()
	if sc := span.SpanContext(); !sc.IsValid() || sc.IsSampled() || span.IsRecording() {
		t.Fatalf("span context %+v, recording %v: want a valid one, sampled out", sc, span.IsRecording())
	}
	if child.SpanContext().TraceID() != span.SpanContext().TraceID() || child.IsRecording() {
		t.Fatalf("child %+v: want the same trace, not recorded", child.SpanContext())
	}
	c, err := otel.Meter("batchd/test").Int64Counter("batchd.test.things")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(context.Background(), 3, metric.WithAttributes(attribute.String("kind", "a")))
	rec := httptest.NewRecorder()
	tel.Metrics.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{`batchd_test_things_total{kind="a",otel_scope_name="batchd/test"`, `target_info{service_name="batchd-test"`, "go_goroutines"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s:\n%s", want, body)
		}
	}
}

// The standard variables choose the exporters and the service name; an
// unknown exporter is an error, not a silent none.
func TestSetupFromEnvironment(t *testing.T) {
	clearEnv(t)
	t.Setenv(envTracesExporter, "console")
	t.Setenv(envMetricsExporter, "prometheus") // /metrics already is
	t.Setenv("OTEL_SERVICE_NAME", "batchd-east")
	rec := tracetest.NewSpanRecorder()
	tel, err := Setup(context.Background(), Options{ServiceName: "batchd", SpanProcessors: []sdktrace.SpanProcessor{rec}})
	if err != nil {
		t.Fatal(err)
	}
	if tel.TracesExporter != "console" || tel.MetricsExporter != "none" {
		t.Fatalf("exporters %q/%q, want console/none", tel.TracesExporter, tel.MetricsExporter)
	}
	_, span := telemetry.Tracer("monitor").Start(context.Background(), "monitor.submit")
	span.End()
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ended := rec.Ended()
	if len(ended) != 1 {
		t.Fatalf("recorded %d spans", len(ended))
	}
	s := ended[0]
	svc, _ := s.Resource().Set().Value("service.name")
	if svc.AsString() != "batchd-east" || s.InstrumentationScope().Name != "batchd/monitor" {
		t.Fatalf("span resource service.name %q, scope %q", svc.AsString(), s.InstrumentationScope().Name)
	}
	found := false
	for _, kv := range s.Attributes() {
		found = found || (kv.Key == telemetry.AttrService && kv.Value.AsString() == "monitor")
	}
	if !found {
		t.Fatalf("span attributes %v lack batchd.service=monitor", s.Attributes())
	}

	t.Setenv(envTracesExporter, "zipkin")
	if _, err := Setup(context.Background(), Options{ServiceName: "batchd"}); err == nil {
		t.Fatal("OTEL_TRACES_EXPORTER=zipkin: want an error")
	}
}

// The cost of the spans of one job's path (12 spans, as in the trace of a
// job that runs once): recorded and dropped (no exporter), sampled out
// (what batchd does when nothing is configured), and the no-op API.
func BenchmarkJobSpans(b *testing.B) {
	for _, bc := range []struct {
		name string
		tp   trace.TracerProvider
	}{
		{"sdk-recording", sdktrace.NewTracerProvider()},
		{"sdk-sampled-out", sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())))},
		{"noop", noop.NewTracerProvider()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tr := bc.tp.Tracer("batchd/bench")
			attrs := trace.WithAttributes(telemetry.JobID("0f8fad5b-d9cb-469f-a165-70867728950e"), telemetry.Attempt(1))
			b.ReportAllocs()
			for b.Loop() {
				ctx, root := tr.Start(context.Background(), "Batch/SubmitJob", attrs)
				for range 11 {
					_, s := tr.Start(ctx, "step", attrs)
					s.End()
				}
				root.End()
			}
		})
	}
}

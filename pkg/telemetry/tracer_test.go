package telemetry_test

import (
	"context"
	"testing"

	"github.com/batchd/batchd/pkg/telemetry"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
	"go.opentelemetry.io/otel/trace/noop"
)

// recordingProvider hands out tracers that note the scope and the
// attributes of the spans they start (the SDK is not a dependency here).
type recordingProvider struct {
	embedded.TracerProvider
	scopes []string
	attrs  [][]string
}

func (p *recordingProvider) Tracer(name string, _ ...trace.TracerOption) trace.Tracer {
	p.scopes = append(p.scopes, name)
	return recordingTracer{p: p}
}

type recordingTracer struct {
	embedded.Tracer
	p *recordingProvider
}

func (t recordingTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	var kv []string
	cfg := trace.NewSpanStartConfig(opts...)
	for _, a := range cfg.Attributes() {
		kv = append(kv, string(a.Key)+"="+a.Value.Emit())
	}
	t.p.attrs = append(t.p.attrs, kv)
	return noop.NewTracerProvider().Tracer("").Start(ctx, name)
}

// A service tracer names its service in its scope and on every span, and
// follows the global provider even when it is replaced after the tracer
// was made (tests, and tracers made at package init).
func TestTracerFollowsGlobalProvider(t *testing.T) {
	prev := otel.GetTracerProvider()
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	tr := telemetry.Tracer("scheduler")
	first, second := &recordingProvider{}, &recordingProvider{}
	otel.SetTracerProvider(first)
	_, s := tr.Start(context.Background(), "a", trace.WithAttributes(telemetry.JobID("j-1")))
	s.End()
	_, s = tr.Start(context.Background(), "b")
	s.End()
	otel.SetTracerProvider(second)
	_, s = tr.Start(context.Background(), "c")
	s.End()
	if len(first.scopes) != 1 || first.scopes[0] != "batchd/scheduler" || len(first.attrs) != 2 {
		t.Fatalf("first provider: scopes %v, spans %v (want one tracer, two spans)", first.scopes, first.attrs)
	}
	if got := first.attrs[0]; len(got) != 2 || got[0] != "batch.job_id=j-1" || got[1] != "batchd.service=scheduler" {
		t.Fatalf("span attributes %v", got)
	}
	if len(second.scopes) != 1 || len(second.attrs) != 1 || second.attrs[0][0] != "batchd.service=scheduler" {
		t.Fatalf("second provider: scopes %v, spans %v", second.scopes, second.attrs)
	}
}

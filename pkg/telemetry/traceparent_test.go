package telemetry_test

import (
	"context"
	"testing"

	"github.com/batchd/batchd/pkg/telemetry"
	"go.opentelemetry.io/otel/trace"
)

// The traceparent kept on a record gives back the same span context, as a
// remote parent.
func TestTraceParentRoundTrip(t *testing.T) {
	sc := spanContext(t)
	tp := telemetry.TraceParent(trace.ContextWithSpanContext(context.Background(), sc))
	if tp != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Fatalf("traceparent: %q", tp)
	}
	got := trace.SpanContextFromContext(telemetry.WithTraceParent(context.Background(), tp))
	if got.TraceID() != sc.TraceID() || got.SpanID() != sc.SpanID() || !got.IsSampled() || !got.IsRemote() {
		t.Fatalf("span context from %q: %+v", tp, got)
	}
}

func TestTraceParentEmpty(t *testing.T) {
	if tp := telemetry.TraceParent(context.Background()); tp != "" {
		t.Fatalf("no span: want no traceparent, got %q", tp)
	}
	for _, tp := range []string{"", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"} {
		if sc := trace.SpanContextFromContext(telemetry.WithTraceParent(context.Background(), tp)); sc.IsValid() {
			t.Fatalf("%q gave a valid span context %+v", tp, sc)
		}
	}
}

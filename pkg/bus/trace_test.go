package bus_test

import (
	"context"
	"testing"

	"github.com/batchd/batchd/pkg/bus"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

func init() {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
}

// Headers written by this process keep "traceparent" in lower case, as
// nats.js and nats.py write and read it.
func TestInjectLowerCase(t *testing.T) {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	h := nats.Header{}
	bus.Inject(ctx, h)
	if got := h["traceparent"]; len(got) != 1 || got[0] != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Fatalf("headers: %v", h)
	}
}

// A consumer span continues the trace of a message from another client,
// whatever the case of its header.
func TestStartConsumerSpanContinuesTrace(t *testing.T) {
	tr := noop.NewTracerProvider().Tracer("test") // passes the parent's span context through
	for _, key := range []string{"traceparent", "Traceparent", "TRACEPARENT"} {
		h := nats.Header{key: {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}
		ctx, span := bus.StartConsumerSpan(context.Background(), tr, "x", "batch.job.submit.j", h)
		sc := trace.SpanContextFromContext(ctx)
		if sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || !sc.IsRemote() {
			t.Fatalf("header %q: span context %+v", key, sc)
		}
		span.End()
	}
	ctx, span := bus.StartConsumerSpan(context.Background(), tr, "x", "s", nil)
	defer span.End()
	if trace.SpanContextFromContext(ctx).IsValid() {
		t.Fatal("a message without headers gave a parent")
	}
}

package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// A job record keeps the W3C traceparent of its SubmitJob request
// (batch.JobDetail.TraceParent). Services that act on the record rather
// than on a message, such as the scheduler, continue the job's trace from
// it; services that act on a message continue from the message's headers.

var w3c = propagation.TraceContext{}

// TraceParent returns the W3C traceparent of ctx's span ("" when ctx has
// no valid span context).
func TraceParent(ctx context.Context) string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ""
	}
	c := propagation.MapCarrier{}
	w3c.Inject(ctx, c)
	return c["traceparent"]
}

// WithTraceParent returns ctx carrying the remote span context of a W3C
// traceparent, so that spans started from it join that trace; ctx is
// returned unchanged when tp is empty or malformed.
func WithTraceParent(ctx context.Context, tp string) context.Context {
	if tp == "" {
		return ctx
	}
	return w3c.Extract(ctx, propagation.MapCarrier{"traceparent": tp})
}

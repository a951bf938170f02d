package scheduler

import (
	"context"

	"go.opentelemetry.io/otel/trace"
)

// traceContext puts the job's trace (recorded on its record at submit) in
// ctx, so the scheduler's spans join the job's trace.
func traceContext(ctx context.Context, traceID string) context.Context {
	tid, err := trace.TraceIDFromHex(traceID)
	if err != nil {
		return ctx
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled, Remote: true})
	return trace.ContextWithRemoteSpanContext(ctx, sc)
}

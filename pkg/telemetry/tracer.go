package telemetry

import (
	"context"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// Attribute keys on spans.
const (
	// AttrService names the service that made a span: api, scheduler,
	// launcher, monitor or notifier. In the all-in-one batchd every span
	// has the same resource (service.name "batchd"); this tells them apart.
	AttrService = attribute.Key("batchd.service")
	// AttrJobID is the job a span works on.
	AttrJobID = attribute.Key("batch.job_id")
	// AttrAttempt is the job attempt (1-based) a span works on.
	AttrAttempt = attribute.Key("batch.attempt")
)

// Log attribute keys.
const (
	LogJobID   = "job_id"
	LogTraceID = "trace_id"
	LogSpanID  = "span_id"
)

// JobID is the span attribute of a job id.
func JobID(id string) attribute.KeyValue { return AttrJobID.String(id) }

// Attempt is the span attribute of a job attempt.
func Attempt(n int) attribute.KeyValue { return AttrAttempt.Int(n) }

// Tracer returns the tracer of a batchd service ("api", "scheduler",
// "launcher", "monitor", "notifier"): its instrumentation scope is
// "batchd/<service>" and every span it starts has the attribute
// batchd.service=<service>. It follows the global TracerProvider, also one
// set, or set again, after this call.
func Tracer(service string) trace.Tracer {
	return &serviceTracer{scope: "batchd/" + service, attr: AttrService.String(service)}
}

type serviceTracer struct {
	embedded.Tracer
	scope string
	attr  attribute.KeyValue
	cur   atomic.Pointer[boundTracer]
}

// boundTracer is the tracer of one provider.
type boundTracer struct {
	tp trace.TracerProvider
	tr trace.Tracer
}

func (t *serviceTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	tp := otel.GetTracerProvider()
	b := t.cur.Load()
	if b == nil || b.tp != tp {
		b = &boundTracer{tp: tp, tr: tp.Tracer(t.scope)}
		t.cur.Store(b)
	}
	return b.tr.Start(ctx, name, append(opts, trace.WithAttributes(t.attr))...)
}

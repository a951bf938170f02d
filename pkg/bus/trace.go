package bus

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// HeaderCarrier adapts NATS headers to OpenTelemetry without changing the
// case of keys: it writes "traceparent" in lower case, as nats.js and
// nats.py peers do, and reads it in any case.
type HeaderCarrier nats.Header

// Get returns the first value of key, matched in any case.
func (c HeaderCarrier) Get(key string) string {
	if v := nats.Header(c).Get(key); v != "" {
		return v
	}
	for k, v := range c {
		if strings.EqualFold(k, key) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// Set stores value under key exactly as given.
func (c HeaderCarrier) Set(key, value string) { nats.Header(c).Set(key, value) }

// Keys lists the header keys.
func (c HeaderCarrier) Keys() []string { return slices.Collect(maps.Keys(c)) }

var _ propagation.TextMapCarrier = HeaderCarrier{}

// Inject writes ctx's trace context into h.
func Inject(ctx context.Context, h nats.Header) {
	otel.GetTextMapPropagator().Inject(ctx, HeaderCarrier(h))
}

// Extract returns ctx carrying the trace context found in h.
func Extract(ctx context.Context, h nats.Header) context.Context {
	if h == nil {
		return ctx
	}
	return otel.GetTextMapPropagator().Extract(ctx, HeaderCarrier(h))
}

// StartConsumerSpan starts the span of handling a message received on
// subject with headers h: a consumer span, child of the trace context in
// the headers (when there is one), with the messaging attributes
// (messaging.system "nats", the subject, the Nats-Msg-Id) and attrs.
// End it when the message is handled.
func StartConsumerSpan(ctx context.Context, tr trace.Tracer, name, subject string, h nats.Header, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	ctx = Extract(ctx, h)
	kv := make([]attribute.KeyValue, 0, len(attrs)+4)
	kv = append(kv, attribute.String("messaging.system", "nats"), attribute.String("messaging.operation.type", "process"),
		attribute.String("messaging.destination.name", subject))
	if id := HeaderCarrier(h).Get(jetstream.MsgIDHeader); id != "" {
		kv = append(kv, attribute.String("messaging.message.id", id))
	}
	kv = append(kv, attrs...)
	return tr.Start(ctx, name, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(kv...))
}

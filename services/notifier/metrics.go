package notifier

import (
	"fmt"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// metrics are the notifier's counters, made from the global
// MeterProvider (batchd exports them at /metrics).
type metrics struct {
	delivered    metric.Int64Counter
	retried      metric.Int64Counter
	deadLettered metric.Int64Counter
}

func newMetrics() (*metrics, error) {
	m := otel.Meter("batchd/notifier")
	var out metrics
	var err error
	if out.delivered, err = m.Int64Counter("batchd.notifications.delivered",
		metric.WithDescription("notifications delivered to their target"), metric.WithUnit("{notification}")); err != nil {
		return nil, fmt.Errorf("counter: %w", err)
	}
	if out.retried, err = m.Int64Counter("batchd.notifications.retried",
		metric.WithDescription("failed delivery attempts that were retried"), metric.WithUnit("{attempt}")); err != nil {
		return nil, fmt.Errorf("counter: %w", err)
	}
	if out.deadLettered, err = m.Int64Counter("batchd.notifications.dead_lettered",
		metric.WithDescription("notifications given up on and stored in the dead-letter stream"), metric.WithUnit("{notification}")); err != nil {
		return nil, fmt.Errorf("counter: %w", err)
	}
	return &out, nil
}

func metricAttrs(attrs []attribute.KeyValue) metric.AddOption {
	return metric.WithAttributes(attrs...)
}

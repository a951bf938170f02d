package api

import (
	"context"
	"fmt"

	"github.com/batchd/batchd/pkg/batch"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// MetricJobs is the gauge of jobs by queue and status.
const MetricJobs = "batchd.jobs"

// registerMetrics adds the api's instruments to the global MeterProvider:
// the number of jobs per queue and status, read from the ListJobs index
// when metrics are collected (nothing is counted twice). Every known queue
// reports every status, zeros included, so a series does not vanish when
// its last job moves on.
func (s *Server) registerMetrics() (metric.Registration, error) {
	meter := otel.Meter("batchd/api")
	jobs, err := meter.Int64ObservableGauge(MetricJobs, metric.WithUnit("{job}"),
		metric.WithDescription("Jobs by queue and status, as their records show them (array children counted)."))
	if err != nil {
		return nil, fmt.Errorf("metric %s: %w", MetricJobs, err)
	}
	return meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		counts := map[string][7]int{}
		for _, q := range s.queues.list() {
			counts[q.key] = [7]int{}
		}
		s.index.queueCounts(func(queue string, c *[7]int) { counts[queue] = *c })
		for queue, c := range counts {
			for i, st := range batch.AllStatuses {
				o.ObserveInt64(jobs, int64(c[i]), metric.WithAttributes(
					attribute.String("queue", queue), attribute.String("status", string(st))))
			}
		}
		return nil
	}, jobs)
}

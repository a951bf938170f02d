package monitor

import (
	"context"
	"fmt"

	"github.com/batchd/batchd/pkg/batch"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Metric names of the monitor.
const (
	MetricSubmitToRunning = "batchd.job.submit_to_running.duration"
	MetricRunningToDone   = "batchd.job.running_to_done.duration"
)

// latencyBuckets are the histogram bounds in seconds: from the sub-second
// start of a container to jobs of hours.
var latencyBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600}

// metrics are the latency histograms the monitor records as it applies
// transitions: it writes every record, so each transition is seen once
// (a redelivered fact changes nothing and records nothing).
type metrics struct {
	submitToRunning metric.Float64Histogram
	runningToDone   metric.Float64Histogram
}

func newMetrics() (*metrics, error) {
	meter := otel.Meter("batchd/monitor")
	s2r, err := meter.Float64Histogram(MetricSubmitToRunning, metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(latencyBuckets...),
		metric.WithDescription("Time from SubmitJob (createdAt) to the first attempt's container running (startedAt), per queue."))
	if err != nil {
		return nil, fmt.Errorf("metric %s: %w", MetricSubmitToRunning, err)
	}
	r2d, err := meter.Float64Histogram(MetricRunningToDone, metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(latencyBuckets...),
		metric.WithDescription("Time from the last attempt's container running (startedAt) to the job's end (stoppedAt), per queue and final status."))
	if err != nil {
		return nil, fmt.Errorf("metric %s: %w", MetricRunningToDone, err)
	}
	return &metrics{submitToRunning: s2r, runningToDone: r2d}, nil
}

// transition records the latencies of a record that has just moved from
// before to j.Status, from the record's own times.
func (m *metrics) transition(ctx context.Context, before batch.JobStatus, j *batch.JobDetail) {
	queue := j.QueueName()
	switch {
	case j.Status == batch.StatusRunning && len(j.Attempts) == 0 && j.CreatedAt > 0 && j.StartedAt >= j.CreatedAt:
		m.submitToRunning.Record(ctx, seconds(j.StartedAt-j.CreatedAt), metric.WithAttributes(attribute.String("queue", queue)))
	case j.Status.Final() && before == batch.StatusRunning && j.StartedAt > 0 && j.StoppedAt >= j.StartedAt:
		m.runningToDone.Record(ctx, seconds(j.StoppedAt-j.StartedAt), metric.WithAttributes(
			attribute.String("queue", queue), attribute.String("status", string(j.Status))))
	}
}

func seconds(ms int64) float64 { return float64(ms) / 1000 }

package scheduler

import (
	"context"
	"fmt"
	"time"

	"github.com/batchd/batchd/services/scheduler/internal/plan"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Metric names of the scheduler.
const (
	MetricEnvVCPUs  = "batchd.compute_environment.vcpus"
	MetricEnvMemory = "batchd.compute_environment.memory"
)

// snapshotTimeout bounds how long a metrics collection waits for the
// scheduling loop (busy with a long pass) before it reports nothing.
const snapshotTimeout = 2 * time.Second

// registerMetrics adds the capacity gauges to the global MeterProvider:
// vCPUs and memory in use and free per compute environment, with the
// attribute state="in_use" or "free". They are computed by the scheduling
// loop from the state it keeps, only when metrics are collected.
func (s *scheduler) registerMetrics() (metric.Registration, error) {
	meter := otel.Meter("batchd/scheduler")
	vcpus, err := meter.Float64ObservableGauge(MetricEnvVCPUs, metric.WithUnit("{vcpu}"),
		metric.WithDescription("vCPUs of a compute environment held by its STARTING and RUNNING jobs (state=in_use) or free on the live hosts serving it within its maxvCpus (state=free)."))
	if err != nil {
		return nil, fmt.Errorf("metric %s: %w", MetricEnvVCPUs, err)
	}
	mem, err := meter.Int64ObservableGauge(MetricEnvMemory, metric.WithUnit("By"),
		metric.WithDescription("Memory held by a compute environment's STARTING and RUNNING jobs (state=in_use) or free on the live hosts serving it (state=free)."))
	if err != nil {
		return nil, fmt.Errorf("metric %s: %w", MetricEnvMemory, err)
	}
	inUse, free := attribute.String("state", "in_use"), attribute.String("state", "free")
	return meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		caps, ok := s.capacity(ctx)
		if !ok {
			return nil
		}
		for name, c := range caps {
			env := attribute.String("compute_environment", name)
			o.ObserveFloat64(vcpus, c.VCPUsInUse.Float(), metric.WithAttributes(env, inUse))
			o.ObserveFloat64(vcpus, c.VCPUsFree.Float(), metric.WithAttributes(env, free))
			o.ObserveInt64(mem, c.MemoryMiBInUse<<20, metric.WithAttributes(env, inUse))
			o.ObserveInt64(mem, c.MemoryMiBFree<<20, metric.WithAttributes(env, free))
		}
		return nil
	}, vcpus, mem)
}

// capacity asks the scheduling loop for the environments' capacity.
func (s *scheduler) capacity(ctx context.Context) (map[string]plan.EnvCapacity, bool) {
	ctx, cancel := context.WithTimeout(ctx, snapshotTimeout)
	defer cancel()
	reply := make(chan map[string]plan.EnvCapacity, 1)
	select {
	case s.snapshots <- reply:
	case <-ctx.Done():
		return nil, false
	}
	select {
	case c := <-reply:
		return c, true
	case <-ctx.Done():
		return nil, false
	}
}

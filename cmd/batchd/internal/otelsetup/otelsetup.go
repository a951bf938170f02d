// Package otelsetup wires OpenTelemetry for the batchd process, in one
// place: the W3C propagator, a TracerProvider and a MeterProvider set as
// the global ones (the services use only the API: pkg/telemetry, otel.Meter),
// span and metric exporters chosen by the standard OTEL_* environment
// variables, and the Prometheus endpoint.
//
// Nothing is exported anywhere unless asked: with OTEL_TRACES_EXPORTER and
// OTEL_METRICS_EXPORTER unset (or "none"), spans are still made (so a job
// has a trace id) but sampled out, which costs less than recording them
// for nobody, and metrics are only served on /metrics.
package otelsetup

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	promexporter "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// Environment variables read here (the exporters read the other OTEL_*
// variables themselves: endpoints, headers, protocol, timeouts).
const (
	envTracesExporter  = "OTEL_TRACES_EXPORTER"
	envMetricsExporter = "OTEL_METRICS_EXPORTER"
	envTracesSampler   = "OTEL_TRACES_SAMPLER"
)

// Telemetry is the process's OpenTelemetry: its providers and the
// Prometheus handler. Shutdown flushes what is buffered.
type Telemetry struct {
	Tracer *sdktrace.TracerProvider
	Meter  *sdkmetric.MeterProvider
	// Metrics serves the Prometheus text format of every metric of the
	// process (mount it at /metrics).
	Metrics http.Handler
	// TracesExporter and MetricsExporter say what was chosen ("none",
	// "otlp", "console").
	TracesExporter, MetricsExporter string
}

// Options are what the caller knows better than the environment.
type Options struct {
	// ServiceName is the resource's service.name unless OTEL_SERVICE_NAME
	// or OTEL_RESOURCE_ATTRIBUTES say otherwise.
	ServiceName string
	// SpanProcessors are added to the TracerProvider (tests record spans
	// with tracetest.SpanRecorder).
	SpanProcessors []sdktrace.SpanProcessor
}

// Setup makes the providers, sets them (and the W3C trace context and
// baggage propagator) as the global ones, and returns them.
func Setup(ctx context.Context, o Options) (*Telemetry, error) {
	res, err := resource.New(ctx, resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithAttributes(semconv.ServiceName(o.ServiceName)), resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, fmt.Errorf("otel resource: %w", err)
	}
	t := &Telemetry{TracesExporter: "none", MetricsExporter: "none"}

	topts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if v := os.Getenv(envTracesExporter); v != "" && v != "none" {
		exp, err := autoexport.NewSpanExporter(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s=%s: %w", envTracesExporter, v, err)
		}
		topts = append(topts, sdktrace.WithBatcher(exp))
		t.TracesExporter = v
	}
	for _, sp := range o.SpanProcessors {
		topts = append(topts, sdktrace.WithSpanProcessor(sp))
	}
	// Nobody reads the spans: keep their ids (the job's traceId, the
	// traceparent headers) but record nothing, unless a trace arrives
	// sampled from outside or OTEL_TRACES_SAMPLER says otherwise.
	if t.TracesExporter == "none" && len(o.SpanProcessors) == 0 && os.Getenv(envTracesSampler) == "" {
		topts = append(topts, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())))
	}
	t.Tracer = sdktrace.NewTracerProvider(topts...)

	// The Prometheus endpoint reads every instrument; its registry holds
	// the Go runtime and process collectors too.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	prom, err := promexporter.New(promexporter.WithRegisterer(reg))
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	mopts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithReader(prom)}
	// "prometheus" asks autoexport for a second Prometheus server on
	// another port: /metrics already is one.
	if v := os.Getenv(envMetricsExporter); v != "" && v != "none" && v != "prometheus" {
		r, err := autoexport.NewMetricReader(ctx)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("%s=%s: %w", envMetricsExporter, v, err), t.Tracer.Shutdown(ctx))
		}
		mopts = append(mopts, sdkmetric.WithReader(r))
		t.MetricsExporter = v
	}
	t.Meter = sdkmetric.NewMeterProvider(mopts...)
	t.Metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true})

	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	otel.SetTracerProvider(t.Tracer)
	otel.SetMeterProvider(t.Meter)
	return t, nil
}

// Shutdown exports the spans and metrics still buffered and stops the
// exporters.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	return errors.Join(t.Tracer.Shutdown(ctx), t.Meter.Shutdown(ctx))
}

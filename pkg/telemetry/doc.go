// Package telemetry is what every service shares to report on itself
// through the OpenTelemetry API (never the SDK: main decides where spans
// and metrics go): a tracer that names its service, the attribute and log
// keys of a job, the W3C traceparent kept on a job record, and a log/slog
// handler that adds the trace and span ids of a log line's context.
package telemetry

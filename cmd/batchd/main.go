// Command batchd is the all-in-one batch server: an embedded NATS server
// with JetStream and the five services in one process, with defaults that
// run jobs on this host's Podman.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/batchd/batchd/cmd/batchd/internal/otelsetup"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "nats-config" {
		if err := natsConfigMain(os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "batchd nats-config:", err)
			os.Exit(2)
		}
		return
	}
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "batchd:", err)
		os.Exit(2)
	}
	log := newLogger(os.Stderr, cfg.logLevel, cfg.logFormat)
	if cfg.memLimit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		// Bursts (a backlog recorded quickly, watchers catching up) leave
		// the heap's peak in the resident set: a soft limit makes the
		// garbage collector return to it first.
		debug.SetMemoryLimit(cfg.memLimit << 20)
	}
	if os.Getenv("GOGC") == "" {
		// Twice Go's default: the collector's share of the control
		// plane's CPU falls (docs/benchmarks.md) while the memory limit
		// above still bounds the heap.
		debug.SetGCPercent(cfg.gcPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Traces and metrics: exporters from the OTEL_* variables (none by
	// default), metrics on /metrics; the trace context travels in NATS
	// headers and HTTP requests (W3C).
	tel, err := otelsetup.Setup(ctx, otelsetup.Options{ServiceName: "batchd"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "batchd: telemetry:", err)
		os.Exit(2)
	}
	log.Info("telemetry", "traces", tel.TracesExporter, "metrics", tel.MetricsExporter, "prometheus", "/metrics")
	err = run(ctx, cfg, log, tel.Metrics)
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := tel.Shutdown(sctx); serr != nil {
		log.Warn("telemetry shutdown", "err", serr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "batchd:", err)
		os.Exit(1)
	}
}

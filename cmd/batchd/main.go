// Command batchd is the all-in-one batch server: an embedded NATS server
// with JetStream and the five services in one process, with defaults that
// run jobs on this host's Podman.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
)

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "batchd:", err)
		os.Exit(2)
	}
	// Trace context travels in NATS headers and HTTP requests (W3C).
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "batchd:", err)
		os.Exit(1)
	}
}

// Command batchbench measures batchd against the performance targets of
// DESIGN.md section 5, side by side with bare Podman in the same run: it
// builds and starts its own batchd on private ports with a scratch data
// folder, drives it only through its public interfaces (the HTTP API, the
// NATS API and the job events), measures, stops it and prints a table (and,
// with --json, one JSON object). docs/benchmarks.md defines every figure.
//
//	go run ./cmd/batchbench            # the full run (about 10-15 minutes)
//	go run ./cmd/batchbench --quick    # smaller sizes, under 3 minutes
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "batchbench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, cfg, os.Stderr)
	if res != nil {
		printTable(os.Stderr, res)
		if cfg.jsonOut {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(res.Figures)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "batchbench:", err)
		os.Exit(1)
	}
}

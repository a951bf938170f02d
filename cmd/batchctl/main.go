// Command batchctl is the command-line client of batchd, a self-hosted AWS
// Batch. Its subcommands mirror "aws batch" (same flags, same JSON output,
// same exit codes) and add logs -f, a live watch of a queue and readable
// tables. See "batchctl --help".
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/batchd/batchd/cmd/batchctl/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.Env{Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	os.Exit(code)
}

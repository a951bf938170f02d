// Package cli is batchctl's command tree: the AWS Batch operations with the
// aws-cli's flag names, exit codes and JSON output, plus what a person at
// a terminal wants (logs, watch, readable tables).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jmespath/go-jmespath"
	"github.com/spf13/cobra"
)

// Exit codes, as aws-cli v2 uses them.
const (
	ExitOK        = 0
	ExitInterrupt = 130 // Ctrl-C
	ExitUsage     = 252 // the command line is wrong
	ExitService   = 254 // the service answered with an error
	ExitFailure   = 255 // anything else: no connection, a broken answer
)

// Defaults of the connection flags.
const (
	DefaultEndpoint = "http://127.0.0.1:8420"
	DefaultNATSURL  = "nats://127.0.0.1:4222"
	DefaultRegion   = "us-east-1"
)

// Env is what one run of batchctl sees of the world.
type Env struct {
	Stdout, Stderr io.Writer
	// Getenv reads environment variables; nil means os.Getenv.
	Getenv func(string) string
	// Location is the time zone of tables; nil means time.Local.
	Location *time.Location
}

// app holds one run's global options.
type app struct {
	env      Env
	endpoint string
	region   string
	output   string
	query    string
	natsURL  string
	noPage   bool
	debug    bool
	compiled *jmespath.JMESPath
}

// Run runs batchctl with args (without the program name) and returns the
// process exit code. Errors are printed on env.Stderr.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	a := &app{env: env}
	root := a.rootCommand()
	root.SetArgs(expandNargs(root, args))
	err := root.ExecuteContext(ctx)
	return a.report(ctx, err)
}

// usageError is a command line the command cannot run.
type usageError struct {
	cmd string // the command path, for the help hint
	err error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(cmd *cobra.Command, format string, args ...any) error {
	return &usageError{cmd: cmd.CommandPath(), err: fmt.Errorf(format, args...)}
}

// serviceError is an error answer of the service.
type serviceError struct {
	op, code, message string
}

func (e *serviceError) Error() string {
	return fmt.Sprintf("An error occurred (%s) when calling the %s operation: %s", e.code, e.op, e.message)
}

// runtimeError is a failure while running a well-formed command.
type runtimeError struct{ err error }

func (e *runtimeError) Error() string { return e.err.Error() }
func (e *runtimeError) Unwrap() error { return e.err }

// run wraps a command body so that its errors are told apart from cobra's
// own (which are all usage errors).
func run(f func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		err := f(cmd, args)
		var u *usageError
		var s *serviceError
		if err == nil || errors.As(err, &u) || errors.As(err, &s) {
			return err
		}
		return &runtimeError{err: err}
	}
}

// report prints err the way aws-cli does and returns the exit code.
func (a *app) report(ctx context.Context, err error) int {
	if err == nil {
		return ExitOK
	}
	var u *usageError
	var s *serviceError
	var r *runtimeError
	switch {
	case errors.As(err, &s):
		fmt.Fprintf(a.env.Stderr, "\n%s\n", s.Error())
		return ExitService
	case errors.As(err, &u):
		fmt.Fprintf(a.env.Stderr, "batchctl: error: %v\nRun '%s --help' for usage.\n", u.err, u.cmd)
		return ExitUsage
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		return ExitInterrupt
	case errors.As(err, &r):
		fmt.Fprintf(a.env.Stderr, "batchctl: %v\n", r.err)
		return ExitFailure
	}
	fmt.Fprintf(a.env.Stderr, "batchctl: error: %v\nRun 'batchctl --help' for usage.\n", err)
	return ExitUsage
}

func (a *app) getenv(key, def string) string {
	if v := a.env.Getenv(key); v != "" {
		return v
	}
	return def
}

// rootCommand builds the whole command tree for one run.
func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "batchctl",
		Short: "Command-line client of batchd, a self-hosted AWS Batch",
		Long: `batchctl is the command-line client of batchd, a self-hosted AWS Batch.

Its operations mirror "aws batch": the same names, flags and JSON output, so
scripts written for the AWS CLI work unchanged. Structure-valued flags take
JSON or aws-cli shorthand (key=value,...), and any value may be file://PATH.
For a person at a terminal there are also readable tables (--output table),
"batchctl logs JOB_ID -f" and "batchctl watch --job-queue QUEUE".`,
		Version:           versionString(),
		SilenceErrors:     true,
		SilenceUsage:      true,
		PersistentPreRunE: a.validateGlobals,
		Args:              cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_ = cmd.Help()
			return usagef(cmd, "a command is required")
		},
	}
	root.SetOut(a.env.Stdout)
	root.SetErr(a.env.Stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{cmd: cmd.CommandPath(), err: err}
	})
	pf := root.PersistentFlags()
	pf.StringVar(&a.endpoint, "endpoint-url", a.getenv("BATCH_ENDPOINT", DefaultEndpoint), "URL of the batchd HTTP API (env BATCH_ENDPOINT)")
	pf.StringVar(&a.region, "region", DefaultRegion, "region the requests are signed for")
	pf.StringVar(&a.output, "output", a.getenv("BATCH_OUTPUT", "json"), "output format: json, text or table (env BATCH_OUTPUT)")
	pf.StringVar(&a.query, "query", "", "JMESPath query applied to the answer")
	pf.StringVar(&a.natsURL, "nats-url", a.getenv("BATCH_NATS_URL", DefaultNATSURL), "NATS server for logs and watch (env BATCH_NATS_URL)")
	pf.BoolVar(&a.noPage, "no-paginate", false, "make one call only instead of fetching every page")
	pf.BoolVar(&a.debug, "debug", false, "log every HTTP request and answer on stderr")

	for _, op := range operations() {
		root.AddCommand(a.operationCommand(op))
	}
	for _, op := range extensionOperations() {
		root.AddCommand(a.operationCommand(op))
	}
	root.AddCommand(a.logsCommand(), a.watchCommand(), a.versionCommand(), a.dlqCommand())
	return root
}

// validateGlobals checks the global flags before any command runs.
func (a *app) validateGlobals(cmd *cobra.Command, _ []string) error {
	switch a.output {
	case "json", "text", "table":
	default:
		return usagef(cmd, "argument --output: invalid choice %q (choose from json, text, table)", a.output)
	}
	if a.query != "" {
		q, err := jmespath.Compile(a.query)
		if err != nil {
			return usagef(cmd, "bad value for --query %q: %v", a.query, err)
		}
		a.compiled = q
	}
	u, err := url.Parse(a.endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef(cmd, "bad value for --endpoint-url %q: want http://HOST:PORT or https://HOST:PORT", a.endpoint)
	}
	a.endpoint = strings.TrimSuffix(a.endpoint, "/")
	return nil
}

// Command demo is pgfleet's main job, run by `make demo` and `make
// loadtest`: it starts a throwaway Postgres topology from the local server
// binaries (a primary, streaming replicas, shards), migrates and seeds it,
// serves the orders example (examples/orders) on it, drives the service
// with an open-model load generator (internal/loadtest) and reports
// percentiles per endpoint against their SLOs, queries per request, the
// replicas' share of reads, the hot keys found and the connections used,
// as text and as an HTML report.
//
// With --loadtest it is a gate: the run's thresholds (the endpoints' SLOs,
// loosened by --slack) and an overload ramp must pass, else it exits 1.
//
// It lives under internal/cmd, not in the pgfleet CLI, because the product
// never links demo code or the topology harness.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError is a mistake in the command line (exit 2), as opposed to a
// failure of the work (exit 1).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// failedError is a load test whose thresholds were crossed (exit 1, after
// the report).
type failedError struct{ n int }

func (e failedError) Error() string { return fmt.Sprintf("%d threshold(s) crossed", e.n) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return exitCode(runArgs(ctx, args, stdout), stderr)
}

// runArgs runs the demo or the load test that args ask for.
func runArgs(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parseFlags(args)
	switch {
	case err != nil:
		return err
	case o.loadtest:
		return runLoadtest(ctx, stdout, o)
	}
	return runDemo(ctx, stdout, o)
}

// exitCode reports err on stderr and returns the exit code for it.
func exitCode(err error, stderr io.Writer) int {
	var usage usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "demo: %v\n\n%s", err, usageText)
		return 2
	default:
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return 1
	}
}

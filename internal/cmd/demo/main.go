// Command demo is pgfleet's guided tour, run by `make demo`: it starts a
// throwaway Postgres topology from the local server binaries, applies the
// demo shop's schema to the primary and every shard, seeds it, and shows the
// budget, the gate, the loaders and budgetcheck at work.
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

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := runDemo(ctx, stdout, args)
	var usage usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "demo: %v\n\n%s", err, demoUsage)
		return 2
	default:
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return 1
	}
}

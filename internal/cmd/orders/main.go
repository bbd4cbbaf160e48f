// Command orders runs the example orders service (examples/orders) on a
// throwaway Postgres topology until interrupted, for trying its API by hand
// or pointing a load generator at it:
//
//	go run ./internal/cmd/orders --replicas 2 --shards 2
//	curl -s localhost:PORT/customers/1/orders
//
// Everything it started is stopped on exit. Demo tooling: not installed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pgfleet/pgfleet/examples/orders"
	"github.com/pgfleet/pgfleet/internal/demo/stack"
)

const usage = `usage: go run ./internal/cmd/orders [flags]

flags:
  --replicas N          streaming replicas of the primary (default 2)
  --shards N            shard servers for the profiles (default 2)
  --max-connections N   max_connections of every server (default 40)
  --pool N              the service's pool per node (default 4)
  --hot-cache           serve hot customers' profiles from memory
  --slowdown D          hold every request's connection D longer (e.g. 50ms)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp) || errors.As(err, new(usageError)):
		fmt.Fprintf(os.Stderr, "orders: %v\n\n%s", err, usage)
		os.Exit(2)
	case err != nil:
		fmt.Fprintf(os.Stderr, "orders: %v\n", err)
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// run launches the stack, prints where it listens, and serves until ctx ends.
func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("orders", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	opts := stack.Options{}
	fs.IntVar(&opts.Replicas, "replicas", 2, "")
	fs.IntVar(&opts.Shards, "shards", 2, "")
	fs.IntVar(&opts.MaxConnections, "max-connections", stack.DefaultMaxConnections, "")
	fs.IntVar(&opts.Service.MaxConns, "pool", orders.DefaultMaxConns, "")
	fs.BoolVar(&opts.Service.HotCache, "hot-cache", false, "")
	fs.DurationVar(&opts.Service.Slowdown, "slowdown", 0, "")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	launchCtx, cancel := context.WithTimeout(ctx, time.Minute)
	st, err := stack.Launch(launchCtx, opts)
	cancel()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "orders: listening on %s (started in %v); Ctrl-C stops it and every server\n", st.BaseURL, st.Timings)
	fmt.Fprintf(out, "  try: curl -s %[1]s/customers/1/orders?limit=2 ; curl -s %[1]s/profiles/1 ; curl -s %[1]s/debug/stats\n", st.BaseURL)
	<-ctx.Done()
	return st.Close()
}

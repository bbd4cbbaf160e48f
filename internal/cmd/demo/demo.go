package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgfleet/pgfleet/budgetcheck"
	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/dbx/budget"
	"github.com/pgfleet/pgfleet/dbx/dbxtest/topology"
	demo "github.com/pgfleet/pgfleet/internal/demo/loaderdemo"
	"github.com/pgfleet/pgfleet/internal/demo/seed"
	"github.com/pgfleet/pgfleet/loader"
)

const demoUsage = `usage: go run ./internal/cmd/demo [--replicas N] [--shards N] [--max-connections N]

Starts a throwaway Postgres topology on this machine (a primary, streaming
replicas and shard servers, from the local server binaries), applies the
demo shop's schema to the primary and every shard, seeds demo data, then
shows what runs where, how the pool is sized from the server's budget, and
what the gate does under a burst. Everything is removed at the end.

flags:
  --replicas N          streaming replicas of the primary (default 2)
  --shards N            shard servers (default 2)
  --max-connections N   max_connections of every server (default 40)
`

func runDemo(ctx context.Context, out io.Writer, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	replicas := fs.Int("replicas", 2, "")
	shards := fs.Int("shards", 2, "")
	maxConns := fs.Int("max-connections", 40, "")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *replicas < 0 || *shards < 0 || *maxConns < 10 {
		return usageError{"--replicas and --shards must be >= 0 and --max-connections >= 10"}
	}
	step := stepper(out)

	step("starting a primary, %d streaming replicas and %d shards", *replicas, *shards)
	topo, err := topology.Launch(ctx, topology.Topology{
		Replicas: *replicas, Shards: *shards,
		Settings: map[string]string{"max_connections": fmt.Sprint(*maxConns)},
	})
	if err != nil {
		return err
	}
	defer topo.Close()

	step("applying migrations to the primary and every shard")
	dsns := []string{topo.Primary.DSN()}
	for _, s := range topo.Shards {
		dsns = append(dsns, s.DSN())
	}
	if err := seed.Migrate(ctx, dsns...); err != nil {
		return err
	}

	step("opening dbx: pool sized from a 50%% share of the server for a fleet of 3 pods (HPA max 6)")
	cfg, err := dbx.ParseConfig(topo.Primary.DSN())
	if err != nil {
		return err
	}
	cfg.Service, cfg.Pod = "orders", "orders-7d9f-demo"
	cfg.Fleet = budget.Service{Replicas: 3, MaxReplicas: 6}
	cfg.Share = 0.5
	cfg.AcquireTimeout = 100 * time.Millisecond
	cfg.Logger = slog.New(slog.DiscardHandler)
	cluster, err := dbx.OpenConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer cluster.Close()
	r := cluster.Report()
	fmt.Fprintf(out, "    %s\n    %s\n    %s\n", r.Server.Explain(), r.Allocation.Explanation, r.Demand.Explanation)

	step("seeding demo data on the primary")
	start := time.Now()
	res, err := seed.Run(ctx, cluster, seed.Options{})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "    %+v in %s\n", res, time.Since(start).Round(time.Millisecond))

	step("what runs where")
	if err := whereabouts(ctx, out, topo); err != nil {
		return err
	}

	step("a burst of 60 concurrent requests, each holding a connection for 20 ms")
	burst(ctx, out, cluster, 60, 20*time.Millisecond)

	step("a page of 100 orders with their customers and items: N+1 vs loaders vs one JOIN")
	if err := pages(ctx, out, topo.Primary.DSN()); err != nil {
		return err
	}

	step("budgetcheck: the same fleet as Kubernetes manifests, checked before deploy")
	if err := checkManifests(out); err != nil {
		return err
	}

	step("done: stopping every server")
	return nil
}

// stepper prints numbered steps.
func stepper(w io.Writer) func(format string, args ...any) {
	n := 0
	return func(format string, args ...any) {
		n++
		fmt.Fprintf(w, "\n[%d] %s\n", n, fmt.Sprintf(format, args...))
	}
}

// whereabouts prints one line per node: role, DSN, max_connections, recovery
// state and how many orders it holds (replicas after catching up).
func whereabouts(ctx context.Context, out io.Writer, topo *topology.Cluster) error {
	primary, err := topo.Primary.Connect(ctx)
	if err != nil {
		return err
	}
	var lsn string
	err = primary.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&lsn)
	primary.Close(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "    NODE\tROLE\tDSN\tMAX_CONN\tIN_RECOVERY\tORDERS")
	for _, n := range topo.Nodes() {
		if n.Role == topology.RoleReplica {
			if err := n.WaitReplay(ctx, lsn); err != nil {
				return err
			}
		}
		conn, err := n.Connect(ctx)
		if err != nil {
			return err
		}
		var maxConn string
		var recovery bool
		var orders int64
		err = conn.QueryRow(ctx, `SELECT current_setting('max_connections'), pg_is_in_recovery(), (SELECT count(*) FROM orders)`).Scan(&maxConn, &recovery, &orders)
		conn.Close(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", n.Name, err)
		}
		fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\t%t\t%d\n", n.Name, n.Role, n.DSN(), maxConn, recovery, orders)
	}
	return tw.Flush()
}

// burst fires n concurrent requests at the cluster and reports how the gate
// treated them: served, shed at once, or timed out in the queue.
func burst(ctx context.Context, out io.Writer, c *dbx.Cluster, n int, hold time.Duration) {
	var mu sync.Mutex
	var served, shed, timedOut int
	var slowest time.Duration
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			start := time.Now()
			err := c.Tx(ctx, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, `SELECT pg_sleep($1)`, hold.Seconds())
				return err
			})
			mu.Lock()
			defer mu.Unlock()
			var sat *dbx.SaturationError
			switch {
			case err == nil:
				served++
			case errors.As(err, &sat) && sat.Shed:
				shed++
			case errors.As(err, &sat):
				timedOut++
			}
			slowest = max(slowest, time.Since(start))
		})
	}
	wg.Wait()
	st := c.Primary().Stat()
	fmt.Fprintf(out, "    pool limit %d, queue bound %d, acquire timeout %s\n", st.Gate.Limit, st.Gate.MaxWaiters, c.Config().AcquireTimeout)
	fmt.Fprintf(out, "    served %d, shed at once %d, timed out in queue %d; slowest answer %s (never an unbounded wait)\n",
		served, shed, timedOut, slowest.Round(time.Millisecond))
}

// pages renders one page of orders three ways over a dbx.Cluster whose
// tracers count queries and watch for N+1 patterns, and prints queries and
// latency for each.
func pages(ctx context.Context, out io.Writer, dsn string) error {
	var counter demo.QueryCounter
	var detected []loader.Detection
	detector, err := loader.NewDetector(loader.DetectorConfig{
		Logger:   slog.New(slog.DiscardHandler),
		OnDetect: func(_ context.Context, d loader.Detection) { detected = append(detected, d) },
	})
	if err != nil {
		return err
	}
	cfg, err := dbx.ParseConfig(dsn)
	if err != nil {
		return err
	}
	cfg.Service, cfg.MaxConns, cfg.Logger = "orders", 4, slog.New(slog.DiscardHandler)
	cfg.Tracers = []pgx.QueryTracer{&counter, detector}
	db, err := dbx.OpenConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	loaders, err := demo.NewLoaders(db, loader.Config{})
	if err != nil {
		return err
	}
	variants := []struct {
		name string
		page func(context.Context) ([]demo.Row, error)
	}{
		{"naive N+1", func(ctx context.Context) ([]demo.Row, error) { return demo.Naive(ctx, db, 1) }},
		{"pgfleet loaders", func(ctx context.Context) ([]demo.Row, error) { return loaders.WithLoadMany(ctx, db, 1) }},
		{"one JOIN", func(ctx context.Context) ([]demo.Row, error) { return demo.Join(ctx, db, 1) }},
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "    VARIANT\tQUERIES\tORDERS\tBEST OF 5\tN+1 DETECTED")
	for _, v := range variants {
		var best time.Duration
		var queries int64
		var rows int
		before := len(detected)
		for i := range 5 {
			scoped, end := loader.WithScope(ctx)
			n0, start := counter.Load(), time.Now()
			got, err := v.page(scoped)
			took := time.Since(start)
			end()
			if err != nil {
				return fmt.Errorf("%s: %w", v.name, err)
			}
			if i == 0 || took < best {
				best = took
			}
			queries, rows = counter.Load()-n0, len(got)
		}
		shapes := "-"
		if d := detected[before:]; len(d) > 0 {
			shapes = fmt.Sprintf("%dx %q", d[0].Count, d[0].Shape)
		}
		fmt.Fprintf(tw, "    %s\t%d\t%d\t%s\t%s\n", v.name, queries, rows, best.Round(10*time.Microsecond), shapes)
	}
	return tw.Flush()
}

//go:embed demo_fleet.yaml
var demoFleet []byte

// checkManifests runs budgetcheck on the demo's fleet manifests.
func checkManifests(out io.Writer) error {
	report := budgetcheck.Analyze([]budgetcheck.Source{{Name: "demo_fleet.yaml", Data: demoFleet}}, budgetcheck.Options{})
	var buf bytes.Buffer
	if err := budgetcheck.Write(&buf, report, budgetcheck.Text); err != nil {
		return err
	}
	for _, line := range bytes.Split(bytes.TrimRight(buf.Bytes(), "\n"), []byte("\n")) {
		fmt.Fprintf(out, "    %s\n", line)
	}
	return nil
}

// Command classbench measures what latency classes cost and how they stop
// a statement, in one run against one throwaway server started by topology:
//
//  1. point-select throughput of one dbx.Cluster with plain calls, under a
//     class with targets only, under a class with a timeout, and with the
//     caller's own per-query deadline; rounds rotate the order so that
//     drift on a shared machine hits every contender alike;
//
//  2. the per-statement cost of the alternative server-side enforcement (a
//     statement_timeout set with each statement, pipelined) against plain
//     statements;
//
//  3. a 50 ms class on SELECT pg_sleep(1), repeated: when the statement
//     left pg_stat_activity, when the call returned, and connections opened.
//
//     go run ./internal/cmd/classbench -clients 8 -duration 1s -rounds 8 -cancels 20
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/dbx/dbxtest/topology"
	"github.com/pgfleet/pgfleet/internal/loadgen"
)

func main() {
	clients := flag.Int("clients", 8, "concurrent clients (and pool size)")
	duration := flag.Duration("duration", time.Second, "length of one round")
	rounds := flag.Int("rounds", 8, "rounds per contender")
	cancels := flag.Int("cancels", 20, "50 ms class deadlines on pg_sleep(1) to time")
	flag.Parse()
	if err := run(*clients, *duration, *rounds, *cancels); err != nil {
		fmt.Fprintln(os.Stderr, "classbench:", err)
		os.Exit(1)
	}
}

type contender struct {
	name string
	run  func(ctx context.Context, i int) error
}

func run(clients int, duration time.Duration, rounds, cancels int) error {
	ctx := context.Background()
	topo, err := topology.Launch(ctx, topology.Topology{})
	if err != nil {
		return err
	}
	defer topo.Close()
	cfg, err := loadgen.ClusterConfig(topo.Primary.DSN(), "classbench", clients)
	if err != nil {
		return err
	}
	cfg.Classes = []dbx.Class{
		{Name: "kv.timeout", Timeout: time.Second, P95: 5 * time.Millisecond, P99: 20 * time.Millisecond},
		{Name: "kv.targets", P95: 5 * time.Millisecond, P99: 20 * time.Millisecond},
		{Name: "sleep", Timeout: 50 * time.Millisecond},
	}
	cluster, err := dbx.OpenConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer cluster.Close()
	if _, err := cluster.Exec(ctx, `CREATE TABLE kv AS SELECT g AS k, g::text AS v FROM generate_series(1, 10000) g; ALTER TABLE kv ADD PRIMARY KEY (k)`); err != nil {
		return err
	}
	poolCfg, err := loadgen.PoolConfig(topo.Primary.DSN(), clients)
	if err != nil {
		return err
	}
	raw, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return err
	}
	defer raw.Close()

	const point = `SELECT v FROM kv WHERE k = $1`
	sel := func(ctx context.Context, i int) error {
		var v string
		return cluster.QueryRow(ctx, point, 1+i%10000).Scan(&v)
	}
	targets, timeout := dbx.WithClass(ctx, "kv.targets"), dbx.WithClass(ctx, "kv.timeout")
	classes := []contender{
		{"dbx", sel},
		{"dbx class, targets only", func(_ context.Context, i int) error { return sel(targets, i) }},
		{"dbx class, 1s timeout", func(_ context.Context, i int) error { return sel(timeout, i) }},
		{"dbx caller 1s deadline", func(ctx context.Context, i int) error {
			ctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			return sel(ctx, i)
		}},
	}
	enforce := []contender{
		{"pgxpool SELECT 1", func(ctx context.Context, _ int) error { _, err := raw.Exec(ctx, `SELECT 1`); return err }},
		{"pgxpool SET statement_timeout + SELECT 1 (pipelined)", func(ctx context.Context, _ int) error {
			b := &pgx.Batch{}
			b.Queue(`SELECT set_config('statement_timeout', $1, true)`, "1000")
			b.Queue(`SELECT 1`)
			return raw.SendBatch(ctx, b).Close()
		}},
	}
	fmt.Printf("%d clients, pool %d, %d x %v per contender (order rotated each round), loopback, client and server on one machine\n\n", clients, clients, rounds, duration)
	for _, set := range [][]contender{classes, enforce} {
		qps, cpu, err := compare(ctx, set, clients, duration, rounds)
		if err != nil {
			return err
		}
		fmt.Printf("%-55s %10s %8s %14s %8s\n", "contender", "q/s", "ratio", "client CPU/q", "ratio")
		for i, c := range set {
			fmt.Printf("%-55s %10.0f %7.3fx %14v %7.3fx\n", c.name, qps[i], qps[i]/qps[0], cpu[i].Round(10*time.Nanosecond), float64(cpu[i])/float64(cpu[0]))
		}
		fmt.Println()
	}
	return timeCancels(ctx, topo.Primary.DSN(), cluster, cancels)
}

// compare drives each contender for duration per round, rotating the
// order, and returns each one's total throughput and the process's CPU
// time per query.
func compare(ctx context.Context, set []contender, clients int, duration time.Duration, rounds int) ([]float64, []time.Duration, error) {
	queries := make([]int64, len(set))
	elapsed, cpu := make([]time.Duration, len(set)), make([]time.Duration, len(set))
	for _, c := range set { // warm
		if _, _, err := drive(ctx, c, clients, duration/4); err != nil {
			return nil, nil, err
		}
	}
	for r := range rounds {
		for k := range set {
			i := (k + r) % len(set)
			before := loadgen.ProcessCPU()
			n, d, err := drive(ctx, set[i], clients, duration)
			if err != nil {
				return nil, nil, err
			}
			cpu[i] += loadgen.ProcessCPU() - before
			queries[i] += n
			elapsed[i] += d
		}
	}
	qps, perQuery := make([]float64, len(set)), make([]time.Duration, len(set))
	for i := range set {
		qps[i] = float64(queries[i]) / elapsed[i].Seconds()
		perQuery[i] = cpu[i] / time.Duration(max(queries[i], 1))
	}
	return qps, perQuery, nil
}

func drive(ctx context.Context, c contender, clients int, duration time.Duration) (int64, time.Duration, error) {
	var n atomic.Int64
	var firstErr atomic.Pointer[error]
	start := time.Now()
	end := start.Add(duration)
	var wg sync.WaitGroup
	for w := range clients {
		wg.Go(func() {
			for i := w; time.Now().Before(end); i += clients {
				if err := c.run(ctx, i); err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return 0, 0, fmt.Errorf("%s: %w", c.name, *e)
	}
	return n.Load(), time.Since(start), nil
}

// timeCancels runs a 50 ms class on pg_sleep(1) repeatedly and reports when
// the server dropped the statement and when the call returned.
func timeCancels(ctx context.Context, dsn string, cluster *dbx.Cluster, n int) error {
	observer, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer observer.Close(ctx)
	opened := cluster.Primary().Pool().Stat().NewConnsCount()
	var gone, returned []time.Duration
	for range n {
		start := time.Now()
		var goneAt atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			seen := false
			for {
				select {
				case <-stop:
					return
				default:
				}
				var k int
				if err := observer.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND state = 'active' AND query LIKE '%pg_sleep(1)%' AND pid <> pg_backend_pid()`, cluster.AppName()).Scan(&k); err != nil {
					return
				}
				if k > 0 {
					seen = true
				} else if seen && goneAt.Load() == 0 {
					goneAt.Store(int64(time.Since(start)))
				}
				time.Sleep(500 * time.Microsecond)
			}
		})
		_, err := cluster.Exec(dbx.WithClass(ctx, "sleep"), `SELECT pg_sleep(1)`)
		ret := time.Since(start)
		close(stop)
		wg.Wait()
		if !dbx.IsQueryCanceled(err) {
			return fmt.Errorf("50 ms class on pg_sleep(1): %v, want the server's 57014", errors.Join(err, errors.New("no cancel")))
		}
		if g := goneAt.Load(); g > 0 {
			gone = append(gone, time.Duration(g))
		}
		returned = append(returned, ret)
	}
	pct := func(d []time.Duration, p float64) time.Duration {
		return loadgen.Percentile(d, p).Round(100 * time.Microsecond)
	}
	fmt.Printf("50 ms class on SELECT pg_sleep(1), %d times (cancel request; connections opened during: %d)\n", n, cluster.Primary().Pool().Stat().NewConnsCount()-opened)
	fmt.Printf("  gone from pg_stat_activity after: p50 %v  max %v  (%d of %d observed)\n", pct(gone, .5), pct(gone, 1), len(gone), n)
	fmt.Printf("  call returned after:              p50 %v  max %v  (reused 100 ms after the last cancel, as pgx does)\n", pct(returned, .5), pct(returned, 1))
	return nil
}

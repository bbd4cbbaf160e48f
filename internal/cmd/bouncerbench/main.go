// Command bouncerbench compares point-select throughput through a real
// PgBouncer in transaction mode (started by dbxtest in front of a throwaway
// server) for dbx in its pooler mode, raw pgxpool with QueryExecModeExec and
// with cache_describe, and both straight to Postgres, in one run: rounds
// rotate over the contenders so that drift on a shared machine hits all
// alike. A second table times a one-statement transaction, where dbx adds
// SET LOCAL idle_in_transaction_session_timeout to BEGIN behind a pooler,
// against the other ways to give pooled sessions their timeouts.
//
//	go run ./internal/cmd/bouncerbench -clients 8 -duration 3s -rounds 3
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/dbx/dbxtest/topology"
	"github.com/pgfleet/pgfleet/internal/loadgen"
)

const (
	rows     = 100_000
	pointSQL = `SELECT v FROM bench WHERE id = $1`
)

func main() {
	clients := flag.Int("clients", 8, "concurrent clients (and pool size of every contender)")
	duration := flag.Duration("duration", 3*time.Second, "length of one round")
	rounds := flag.Int("rounds", 3, "rounds per contender")
	pgbenchOnly := flag.Bool("pgbench-only", false, "run only the third table: the timeouts' server-side cost measured with pgbench")
	flag.Parse()
	if err := run(*clients, *duration, *rounds, *pgbenchOnly); err != nil {
		fmt.Fprintln(os.Stderr, "bouncerbench:", err)
		os.Exit(1)
	}
}

// contender runs one operation (a point select, or a transaction around one).
type contender struct {
	name string
	op   func(ctx context.Context, id int) error
	res  loadgen.Result
}

func run(clients int, duration time.Duration, rounds int, pgbenchOnly bool) error {
	ctx := context.Background()
	topo, err := topology.Launch(ctx, topology.Topology{})
	if err != nil {
		return err
	}
	defer topo.Close()
	bouncer, err := topo.LaunchBouncer(ctx, topology.BouncerConfig{Mode: topology.TransactionMode, PoolSize: 2 * clients, Users: []string{"rolelimits"}})
	if err != nil {
		return err
	}
	setup, err := pgx.Connect(ctx, topo.Primary.DSN())
	if err != nil {
		return err
	}
	_, err = setup.Exec(ctx, `CREATE TABLE bench (id int PRIMARY KEY, v int NOT NULL);
		INSERT INTO bench SELECT g, g * 7 FROM generate_series(1, 100000) g; ANALYZE bench;
		-- The third way to give pooled sessions their timeouts: settings of the role.
		CREATE ROLE rolelimits LOGIN; GRANT SELECT ON bench TO rolelimits;
		ALTER ROLE rolelimits SET statement_timeout = '30s';
		ALTER ROLE rolelimits SET idle_in_transaction_session_timeout = '60s'`)
	setup.Close(ctx)
	if err != nil {
		return err
	}

	if err := timeoutCosts(bouncer, clients, duration, rounds); err != nil || pgbenchOnly {
		return err
	}

	pgxpoolWith := func(dsn string, mode pgx.QueryExecMode) (*pgxpool.Pool, error) {
		cfg, err := loadgen.PoolConfig(dsn, clients)
		if err != nil {
			return nil, err
		}
		cfg.ConnConfig.DefaultQueryExecMode = mode
		return pgxpool.NewWithConfig(ctx, cfg)
	}
	dbxWith := func(dsn string, mutate func(*dbx.Config)) (*dbx.Cluster, error) {
		cfg, err := loadgen.ClusterConfig(dsn, "bouncerbench", clients)
		if err != nil {
			return nil, err
		}
		if mutate != nil {
			mutate(cfg)
		}
		return dbx.OpenConfig(ctx, cfg)
	}
	type queryRower interface {
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	}
	point := func(q queryRower) func(context.Context, int) error {
		return func(ctx context.Context, id int) error {
			var v int
			if err := q.QueryRow(ctx, pointSQL, id).Scan(&v); err != nil {
				return err
			}
			if v != id*7 {
				return fmt.Errorf("id %d: got %d", id, v)
			}
			return nil
		}
	}
	type beginner interface {
		Begin(ctx context.Context) (pgx.Tx, error)
	}
	inTx := func(b beginner) func(context.Context, int) error {
		return func(ctx context.Context, id int) error {
			tx, err := b.Begin(ctx)
			if err != nil {
				return err
			}
			defer tx.Rollback(ctx)
			if err := point(tx)(ctx, id); err != nil {
				return err
			}
			return tx.Commit(ctx)
		}
	}

	var closers []func()
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	rawExec, err := pgxpoolWith(bouncer.DSN(), pgx.QueryExecModeExec)
	if err != nil {
		return err
	}
	closers = append(closers, rawExec.Close)
	rawRole, err := pgxpoolWith(bouncer.DSNFor("rolelimits"), pgx.QueryExecModeExec)
	if err != nil {
		return err
	}
	closers = append(closers, rawRole.Close)
	rawDescribe, err := pgxpoolWith(bouncer.DSN(), pgx.QueryExecModeCacheDescribe)
	if err != nil {
		return err
	}
	closers = append(closers, rawDescribe.Close)
	rawDirect, err := pgxpoolWith(topo.Primary.DSN(), pgx.QueryExecModeCacheStatement)
	if err != nil {
		return err
	}
	closers = append(closers, rawDirect.Close)
	dbxPooler, err := dbxWith(bouncer.DSN(), nil)
	if err != nil {
		return err
	}
	closers = append(closers, dbxPooler.Close)
	if r := dbxPooler.Report(); r == nil || r.Pooler == nil {
		return fmt.Errorf("dbx did not detect the pooler")
	}
	dbxNoDeadline, err := dbxWith(bouncer.DSN(), func(c *dbx.Config) { c.StatementTimeout, c.IdleInTxTimeout = -1, -1 })
	if err != nil {
		return err
	}
	closers = append(closers, dbxNoDeadline.Close)
	dbxDescribe, err := dbxWith(bouncer.DSN()+"&default_query_exec_mode=cache_describe", nil)
	if err != nil {
		return err
	}
	closers = append(closers, dbxDescribe.Close)
	dbxDirect, err := dbxWith(topo.Primary.DSN(), nil)
	if err != nil {
		return err
	}
	closers = append(closers, dbxDirect.Close)

	selects := []*contender{
		{name: "dbx via PgBouncer (pooler mode: exec)", op: point(dbxPooler)},
		{name: "  same, no statement deadline", op: point(dbxNoDeadline)},
		{name: "  same, cache_describe", op: point(dbxDescribe)},
		{name: "pgxpool via PgBouncer, exec", op: point(rawExec)},
		{name: "  same, role-level timeouts", op: point(rawRole)},
		{name: "pgxpool via PgBouncer, cache_describe", op: point(rawDescribe)},
		{name: "dbx direct", op: point(dbxDirect)},
		{name: "pgxpool direct (cache_statement)", op: point(rawDirect)},
	}
	txs := []*contender{
		{name: "dbx via PgBouncer (SET LOCAL idle_in_tx)", op: inTx(dbxPooler)},
		{name: "  same, no timeouts (plain BEGIN)", op: inTx(dbxNoDeadline)},
		{name: "pgxpool via PgBouncer, exec", op: inTx(rawExec)},
		{name: "  same, SET LOCAL both timeouts", op: inTx(beginWith{rawExec, "BEGIN; SET LOCAL statement_timeout = 30000; SET LOCAL idle_in_transaction_session_timeout = 60000"})},
		{name: "  same, SET LOCAL idle_in_tx only", op: inTx(beginWith{rawExec, "BEGIN; SET LOCAL idle_in_transaction_session_timeout = 60000"})},
		{name: "  same, role-level timeouts", op: inTx(rawRole)},
		{name: "dbx direct", op: inTx(dbxDirect)},
	}
	for _, table := range []struct {
		title string
		cs    []*contender
	}{{"point select", selects}, {"transaction around one point select (BEGIN, SELECT, COMMIT)", txs}} {
		for _, c := range table.cs { // warm: connections open, pages cached
			if r := loadgen.Drive(c.name, clients, 500*time.Millisecond, rows, func(id int) error { return c.op(ctx, id) }); r.Ops == 0 {
				return fmt.Errorf("%s: no operation succeeded", c.name)
			}
		}
		for i := range rounds {
			for j := range table.cs {
				c := table.cs[(i+j)%len(table.cs)]
				c.res.Add(loadgen.Drive(c.name, clients, duration, rows, func(id int) error { return c.op(ctx, id) }))
			}
		}
		fmt.Printf("\n%s, %d clients, pool %d each, PgBouncer 1.18 transaction mode (default_pool_size %d), %d x %s per contender (rotated), loopback, one machine\n",
			table.title, clients, clients, 2*clients, rounds, duration)
		fmt.Printf("%-42s %10s %10s %10s %8s\n", "contender", "ops/s", "p50", "p99", "vs first")
		for _, c := range table.cs {
			fmt.Printf("%-42s %10.0f %10s %10s %7.3fx\n", c.name, c.res.TPS(), c.res.Pct(.5), c.res.Pct(.99), c.res.TPS()/table.cs[0].res.TPS())
		}
	}
	return nil
}

// beginWith begins every transaction with its own BEGIN statement, to time
// what dbx could put there.
type beginWith struct {
	pool  *pgxpool.Pool
	begin string
}

func (b beginWith) Begin(ctx context.Context) (pgx.Tx, error) {
	return b.pool.BeginTx(ctx, pgx.TxOptions{BeginQuery: b.begin})
}

// timeoutCosts times, with pgbench (C: the client costs little CPU, so the
// server's and the pooler's share shows), a one-select transaction through
// the bouncer with each way of giving pooled sessions their timeouts:
// none, SET LOCAL of the idle timeout in BEGIN's round trip (dbx), SET
// LOCAL of both, and settings of the role.
func timeoutCosts(b *topology.Bouncer, clients int, d time.Duration, rounds int) error {
	pgbench, err := topology.Binary("pgbench")
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "bouncerbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	const body = "SELECT v FROM bench WHERE id = :id;\nCOMMIT;\n"
	variants := []struct{ name, user, begin string }{
		{"plain BEGIN", "postgres", "BEGIN;"},
		{"BEGIN; SET LOCAL idle_in_tx (dbx)", "postgres", `BEGIN \; SET LOCAL idle_in_transaction_session_timeout = 60000;`},
		{"BEGIN; SET LOCAL both timeouts", "postgres", `BEGIN \; SET LOCAL statement_timeout = 30000 \; SET LOCAL idle_in_transaction_session_timeout = 60000;`},
		{"plain BEGIN, role-level timeouts", "rolelimits", "BEGIN;"},
	}
	tps := make([][]float64, len(variants))
	for i := range rounds {
		for j := range variants {
			k := (i + j) % len(variants)
			v := variants[k]
			script := filepath.Join(dir, fmt.Sprintf("v%d.sql", k))
			if err := os.WriteFile(script, []byte("\\set id random(1, 100000)\n"+v.begin+"\n"+body), 0o644); err != nil {
				return err
			}
			out, err := exec.Command(pgbench, "-n", "-M", "simple", "-c", strconv.Itoa(clients), "-j", "2",
				"-T", strconv.Itoa(max(1, int(d.Seconds()))), "-f", script,
				"-h", "127.0.0.1", "-p", strconv.Itoa(b.Port()), "-U", v.user, "postgres").CombinedOutput()
			if err != nil {
				return fmt.Errorf("pgbench %s: %v: %s", v.name, err, out)
			}
			m := regexp.MustCompile(`tps = ([0-9.]+)`).FindSubmatch(out)
			if m == nil {
				return fmt.Errorf("pgbench %s: no tps in %s", v.name, out)
			}
			t, _ := strconv.ParseFloat(string(m[1]), 64)
			tps[k] = append(tps[k], t)
		}
	}
	fmt.Printf("\none-select transaction through PgBouncer (transaction mode), pgbench -M simple -c %d -j 2, %d x %s per variant (rotated)\n", clients, rounds, d)
	fmt.Printf("%-36s %10s %10s   %s\n", "variant", "median tps", "vs first", "rounds")
	first := median(tps[0])
	for k, v := range variants {
		fmt.Printf("%-36s %10.0f %9.3fx   %.0f\n", v.name, median(tps[k]), median(tps[k])/first, tps[k])
	}
	return nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

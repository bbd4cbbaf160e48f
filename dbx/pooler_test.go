package dbx_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/dbx/budget"
	"github.com/pgfleet/pgfleet/dbx/dbxtest"
)

// The acceptance run of issue 15 is
//
//	PGFLEET_REQUIRE_DB=1 go test -count=1 -run TestPoolerDefaultsMixedLoad ./dbx/ -pooler.duration=10s -v
//
// Ordinary runs keep the load short.
var poolerDuration = flag.Duration("pooler.duration", 2*time.Second, "how long TestPoolerDefaultsMixedLoad runs its mixed load in each pool mode (the acceptance run uses 10s)")

type bouncerBundle struct {
	bundle
	bouncer *dbxtest.Bouncer
}

// setupBouncer starts a server and a PgBouncer in front of it.
func setupBouncer(t *testing.T, cfg dbxtest.BouncerConfig) bouncerBundle {
	t.Helper()
	b := setup(t, nil)
	return bouncerBundle{bundle: b, bouncer: dbxtest.StartBouncer(t, b.cluster, cfg)}
}

// openVia opens a dbx.Cluster through the bouncer with dbx's defaults: only
// the DSN's port differs from the server's. It returns what Open logged.
func (b bouncerBundle) openVia(t *testing.T, pod string, mutate func(*dbx.Config)) (*dbx.Cluster, *bytes.Buffer) {
	t.Helper()
	var log bytes.Buffer
	c := b.openDSN(t, b.bouncer.DSN(), func(cfg *dbx.Config) {
		cfg.Pod, cfg.Logger = pod, slog.New(slog.NewTextHandler(&log, nil))
		if mutate != nil {
			mutate(cfg)
		}
	})
	return c, &log
}

// rawScalar runs sql as another client of the bouncer: pgx with the simple
// protocol, as a psql user would.
func rawScalar[T any](t *testing.T, ctx context.Context, b *dbxtest.Bouncer, sql string) T {
	t.Helper()
	conn, err := b.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var v T
	if err := conn.QueryRow(ctx, sql).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

// TestPoolerDefaultsMixedLoad is issue 15's acceptance: ten pods' worth of
// Open through PgBouncer, with nothing declared, then 16 goroutines of mixed
// Query/QueryRow/Exec/TxWith, every answer checked, in both pool modes.
// Before dbx knew poolers, Open failed here with "unsupported startup
// parameter: statement_timeout".
func TestPoolerDefaultsMixedLoad(t *testing.T) {
	for _, mode := range []string{dbxtest.TransactionMode, dbxtest.SessionMode} {
		t.Run(mode, func(t *testing.T) {
			b := setupBouncer(t, dbxtest.BouncerConfig{Mode: mode})
			if err := execDirect(b, `CREATE TABLE pooler_kv (k bigint PRIMARY KEY, v text NOT NULL)`); err != nil {
				t.Fatal(err)
			}
			var pods []*dbx.Cluster
			for i := range 10 {
				c, log := b.openVia(t, fmt.Sprintf("pod-%d", i), nil)
				r := c.Report()
				if r == nil || r.Pooler == nil || !r.Pooler.Detected || r.Pooler.Declared {
					t.Fatalf("pod %d: Report.Pooler = %+v, want detected and not declared", i, r.Pooler)
				}
				if !strings.Contains(log.String(), "none is declared") {
					t.Fatalf("pod %d: no warning about the undeclared pooler; log: %s", i, log)
				}
				pods = append(pods, c)
			}
			load := mixedLoad(b.ctx, pods, 16, *poolerDuration)
			t.Logf("%s mode, %s: %s", mode, *poolerDuration, load)
			if load.errors.Load() != 0 || load.wrong.Load() != 0 || load.ops.Load() == 0 {
				t.Fatalf("%s mode: %s; first problem: %v", mode, load, load.first())
			}
		})
	}
}

func execDirect(b bouncerBundle, sql string) error {
	conn, err := b.cluster.Primary.Connect(b.ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(b.ctx))
	_, err = conn.Exec(b.ctx, sql)
	return err
}

type loadResult struct {
	ops, errors, wrong   atomic.Int64
	query, row, exec, tx atomic.Int64
	mu                   sync.Mutex
	firstErr             error
}

func (l *loadResult) String() string {
	return fmt.Sprintf("%d operations (%d Query, %d QueryRow, %d Exec, %d TxWith): %d errors, %d wrong results",
		l.ops.Load(), l.query.Load(), l.row.Load(), l.exec.Load(), l.tx.Load(), l.errors.Load(), l.wrong.Load())
}

func (l *loadResult) fail(wrong bool, err error) {
	if wrong {
		l.wrong.Add(1)
	} else {
		l.errors.Add(1)
	}
	l.mu.Lock()
	if l.firstErr == nil {
		l.firstErr = err
	}
	l.mu.Unlock()
}

func (l *loadResult) first() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.firstErr
}

// mixedLoad runs workers goroutines over the clusters for d, each checking
// every answer it gets against what it asked.
func mixedLoad(ctx context.Context, clusters []*dbx.Cluster, workers int, d time.Duration) *loadResult {
	res := &loadResult{}
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			c := clusters[w%len(clusters)]
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for i := int64(0); time.Now().Before(stop); i++ {
				key := int64(w)<<40 | i
				res.ops.Add(1)
				switch i % 4 {
				case 0:
					res.row.Add(1)
					x, s := rng.Int64N(1<<40), fmt.Sprintf("w%d-%d", w, i)
					var gotX int64
					var gotS string
					if err := c.QueryRow(ctx, `SELECT $1::bigint + 1, $2::text`, x, s).Scan(&gotX, &gotS); err != nil {
						res.fail(false, fmt.Errorf("QueryRow: %w", err))
					} else if gotX != x+1 || gotS != s {
						res.fail(true, fmt.Errorf("QueryRow(%d, %q) = %d, %q", x, s, gotX, gotS))
					}
				case 1:
					res.query.Add(1)
					n, tag := 1+rng.IntN(8), fmt.Sprintf("w%d-%d-", w, i)
					rows, err := c.Query(ctx, `SELECT g, $2::text || g FROM generate_series(1, $1::int) g ORDER BY g`, n, tag)
					if err != nil {
						res.fail(false, fmt.Errorf("Query: %w", err))
						continue
					}
					got := 0
					for rows.Next() {
						var g int
						var s string
						if err := rows.Scan(&g, &s); err != nil {
							res.fail(false, fmt.Errorf("Query scan: %w", err))
							break
						}
						got++
						if g != got || s != tag+fmt.Sprint(g) {
							res.fail(true, fmt.Errorf("Query row %d = %d, %q; want %d, %q", got, g, s, got, tag+fmt.Sprint(got)))
						}
					}
					rows.Close()
					if err := rows.Err(); err != nil {
						res.fail(false, fmt.Errorf("Query rows: %w", err))
					} else if got != n {
						res.fail(true, fmt.Errorf("Query returned %d rows, want %d", got, n))
					}
				case 2:
					res.exec.Add(1)
					v := fmt.Sprintf("exec-%d", key)
					tag, err := c.Exec(ctx, `INSERT INTO pooler_kv (k, v) VALUES ($1, $2)`, key, v)
					if err != nil {
						res.fail(false, fmt.Errorf("Exec: %w", err))
						continue
					}
					if tag.RowsAffected() != 1 {
						res.fail(true, fmt.Errorf("Exec affected %d rows", tag.RowsAffected()))
					}
					var got string
					if err := c.QueryRow(ctx, `SELECT v FROM pooler_kv WHERE k = $1`, key).Scan(&got); err != nil {
						res.fail(false, fmt.Errorf("read back Exec: %w", err))
					} else if got != v {
						res.fail(true, fmt.Errorf("read back %d = %q, want %q", key, got, v))
					}
				case 3:
					res.tx.Add(1)
					v := fmt.Sprintf("tx-%d", key)
					err := c.TxWith(ctx, dbx.TxOptions{Retry: true}, func(tx pgx.Tx) error {
						var pid1, pid2 int32
						if err := tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid1); err != nil {
							return err
						}
						if _, err := tx.Exec(ctx, `INSERT INTO pooler_kv (k, v) VALUES ($1, $2)`, key, v); err != nil {
							return err
						}
						var got, timeout string
						if err := tx.QueryRow(ctx, `SELECT v, current_setting('idle_in_transaction_session_timeout'), pg_backend_pid() FROM pooler_kv WHERE k = $1`, key).Scan(&got, &timeout, &pid2); err != nil {
							return err
						}
						switch {
						case got != v:
							res.fail(true, fmt.Errorf("tx read its write %d = %q, want %q", key, got, v))
						case pid1 != pid2:
							res.fail(true, fmt.Errorf("tx moved from backend %d to %d", pid1, pid2))
						case timeout != "1min":
							res.fail(true, fmt.Errorf("idle_in_transaction_session_timeout in a dbx transaction = %q, want 1min (SET LOCAL)", timeout))
						}
						return nil
					})
					if err != nil {
						res.fail(false, fmt.Errorf("TxWith: %w", err))
					}
				}
			}
		})
	}
	wg.Wait()
	return res
}

// TestPoolerStatementBudget: a 200 ms StatementTimeout stops pg_sleep(1)
// through a transaction-mode pooler, in and out of transactions, and the
// connection serves the next statement. Before, the timeout was a startup
// parameter that PgBouncer refused (or, listed in
// ignore_startup_parameters, dropped: pg_sleep(1) succeeded). With pgx's
// cancel-request handler the cancel connection was cut short and PgBouncer
// 1.18 exited ("bad client state"): the bouncer must still answer at the end.
func TestPoolerStatementBudget(t *testing.T) {
	b := setupBouncer(t, dbxtest.BouncerConfig{})
	c, _ := b.openVia(t, "pod-1", func(cfg *dbx.Config) { cfg.StatementTimeout = 200 * time.Millisecond; cfg.MaxConns = 1 })
	ctx := b.ctx
	checks := map[string]func() error{
		"Exec":     func() error { _, err := c.Exec(ctx, `SELECT pg_sleep(1)`); return err },
		"QueryRow": func() error { var s string; return c.QueryRow(ctx, `SELECT pg_sleep($1)::text`, 1.0).Scan(&s) },
		"Query": func() error {
			rows, err := c.Query(ctx, `SELECT pg_sleep(1)`)
			if err != nil {
				return err
			}
			rows.Close()
			return rows.Err()
		},
		"Tx": func() error {
			return c.Tx(ctx, func(tx pgx.Tx) error { _, err := tx.Exec(ctx, `SELECT pg_sleep(1)`); return err })
		},
	}
	for round := range 2 {
		for name, run := range checks {
			if err := run(); err == nil {
				t.Errorf("%s: pg_sleep(1) with a 200ms statement budget succeeded", name)
			} else {
				t.Logf("%s: %v", name, err)
			}
			var one int
			if err := c.QueryRow(ctx, `SELECT 1`).Scan(&one); err != nil || one != 1 {
				t.Fatalf("round %d: after %s was stopped: SELECT 1 = %d, %v; pgbouncer log:\n%s", round, name, one, err, b.bouncer.Log())
			}
		}
	}
	if _, err := b.bouncer.Show(ctx, "POOLS"); err != nil {
		t.Fatalf("PgBouncer no longer answers after the cancels: %v; its log:\n%s", err, b.bouncer.Log())
	}
}

// TestPoolerSettingsDoNotLeak: behind a transaction-mode pooler with one
// server connection, every client shares one backend; after dbx's
// transactions and statements, another client sees the server's own
// settings there, not dbx's.
func TestPoolerSettingsDoNotLeak(t *testing.T) {
	b := setupBouncer(t, dbxtest.BouncerConfig{PoolSize: 1})
	c, _ := b.openVia(t, "pod-1", nil)
	ctx := b.ctx
	var dbxPID int32
	for range 20 {
		if err := c.Tx(ctx, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&dbxPID)
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Exec(ctx, `SELECT $1::int`, 1); err != nil {
			t.Fatal(err)
		}
	}
	if pid := rawScalar[int32](t, ctx, b.bouncer, `SELECT pg_backend_pid()`); pid != dbxPID {
		t.Fatalf("the raw client runs on backend %d, dbx ran on %d: the test shares nothing", pid, dbxPID)
	}
	for _, setting := range []string{"statement_timeout", "idle_in_transaction_session_timeout"} {
		if got := rawScalar[string](t, ctx, b.bouncer, `SHOW `+setting); got != "0" {
			t.Errorf("another client of the pooler sees %s = %q, want the server's 0", setting, got)
		}
	}
	if n := rawScalar[int64](t, ctx, b.bouncer, `SELECT count(*) FROM pg_prepared_statements`); n != 0 {
		t.Errorf("%d prepared statements left on the shared server connection", n)
	}
}

// TestPoolerMaxClientConnIsTyped: PgBouncer's max_client_conn refusal comes
// back as a *dbx.PoolerFullError with a hint naming the setting, and
// IsServerFull is true. Before, it was an unclassified 08P01.
func TestPoolerMaxClientConnIsTyped(t *testing.T) {
	b := setupBouncer(t, dbxtest.BouncerConfig{MaxClientConn: 3})
	c, _ := b.openVia(t, "pod-1", func(cfg *dbx.Config) { cfg.MaxConns = 5 })
	var err error
	var conns []*dbx.Conn
	for range 5 {
		var conn *dbx.Conn
		if conn, err = c.Acquire(b.ctx); err != nil {
			break
		}
		conns = append(conns, conn)
	}
	for _, conn := range conns {
		conn.Release()
	}
	var full *dbx.PoolerFullError
	if !errors.As(err, &full) || !dbx.IsServerFull(err) || !strings.Contains(err.Error(), "max_client_conn") {
		t.Fatalf("acquire past max_client_conn: err = %v (%T), want a *dbx.PoolerFullError naming max_client_conn", err, err)
	}
}

// TestPoolerStartupParameterIsTyped: a DSN that names a startup parameter
// PgBouncer refuses gets an error that says what to do.
func TestPoolerStartupParameterIsTyped(t *testing.T) {
	b := setupBouncer(t, dbxtest.BouncerConfig{})
	cfg, err := dbx.ParseConfig(b.bouncer.DSN() + "&statement_timeout=1000")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Verify = dbx.VerifyOff
	c, err := dbx.OpenConfig(b.ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Ping(b.ctx)
	var sp *dbx.StartupParameterError
	if !errors.As(err, &sp) || !strings.Contains(err.Error(), "Config.Pooler") {
		t.Fatalf("Ping with statement_timeout in the DSN through PgBouncer: err = %v (%T)", err, err)
	}
}

// TestPoolerExecModeChecked: describe_exec returns other clients' answers
// behind a transaction pooler: Open refuses it. cache_statement, pgx's
// default, is replaced.
func TestPoolerExecModeChecked(t *testing.T) {
	b := setupBouncer(t, dbxtest.BouncerConfig{})
	cfg, err := dbx.ParseConfig(b.bouncer.DSN() + "&default_query_exec_mode=describe_exec")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	c, err := dbx.OpenConfig(b.ctx, cfg)
	if err == nil {
		c.Close()
		t.Fatal("describe_exec behind a transaction pooler: Open succeeded")
	}
	if !strings.Contains(err.Error(), "use exec or cache_describe") {
		t.Fatalf("describe_exec: err = %v", err)
	}
	c, _ = b.openVia(t, "pod-1", nil)
	for i := range 20 { // pgx's statement cache would fail from the second statement on
		var got int
		if err := c.QueryRow(b.ctx, `SELECT $1::int`, i).Scan(&got); err != nil || got != i {
			t.Fatalf("statement %d: %d, %v", i, got, err)
		}
	}
}

// TestPoolerBudget: behind a declared pooler the fleet is budgeted against
// max_client_conn x pooler replicas, a Share divides that, and the server
// side is the pooler's pools. Before, 4 pods x 25 (the pooler's 100
// clients) was refused against the server's 97 usable slots with "raise
// max_connections", and the README's Share example failed with "put a
// pooler in front" while behind one.
func TestPoolerBudget(t *testing.T) {
	b := setupBouncer(t, dbxtest.BouncerConfig{})
	t.Run("fits the pooler's clients", func(t *testing.T) {
		c, _ := b.openVia(t, "pod-1", func(cfg *dbx.Config) {
			cfg.MaxConns = 25
			cfg.Fleet = budget.Service{Replicas: 4, NoSurge: true}
			cfg.Pooler = dbx.Pooler{Mode: dbx.PoolerTransaction, MaxClientConn: 100, PoolSize: 20}
			cfg.Verify = dbx.VerifyFail
		})
		r := c.Report()
		if !r.OK() || r.Budget != 100 || r.Pooler == nil || !r.Pooler.Declared || !r.Pooler.Detected {
			t.Fatalf("report: %s", r)
		}
		// Config() has the pooler's defaults filled in, as every other field's.
		if p := c.Config().Pooler; p.Pairs != 1 || p.Replicas != 1 || p.PoolSize != 20 || p.MaxClientConn != 100 {
			t.Fatalf("Config().Pooler = %+v, want the defaults filled in", p)
		}
		if !strings.Contains(r.String(), "pooler clients 100 = max_client_conn 100 x pooler replicas 1") ||
			!strings.Contains(r.String(), "pooler server connections 20 = pool size 20 x (db,user) pairs 1 x pooler replicas 1") {
			t.Fatalf("report does not show the pooler's arithmetic: %s", r)
		}
	})
	t.Run("over max_client_conn", func(t *testing.T) {
		cfg, _ := dbx.ParseConfig(b.bouncer.DSN())
		cfg.Logger = slog.New(slog.DiscardHandler)
		cfg.MaxConns, cfg.Fleet, cfg.Verify = 26, budget.Service{Replicas: 4, NoSurge: true}, dbx.VerifyFail
		cfg.Pooler = dbx.Pooler{Mode: dbx.PoolerTransaction}
		_, err := dbx.OpenConfig(b.ctx, cfg)
		var be *dbx.BudgetError
		if !errors.As(err, &be) || !strings.Contains(err.Error(), "max_client_conn") || strings.Contains(err.Error(), "raise max_connections") {
			t.Fatalf("104 clients of a pooler with 100: err = %v", err)
		}
	})
	t.Run("pooler's pools over the server", func(t *testing.T) {
		cfg, _ := dbx.ParseConfig(b.bouncer.DSN())
		cfg.Logger = slog.New(slog.DiscardHandler)
		cfg.Verify = dbx.VerifyFail
		cfg.Pooler = dbx.Pooler{Mode: dbx.PoolerTransaction, PoolSize: 20, Pairs: 3, Replicas: 2}
		_, err := dbx.OpenConfig(b.ctx, cfg)
		if err == nil || !strings.Contains(err.Error(), "the pooler may open 120 server connections") || !strings.Contains(err.Error(), "default_pool_size") {
			t.Fatalf("120 server connections of the pooler against 97 usable: err = %v", err)
		}
	})
	t.Run("README example", func(t *testing.T) {
		// The README's openOrders, as written, with the bouncer's DSN.
		if err := execDirect(b, `CREATE TABLE customers (id int8 PRIMARY KEY, email text, region text);
			INSERT INTO customers VALUES (1, 'a@example.com', 'eu'), (2, 'b@example.com', 'us'), (3, 'c@example.com', 'eu')`); err != nil {
			t.Fatal(err)
		}
		c, err := openOrders(b.ctx, b.bouncer.DSN(), prometheus.NewPedanticRegistry())
		if err != nil {
			t.Fatalf("the README's example behind PgBouncer: %v", err)
		}
		defer c.Close()
		// PgBouncer's 100 clients (defaults: detected, not declared) x 0.25
		// = 25 over (8 + 2 surge) pods: 2 per process.
		r := c.Report()
		if c.Config().MaxConns != 2 || !r.OK() || !strings.Contains(r.Allocation.Explanation, "pooler clients 100") {
			t.Fatalf("pool %d behind a pooler; report %s; allocation %s", c.Config().MaxConns, r, r.Allocation.Explanation)
		}
		if customers, err := euCustomers(b.ctx, c); err != nil || len(customers) != 2 {
			t.Fatalf("euCustomers through PgBouncer: %v, %v", customers, err)
		}
	})
	t.Run("share over the pooler's replicas", func(t *testing.T) {
		c, _ := b.openVia(t, "pod-1", func(cfg *dbx.Config) {
			cfg.Pooler = dbx.Pooler{Mode: dbx.PoolerTransaction, Replicas: 2}
			cfg.Fleet = budget.Service{Replicas: 10, NoSurge: true}
			cfg.Share = 0.5
		})
		// 100 x 2 clients x 0.5 = 100 over 10 pods.
		if r := c.Report(); r.PerProcess != 10 || r.Budget != 100 {
			t.Fatalf("share of two pooler replicas: %s", r)
		}
	})
}

// TestDirectHasNoPooler: straight to Postgres, nothing is detected and the
// timeouts stay session settings.
func TestDirectHasNoPooler(t *testing.T) {
	b := setup(t, nil)
	c := b.open(t, nil)
	if r := c.Report(); r.Pooler != nil {
		t.Fatalf("a pooler reported on a direct connection: %s", r)
	}
	var timeout string
	if err := c.QueryRow(b.ctx, `SHOW statement_timeout`).Scan(&timeout); err != nil || timeout != "30s" {
		t.Fatalf("statement_timeout = %q, %v; want 30s", timeout, err)
	}
}

// TestPoolerTxRetries: TxWith's retry of a serialization failure works
// through a transaction-mode pooler (BEGIN ISOLATION LEVEL ... carries the
// SET LOCALs in the same round trip).
func TestPoolerTxRetries(t *testing.T) {
	b := setupBouncer(t, dbxtest.BouncerConfig{})
	c, _ := b.openVia(t, "pod-1", func(cfg *dbx.Config) { cfg.MaxConns = 3 })
	checkTxRetries(t, b.bundle, c)
}

// TestPoolerWaitBounded: a statement waiting inside the pooler (PAUSE: no
// server connection is handed out; SIGSTOP: nothing answers at all) ends
// with an error at StatementTimeout even when the caller's context has no
// deadline, and the pooler serves again afterwards. Before, such waits ran
// past AcquireTimeout up to PgBouncer's query_wait_timeout (120 s), or
// forever on a frozen pooler.
func TestPoolerWaitBounded(t *testing.T) {
	b := setupBouncer(t, dbxtest.BouncerConfig{})
	c, _ := b.openVia(t, "pod-1", func(cfg *dbx.Config) { cfg.StatementTimeout = 300 * time.Millisecond })
	ctx := context.WithoutCancel(b.ctx) // no deadline: only dbx's bounds the wait
	var one int
	if err := c.QueryRow(ctx, `SELECT 1`).Scan(&one); err != nil {
		t.Fatal(err)
	}
	for _, fault := range []struct {
		name     string
		do, undo func() error
	}{
		{"PAUSE", func() error { return b.bouncer.Pause(b.ctx) }, func() error { return b.bouncer.Resume(b.ctx) }},
		{"SIGSTOP", b.bouncer.Freeze, b.bouncer.Thaw},
	} {
		if err := fault.do(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- c.QueryRow(ctx, `SELECT 1`).Scan(new(int)) }()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("%s: a statement through a stopped pooler succeeded", fault.name)
			}
			t.Logf("%s: %v", fault.name, err)
		case <-time.After(time.Minute):
			t.Fatalf("%s: a statement with a 300ms budget still waits inside the pooler after a minute", fault.name)
		}
		if err := fault.undo(); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRow(ctx, `SELECT 1`).Scan(&one); err != nil {
			t.Fatalf("after %s ended: %v; pgbouncer log:\n%s", fault.name, err, b.bouncer.Log())
		}
	}
}

// TestPoolerIdleInTxBounded: a transaction left idle behind a pooler is
// ended by the server at IdleInTxTimeout (SET LOCAL in dbx's BEGIN), so it
// cannot pin one of the pooler's server connections; the next statement
// works. Before, the setting was a startup parameter PgBouncer refused.
func TestPoolerIdleInTxBounded(t *testing.T) {
	b := setupBouncer(t, dbxtest.BouncerConfig{})
	c, _ := b.openVia(t, "pod-1", func(cfg *dbx.Config) { cfg.IdleInTxTimeout = 200 * time.Millisecond })
	ctx := b.ctx
	err := c.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1`); err != nil {
			return err
		}
		time.Sleep(time.Second) // idle in the transaction, five times the limit
		_, err := tx.Exec(ctx, `SELECT 1`)
		return err
	})
	if err == nil {
		t.Fatal("a transaction idle for 1s with IdleInTxTimeout 200ms committed")
	}
	t.Logf("idle transaction: %v", err)
	var one int
	if err := c.QueryRow(ctx, `SELECT 1`).Scan(&one); err != nil {
		t.Fatalf("after the idle transaction was ended: %v", err)
	}
}

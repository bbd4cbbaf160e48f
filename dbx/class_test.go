package dbx_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgfleet/pgfleet/dbx"
)

// backendPID is the pid of the server process behind c's only connection.
func backendPID(t *testing.T, ctx context.Context, c *dbx.Cluster) int32 {
	t.Helper()
	var pid int32
	if err := c.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	return pid
}

// sleeping counts c's statements running pg_sleep on the server now, seen
// from another connection.
func sleeping(t *testing.T, ctx context.Context, observer *pgx.Conn, c *dbx.Cluster) int {
	t.Helper()
	var n int
	err := observer.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE application_name = $1 AND state = 'active' AND query LIKE '%pg_sleep%'`, c.AppName()).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A class with a 50 ms budget stops SELECT pg_sleep(1) on the server, and
// the connection stays: the same backend serves the next query, no new
// connection is opened. pgx's default (no class declared) closes the
// connection instead, which the second subtest shows: the mechanism, not
// luck, keeps it.
func TestClassDeadlineStopsStatementOnServer(t *testing.T) {
	b := setup(t, nil)
	observer, err := pgx.Connect(b.ctx, b.cluster.Primary.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer observer.Close(context.WithoutCancel(b.ctx))

	t.Run("class: cancel request, connection kept", func(t *testing.T) {
		c := b.open(t, func(cfg *dbx.Config) {
			cfg.MaxConns = 1
			cfg.Classes = []dbx.Class{{Name: "orders.list", Timeout: 50 * time.Millisecond}}
		})
		pid := backendPID(t, b.ctx, c)

		// Watch the server while the call runs: when did the statement start
		// and stop, relative to the call.
		start := time.Now()
		var seen, gone atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				var n int
				if err := observer.QueryRow(b.ctx, `SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND state = 'active' AND query LIKE '%pg_sleep%'`, pid).Scan(&n); err != nil {
					return
				}
				if n > 0 && seen.Load() == 0 {
					seen.Store(int64(time.Since(start)))
				}
				if n == 0 && seen.Load() != 0 && gone.Load() == 0 {
					gone.Store(int64(time.Since(start)))
				}
				time.Sleep(time.Millisecond)
			}
		})
		_, err := c.Exec(dbx.WithClass(b.ctx, "orders.list"), `SELECT pg_sleep(1)`)
		returned := time.Since(start)
		close(stop)
		wg.Wait()

		if !dbx.IsQueryCanceled(err) {
			t.Fatalf("err = %v: want the server's 57014 (query canceled), which only a cancel reaching the server gives", err)
		}
		// Ordering, not timing: by the time the call returned, the server
		// had stopped the statement.
		if n := sleeping(t, b.ctx, observer, c); n != 0 {
			t.Fatalf("%d pg_sleep still running on the server after the call returned", n)
		}
		if got := backendPID(t, b.ctx, c); got != pid {
			t.Fatalf("backend pid %d, was %d: the connection was replaced", got, pid)
		}
		if opened := c.Primary().Pool().Stat().NewConnsCount(); opened != 1 {
			t.Fatalf("the pool opened %d connections: want 1 (no reconnect)", opened)
		}
		t.Logf("budget 50ms: statement seen on the server at %v, gone at %v, call returned at %v (the connection is reused 100 ms after the last cancel)",
			time.Duration(seen.Load()).Round(time.Millisecond), time.Duration(gone.Load()).Round(time.Millisecond), returned.Round(time.Millisecond))
	})

	t.Run("no class: pgx's default closes the connection", func(t *testing.T) {
		c := b.open(t, func(cfg *dbx.Config) { cfg.MaxConns = 1 })
		pid := backendPID(t, b.ctx, c)
		ctx, cancel := context.WithTimeout(b.ctx, 50*time.Millisecond)
		defer cancel()
		if _, err := c.Exec(ctx, `SELECT pg_sleep(1)`); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want a deadline", err)
		}
		if got := backendPID(t, b.ctx, c); got == pid {
			t.Fatalf("same backend %d after a deadline without a class: pgx's default should have closed the connection; the other subtest proves nothing", pid)
		}
	})
}

// countQueries is a pgx tracer that counts the statements sent.
type countQueries struct{ n atomic.Int64 }

func (c *countQueries) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}
func (*countQueries) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// A budget spent in the gate fails with a clear error before a connection
// is taken: nothing reaches the server.
func TestClassBudgetSpentBeforeSending(t *testing.T) {
	b := setup(t, nil)
	sent := &countQueries{}
	c := b.open(t, func(cfg *dbx.Config) {
		cfg.MaxConns = 1
		cfg.AcquireTimeout = time.Minute // the class budget, not the gate, must end the wait
		cfg.Tracers = []pgx.QueryTracer{sent}
		cfg.Classes = []dbx.Class{{Name: "orders.create", Timeout: 50 * time.Millisecond}}
	})
	if _, err := c.Exec(b.ctx, `CREATE TABLE orders (id int)`); err != nil {
		t.Fatal(err)
	}
	before := sent.n.Load()

	t.Run("spent waiting for a connection", func(t *testing.T) {
		release := hold(t, b.ctx, c, 1)
		_, err := c.Exec(dbx.WithClass(b.ctx, "orders.create"), `INSERT INTO orders VALUES (1)`)
		release()
		var spent *dbx.BudgetSpentError
		if !errors.As(err, &spent) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v (%T), want a *dbx.BudgetSpentError wrapping context.DeadlineExceeded", err, err)
		}
		if spent.Class != "orders.create" || spent.Budget != 50*time.Millisecond || spent.Where != "waiting for a connection" {
			t.Fatalf("error fields %+v", spent)
		}
		for _, want := range []string{`class "orders.create"`, "50ms budget", "nothing was sent", "raise the class's Timeout"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	})
	t.Run("spent before the call", func(t *testing.T) {
		ctx, cancel := context.WithDeadline(b.ctx, time.Now().Add(-time.Second))
		defer cancel()
		_, err := c.Exec(dbx.WithClass(ctx, "orders.create"), `INSERT INTO orders VALUES (2)`)
		var spent *dbx.BudgetSpentError
		if !errors.As(err, &spent) || spent.Where != "before the call" {
			t.Fatalf("err = %v, want a *dbx.BudgetSpentError before the call", err)
		}
		if st := c.Primary().Stat(); st.Gate.InUse != 0 {
			t.Fatalf("a slot is held after a refused call: %+v", st.Gate)
		}
	})
	if n := sent.n.Load(); n != before {
		t.Fatalf("%d statements were sent for calls whose budget was spent", n-before)
	}
	var n int
	if err := c.QueryRow(b.ctx, `SELECT count(*) FROM orders`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("orders has %d rows (err %v): a refused INSERT ran", n, err)
	}
}

// Under load with one deliberately slow class, only that class burns its
// error budget; the in-process stats and the exported metrics agree.
func TestClassBurnRateRisesOnlyForTheSlowClass(t *testing.T) {
	b := setup(t, nil)
	c := b.open(t, func(cfg *dbx.Config) {
		cfg.MaxConns = 4
		cfg.Classes = []dbx.Class{
			{Name: "inventory", P95: 500 * time.Millisecond, P99: 2 * time.Second},
			{Name: "pricing", P95: time.Millisecond, P99: 2 * time.Millisecond}, // pg_sleep(0.01) always misses it
		}
	})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for range 10 {
				if _, err := c.Exec(dbx.WithClass(b.ctx, "inventory"), `SELECT 1`); err != nil {
					t.Error(err)
				}
				if _, err := c.Exec(dbx.WithClass(b.ctx, "pricing"), `SELECT pg_sleep(0.01)`); err != nil {
					t.Error(err)
				}
				// An undeclared name is the default class, not a new series.
				if _, err := c.Exec(dbx.WithClass(b.ctx, "typo"+string(rune('a'+w))), `SELECT 1`); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()

	stats := map[string]dbx.ClassStat{}
	for _, st := range c.ClassStats() {
		stats[st.Class.Name] = st
	}
	if len(stats) != 3 {
		t.Fatalf("classes %v: want default, inventory, pricing", stats)
	}
	for name, st := range stats {
		if st.Calls != 40 {
			t.Errorf("%s: %d calls, want 40", name, st.Calls)
		}
	}
	if burn := stats["pricing"].Burn[5*time.Minute]; math.Abs(burn-100) > 1e-6 {
		t.Errorf("pricing burn rate %v: want 100 (every call bad, budget 1%%)", burn)
	}
	if burn := stats["inventory"].Burn[time.Hour]; burn != 0 {
		t.Errorf("inventory burn rate %v: want 0", burn)
	}
	if p := stats["pricing"].P50; p < 10*time.Millisecond {
		t.Errorf("pricing P50 %v: below the pg_sleep it ran", p)
	}

	mfs := gather(t, c)
	burn := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "pgfleet_class_burn_rate" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			if l["window"] == "1h" {
				burn[l["class"]] = m.GetGauge().GetValue()
			}
		}
	}
	if math.Abs(burn["pricing"]-100) > 1e-6 || burn["inventory"] != 0 || burn["default"] != 0 {
		t.Fatalf("exported 1h burn rates %v: want pricing 100, the others 0", burn)
	}
}

func TestClassConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		classes []dbx.Class
		want    string
	}{
		{[]dbx.Class{{Name: ""}}, `Classes[0] ("").Name`},
		{[]dbx.Class{{Name: "a b"}}, "use 1 to 64 letters"},
		{[]dbx.Class{{Name: "a"}, {Name: "a"}}, "declared twice"},
		{[]dbx.Class{{Name: "a", Timeout: -1}}, "Timeout = -1ns"},
		{[]dbx.Class{{Name: "a", P95: 2 * time.Second, P99: time.Second}}, "swap them"},
		{[]dbx.Class{{Name: "a", Objective: 1}}, "must be in (0, 1)"},
	} {
		cfg, err := dbx.ParseConfig("postgres://u@127.0.0.1:1/db?sslmode=disable")
		if err != nil {
			t.Fatal(err)
		}
		cfg.Verify, cfg.Classes = dbx.VerifyOff, tc.classes
		_, err = dbx.OpenConfig(t.Context(), cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("classes %+v: err %v, want it to say %q", tc.classes, err, tc.want)
		}
	}
	cfg, err := dbx.ParseConfig("postgres://u@127.0.0.1:1/db?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Verify, cfg.FanOutLimit = dbx.VerifyOff, dbx.MaxFanOutBranches+1
	if _, err := dbx.OpenConfig(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "Config.FanOutLimit = 65: must be between 1 and 64") {
		t.Errorf("FanOutLimit 65: err %v", err)
	}
}

package dbx_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/dbx/budget"
	"github.com/pgfleet/pgfleet/dbx/dbxtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type bundle struct {
	ctx     context.Context
	cluster *dbxtest.Cluster
}

// setup starts a server with the given settings.
func setup(t *testing.T, settings map[string]string) bundle {
	t.Helper()
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return bundle{ctx: ctx, cluster: dbxtest.Start(t, dbxtest.Topology{Settings: settings})}
}

// open opens a dbx.Cluster on the bundle's primary.
func (b bundle) open(t *testing.T, mutate func(*dbx.Config)) *dbx.Cluster {
	t.Helper()
	return b.openDSN(t, b.cluster.Primary.DSN(), mutate)
}

// openDSN opens a dbx.Cluster on one of the bundle's servers.
func (b bundle) openDSN(t *testing.T, dsn string, mutate func(*dbx.Config)) *dbx.Cluster {
	t.Helper()
	cfg, err := dbx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Service, cfg.Pod = "orders", "pod-1"
	cfg.Logger = slog.New(slog.DiscardHandler)
	if mutate != nil {
		mutate(cfg)
	}
	c, err := dbx.OpenConfig(b.ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// hold acquires n connections and returns a function that releases them.
func hold(t *testing.T, ctx context.Context, c *dbx.Cluster, n int) func() {
	t.Helper()
	var conns []*dbx.Conn
	for range n {
		conn, err := c.Acquire(ctx)
		if err != nil {
			for _, held := range conns {
				held.Release() // or the Cluster's Close in cleanup waits for them forever
			}
			t.Fatal(err)
		}
		conns = append(conns, conn)
	}
	return func() {
		for _, conn := range conns {
			conn.Release()
		}
	}
}

func TestQuerySurface(t *testing.T) {
	b := setup(t, nil)
	c := b.open(t, nil)
	if _, err := c.Exec(b.ctx, `CREATE TABLE kv (k int PRIMARY KEY, v text)`); err != nil {
		t.Fatal(err)
	}
	batch := &pgx.Batch{}
	for i := range 3 {
		batch.Queue(`INSERT INTO kv VALUES ($1, $2)`, i, "v")
	}
	if err := c.SendBatch(b.ctx, batch).Close(); err != nil {
		t.Fatal(err)
	}
	rows, err := c.Query(b.ctx, `SELECT k FROM kv ORDER BY k`)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil || len(ks) != 3 || ks[2] != 2 {
		t.Fatalf("CollectRows = %v, %v", ks, err)
	}
	var v string
	if err := c.QueryRow(b.ctx, `SELECT v FROM kv WHERE k = $1`, 1).Scan(&v); err != nil || v != "v" {
		t.Fatalf("QueryRow = %q, %v", v, err)
	}
	if err := c.QueryRow(b.ctx, `SELECT v FROM kv WHERE k = 99`).Scan(&v); !errors.Is(err, pgx.ErrNoRows) {
		t.Fatalf("missing row: %v, want pgx.ErrNoRows", err)
	}
	n, err := c.CopyFrom(b.ctx, pgx.Identifier{"kv"}, []string{"k", "v"}, pgx.CopyFromRows([][]any{{10, "a"}, {11, "b"}}))
	if err != nil || n != 2 {
		t.Fatalf("CopyFrom = %d, %v", n, err)
	}
	// Every path above gave its slot back.
	if st := c.Primary().Stat(); st.Gate.InUse != 0 || st.Acquired != 0 {
		t.Fatalf("slots leaked: %+v", st)
	}

	// Sessions carry service/pod and the default timeouts.
	var app, stmt, idle string
	err = c.QueryRow(b.ctx, `SELECT current_setting('application_name'), current_setting('statement_timeout'),
		current_setting('idle_in_transaction_session_timeout')`).Scan(&app, &stmt, &idle)
	if err != nil || app != "orders/pod-1" || stmt != "30s" || idle != "1min" {
		t.Fatalf("session = %q %q %q, %v", app, stmt, idle, err)
	}
}

func TestSaturationTimesOutThenSheds(t *testing.T) {
	b := setup(t, nil)
	const timeout = 500 * time.Millisecond
	c := b.open(t, func(cfg *dbx.Config) {
		cfg.MaxConns, cfg.MaxWaiters, cfg.AcquireTimeout = 2, 1, timeout
	})
	release := hold(t, b.ctx, c, 2)
	defer release()

	// One waiter fits in the queue and times out.
	waiterDone := make(chan error, 1)
	go func() {
		_, err := c.Exec(b.ctx, `SELECT 1`)
		waiterDone <- err
	}()
	waitFor(t, "one queued waiter", func() bool { return c.Primary().Stat().Gate.Waiters == 1 })
	// The next caller finds the queue full and is shed at once.
	_, err := c.Exec(b.ctx, `SELECT 1`)
	var sat *dbx.SaturationError
	if !errors.As(err, &sat) || !sat.Shed || !errors.Is(err, dbx.ErrPoolExhausted) {
		t.Fatalf("beyond the waiter bound: %v, want a shed *SaturationError", err)
	}
	if sat.State.InUse != 2 || sat.State.Waiters != 1 || sat.State.MaxWaiters != 1 {
		t.Fatalf("shed state = %+v", sat.State)
	}

	err = <-waiterDone
	if !errors.As(err, &sat) || sat.Shed || !sat.Timeout() {
		t.Fatalf("queued caller: %v, want a timeout *SaturationError", err)
	}
	if sat.Waited < timeout {
		t.Fatalf("gave up after %s, before the %s timeout", sat.Waited, timeout)
	}
	if !strings.Contains(err.Error(), "AcquireTimeout 500ms") {
		t.Fatalf("message does not name the timeout: %v", err)
	}
	release()
	if _, err := c.Exec(b.ctx, `SELECT 1`); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

func TestCancelledAcquiresLeakNothing(t *testing.T) {
	b := setup(t, nil)
	c := b.open(t, func(cfg *dbx.Config) { cfg.MaxConns, cfg.MaxWaiters = 3, 100 })
	release := hold(t, b.ctx, c, 3)

	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		ctx, cancel := context.WithTimeout(b.ctx, time.Duration(i%5)*time.Millisecond)
		wg.Go(func() {
			defer cancel()
			rows, err := c.Query(ctx, `SELECT 1`)
			if err == nil {
				rows.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("cancelled acquire: %v, want context.DeadlineExceeded", err)
		}
	}
	release()
	st := c.Primary().Stat()
	if st.Gate.InUse != 0 || st.Gate.Waiters != 0 || st.Acquired != 0 {
		t.Fatalf("after cancellations: %+v, want nothing in use or waiting", st)
	}
	// All three slots are usable again.
	hold(t, b.ctx, c, 3)()
}

func TestRuntimeLimit(t *testing.T) {
	b := setup(t, nil)
	c := b.open(t, func(cfg *dbx.Config) { cfg.MaxConns, cfg.AcquireTimeout = 4, 5*time.Second })
	n := c.Primary()
	if err := n.SetLimit(1); err != nil {
		t.Fatal(err)
	}
	release := hold(t, b.ctx, c, 1)
	short, cancel := context.WithTimeout(b.ctx, 50*time.Millisecond)
	_, err := c.Acquire(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second acquire under limit 1: %v, want to wait", err)
	}

	got := make(chan error, 1)
	go func() {
		conn, err := c.Acquire(b.ctx)
		if err == nil {
			conn.Release()
		}
		got <- err
	}()
	waitFor(t, "one queued waiter", func() bool { return n.Stat().Gate.Waiters == 1 })
	if err := n.SetLimit(2); err != nil { // raising the limit admits the waiter
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	release()
	var le *dbx.LimitError
	if err := n.SetLimit(5); !errors.As(err, &le) {
		t.Fatalf("limit above MaxConns: %v", err)
	}
	if err := n.SetLimit(0); !errors.As(err, &le) {
		t.Fatalf("limit 0: %v", err)
	}
}

func TestVerifyFlagsFleetOverServer(t *testing.T) {
	b := setup(t, map[string]string{"max_connections": "20"})
	cfg, err := dbx.ParseConfig(b.cluster.Primary.DSN())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Service, cfg.Logger = "orders", slog.New(slog.DiscardHandler)
	cfg.MaxConns = 5
	cfg.Fleet = budget.Service{Replicas: 2, MaxReplicas: 10}
	cfg.Verify = dbx.VerifyFail
	_, err = dbx.OpenConfig(b.ctx, cfg)
	var be *dbx.BudgetError
	if !errors.As(err, &be) {
		t.Fatalf("OpenConfig = %v, want *dbx.BudgetError", err)
	}
	r := be.Report
	// 20 - 3 reserved = 17 usable; (10 + 3 surge) x 5 = 65.
	if r.Server.MaxConnections != 20 || r.Server.Usable() != 17 || r.Demand == nil || r.Demand.Connections != 65 {
		t.Fatalf("report = %+v demand %+v", r, r.Demand)
	}
	if !strings.Contains(err.Error(), "fleet worst case 65 exceeds its budget 17") {
		t.Fatalf("error does not explain: %v", err)
	}

	// The same fleet sized from a share fits.
	c := b.open(t, func(cfg *dbx.Config) {
		cfg.Fleet = budget.Service{Replicas: 2, MaxReplicas: 4}
		cfg.Share = 0.5
		cfg.Verify = dbx.VerifyFail
	})
	// usable 17 x 0.5 = 8 over 4 + 1 surge pods = 1 per process.
	if got := c.Config().MaxConns; got != 1 || c.Report().Allocation.Budget != 8 {
		t.Fatalf("MaxConns from share = %d, report %+v", got, c.Report())
	}

	// A share that cannot give a pod one connection refuses to open.
	cfg.Fleet, cfg.Share, cfg.MaxConns = budget.Service{MaxReplicas: 40}, 0.5, 0
	_, err = dbx.OpenConfig(b.ctx, cfg)
	var bud *budget.Error
	if !errors.As(err, &bud) || !strings.Contains(err.Error(), "raise max_connections") {
		t.Fatalf("impossible share: %v, want a *budget.Error with a fix", err)
	}
}

func TestServerFullIsClassified(t *testing.T) {
	b := setup(t, map[string]string{"max_connections": "6"})
	c := b.open(t, func(cfg *dbx.Config) { cfg.MaxConns, cfg.Verify = 10, dbx.VerifyOff })
	// A superuser may use all 6 slots; the 7th connection is refused.
	release := hold(t, b.ctx, c, 6)
	defer release()
	_, err := c.Exec(b.ctx, `SELECT 1`)
	var full *dbx.ServerFullError
	if !errors.As(err, &full) || !dbx.IsServerFull(err) {
		t.Fatalf("7th connection: %v, want *dbx.ServerFullError", err)
	}
	if !strings.Contains(err.Error(), "too many clients") || !strings.Contains(full.Hint(), "max_connections") {
		t.Fatalf("message/hint: %v / %s", err, full.Hint())
	}
	if st := c.Primary().Stat(); st.Gate.InUse != 6 {
		t.Fatalf("the refused call kept its slot: %+v", st)
	}
}

func TestRoleLimitIsClassified(t *testing.T) {
	b := setup(t, nil)
	admin := b.open(t, nil)
	if _, err := admin.Exec(b.ctx, `CREATE ROLE app LOGIN CONNECTION LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	cfg, err := dbx.ParseConfig(strings.Replace(b.cluster.Primary.DSN(), "postgres@", "app@", 1))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns, cfg.Verify, cfg.Logger = 3, dbx.VerifyOff, slog.New(slog.DiscardHandler)
	c, err := dbx.OpenConfig(b.ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	release := hold(t, b.ctx, c, 1)
	defer release()
	_, err = c.Exec(b.ctx, `SELECT 1`)
	var full *dbx.ServerFullError
	if !errors.As(err, &full) || !strings.Contains(full.Hint(), "CONNECTION LIMIT") {
		t.Fatalf("role limit: %v", err)
	}
}

func TestTxRetriesSerializationFailure(t *testing.T) {
	b := setup(t, nil)
	checkTxRetries(t, b, b.open(t, func(cfg *dbx.Config) { cfg.MaxConns = 3 }))
}

// checkTxRetries: a serialization failure is retried only with Retry, and
// the retry succeeds.
func checkTxRetries(t *testing.T, b bundle, c *dbx.Cluster) {
	t.Helper()
	if _, err := c.Exec(b.ctx, `CREATE TABLE acct (id int PRIMARY KEY, balance int); INSERT INTO acct VALUES (1, 100)`); err != nil {
		t.Fatal(err)
	}
	interfere := func(ctx context.Context) error {
		// Another session commits a change to the row after our snapshot.
		_, err := c.Exec(ctx, `UPDATE acct SET balance = balance + 1 WHERE id = 1`)
		return err
	}
	body := func(attempts *int) func(pgx.Tx) error {
		return func(tx pgx.Tx) error {
			*attempts++
			var bal int
			if err := tx.QueryRow(b.ctx, `SELECT balance FROM acct WHERE id = 1`).Scan(&bal); err != nil {
				return err
			}
			if *attempts == 1 {
				if err := interfere(b.ctx); err != nil {
					return err
				}
			}
			_, err := tx.Exec(b.ctx, `UPDATE acct SET balance = $1 WHERE id = 1`, bal-10)
			return err
		}
	}
	serializable := pgx.TxOptions{IsoLevel: pgx.Serializable}

	var attempts int
	err := c.TxWith(b.ctx, dbx.TxOptions{TxOptions: serializable}, body(&attempts))
	if !dbx.IsRetryable(err) || attempts != 1 {
		t.Fatalf("without Retry: %v after %d attempts, want one retryable failure", err, attempts)
	}

	attempts = 0
	if err := c.TxWith(b.ctx, dbx.TxOptions{TxOptions: serializable, Retry: true}, body(&attempts)); err != nil {
		t.Fatalf("with Retry: %v", err)
	}
	var bal int
	if err := c.QueryRow(b.ctx, `SELECT balance FROM acct WHERE id = 1`).Scan(&bal); err != nil || attempts != 2 || bal != 92 {
		t.Fatalf("attempts %d, balance %d (%v): want 2 attempts and 100+1+1-10 = 92", attempts, bal, err)
	}
	if st := c.Primary().Stat(); st.Gate.InUse != 0 {
		t.Fatalf("transactions leaked slots: %+v", st)
	}
}

func TestTxRollsBackOnErrorAndPanic(t *testing.T) {
	b := setup(t, nil)
	c := b.open(t, nil)
	if _, err := c.Exec(b.ctx, `CREATE TABLE t (v int)`); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := c.Tx(b.ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(b.ctx, `INSERT INTO t VALUES (1)`); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Tx = %v", err)
	}
	func() {
		defer func() { _ = recover() }()
		_ = c.Tx(b.ctx, func(tx pgx.Tx) error {
			_, _ = tx.Exec(b.ctx, `INSERT INTO t VALUES (2)`)
			panic("in fn")
		})
	}()
	var n int
	if err := c.QueryRow(b.ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows after rollbacks = %d, %v", n, err)
	}
	if st := c.Primary().Stat(); st.Gate.InUse != 0 {
		t.Fatalf("slots leaked: %+v", st)
	}
}

func TestMetrics(t *testing.T) {
	b := setup(t, nil)
	var logs syncBuffer
	c := b.open(t, func(cfg *dbx.Config) {
		cfg.MaxConns, cfg.MaxWaiters = 1, -1
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	release := hold(t, b.ctx, c, 1)
	for range 3 {
		if _, err := c.Exec(b.ctx, `SELECT 1`); !errors.Is(err, dbx.ErrPoolExhausted) {
			t.Fatalf("no-wait pool: %v", err)
		}
	}
	if n := strings.Count(logs.String(), "dbx: pool saturated"); n != 1 {
		t.Fatalf("saturation logged %d times for 3 sheds, want 1 (rate-limited):\n%s", n, logs.String())
	}
	release()
	if _, err := c.Exec(b.ctx, `SELECT 1`); err != nil {
		t.Fatal(err)
	}
	families := gather(t, c)
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				got[f.GetName()] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				got[f.GetName()] += m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				got[f.GetName()] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	for name, want := range map[string]float64{
		"pgfleet_gate_shed_total":           3,
		"pgfleet_pool_limit":                1,
		"pgfleet_pool_max_connections":      1,
		"pgfleet_gate_waiters":              0,
		"pgfleet_server_max_connections":    100,
		"pgfleet_budget_usable_connections": 97,
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
	if got["pgfleet_query_duration_seconds"] < 1 || got["pgfleet_gate_wait_seconds"] < 2 {
		t.Errorf("histograms not fed: %v", got)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// The report counts the service's backends already on the server (other pods),
// not Open's own probe.
func TestReportCountsOtherPodsBackends(t *testing.T) {
	b := setup(t, nil)
	cfg, err := pgx.ParseConfig(b.cluster.Primary.DSN())
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = "orders/pod-0"
	for range 2 {
		conn, err := pgx.ConnectConfig(b.ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(b.ctx)
	}
	r := b.open(t, nil).Report()
	if r.ServiceBackends != 2 || r.Backends < 2 {
		t.Fatalf("report: %d backends, %d of service orders; want 2 of orders (the other pod's), probe excluded", r.Backends, r.ServiceBackends)
	}
}

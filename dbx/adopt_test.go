package dbx_test

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgfleet/pgfleet/dbx"
)

// countingTracer is a user's own pgx tracer.
type countingTracer struct{ queries atomic.Int64 }

func (c *countingTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.queries.Add(1)
	return ctx
}
func (c *countingTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// pgxpool's hooks and ConnConfig settings reach pgx through Config.Pool; dbx
// keeps its own tracer and session settings alongside. Before, Config had no
// way to set AfterConnect (custom types), PrepareConn, AfterRelease,
// BeforeClose or a ConnConfig.Tracer.
func TestPoolHooksAndTracerReachPgx(t *testing.T) {
	b := setup(t, nil)
	var afterConnect, prepare, afterRelease, beforeClose atomic.Int64
	user := &countingTracer{}
	c := b.open(t, func(cfg *dbx.Config) {
		cfg.MaxConns = 2
		cfg.Pool.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
			afterConnect.Add(1)
			_, err := conn.Exec(ctx, `SET search_path = hooked, public`)
			return err
		}
		cfg.Pool.PrepareConn = func(context.Context, *pgx.Conn) (bool, error) { prepare.Add(1); return true, nil }
		cfg.Pool.AfterRelease = func(*pgx.Conn) bool { afterRelease.Add(1); return true }
		cfg.Pool.BeforeClose = func(*pgx.Conn) { beforeClose.Add(1) }
		cfg.Pool.ConnConfig.Tracer = user
	})
	var path, app string
	if err := c.QueryRow(b.ctx, `SELECT current_setting('search_path'), current_setting('application_name')`).Scan(&path, &app); err != nil {
		t.Fatal(err)
	}
	if path != "hooked, public" || app != "orders/pod-1" {
		t.Fatalf("session: search_path %q, application_name %q", path, app)
	}
	if _, err := c.Exec(b.ctx, `SELECT 1`); err != nil {
		t.Fatal(err)
	}
	// dbx's own timer still runs beside the user's tracer.
	families := gather(t, c)
	var timed uint64
	for _, f := range families {
		if f.GetName() == "pgfleet_query_duration_seconds" {
			for _, m := range f.GetMetric() {
				timed += m.GetHistogram().GetSampleCount()
			}
		}
	}
	if timed < 2 {
		t.Fatalf("dbx's query histogram counted %d queries, want >= 2", timed)
	}
	c.Close()
	if afterConnect.Load() < 1 || prepare.Load() < 2 || afterRelease.Load() < 2 || beforeClose.Load() < 1 {
		t.Fatalf("hooks: AfterConnect %d, PrepareConn %d, AfterRelease %d, BeforeClose %d",
			afterConnect.Load(), prepare.Load(), afterRelease.Load(), beforeClose.Load())
	}
	// The user's tracer saw the SET of AfterConnect and both queries.
	if n := user.queries.Load(); n < 3 {
		t.Fatalf("user tracer saw %d queries, want >= 3", n)
	}
}

// dbx.Conn embedded *pgxpool.Conn: c.Conn.Release() returned the connection
// but never the gate slot, and Hijack let pgxpool open a replacement while
// the slot stayed held. Neither is reachable now.
func TestConnOffersNoWayAroundTheGate(t *testing.T) {
	t.Parallel()
	typ := reflect.TypeOf(dbx.Conn{})
	for i := range typ.NumField() {
		if f := typ.Field(i); f.IsExported() {
			t.Errorf("dbx.Conn exports field %s (%s)", f.Name, f.Type)
		}
	}
	if _, ok := reflect.TypeOf(&dbx.Conn{}).MethodByName("Hijack"); ok {
		t.Error("dbx.Conn has Hijack")
	}
}

func TestConnMethodsAndRelease(t *testing.T) {
	b := setup(t, nil)
	c := b.open(t, func(cfg *dbx.Config) { cfg.MaxConns, cfg.MaxWaiters = 1, -1 })
	conn, err := c.Acquire(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(b.ctx, `CREATE TEMP TABLE t (v int)`); err != nil {
		t.Fatal(err)
	}
	if n, err := conn.CopyFrom(b.ctx, pgx.Identifier{"t"}, []string{"v"}, pgx.CopyFromRows([][]any{{1}, {2}})); err != nil || n != 2 {
		t.Fatalf("CopyFrom = %d, %v", n, err)
	}
	batch := &pgx.Batch{}
	batch.Queue(`INSERT INTO t VALUES (3)`)
	if err := conn.SendBatch(b.ctx, batch).Close(); err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(b.ctx, `INSERT INTO t VALUES (4)`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(b.ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(b.ctx, `SELECT v FROM t ORDER BY v`)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil || len(vs) != 4 {
		t.Fatalf("rows %v, %v", vs, err)
	}
	var pid int
	if err := conn.QueryRow(b.ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil || conn.Conn().PgConn().PID() != uint32(pid) {
		t.Fatalf("QueryRow/Conn: pid %d vs %d, %v", pid, conn.Conn().PgConn().PID(), err)
	}
	if err := conn.Ping(b.ctx); err != nil {
		t.Fatal(err)
	}
	// The transaction's end kept the connection and its slot.
	if st := c.Primary().Stat(); st.Gate.InUse != 1 || st.Acquired != 1 {
		t.Fatalf("while held: %+v", st)
	}
	conn.Release()
	conn.Release()
	if st := c.Primary().Stat(); st.Gate.InUse != 0 || st.Acquired != 0 {
		t.Fatalf("after Release: %+v", st)
	}
	// Use after Release fails instead of panicking in pgxpool.
	if _, err := conn.Exec(b.ctx, `SELECT 1`); !errors.Is(err, dbx.ErrConnReleased) {
		t.Fatalf("Exec after Release: %v", err)
	}
	if err := conn.QueryRow(b.ctx, `SELECT 1`).Scan(&pid); !errors.Is(err, dbx.ErrConnReleased) {
		t.Fatalf("QueryRow after Release: %v", err)
	}
	if conn.Conn() != nil {
		t.Fatal("Conn() after Release is not nil")
	}
	// The single slot is free again.
	if _, err := c.Exec(b.ctx, `SELECT 1`); err != nil {
		t.Fatal(err)
	}
}

// Cluster.Config said "defaults filled in" but returned MaxWaiters 0 where
// the gate used 40.
func TestConfigReportsEffectiveValues(t *testing.T) {
	b := setup(t, nil)
	var logs syncBuffer
	c := b.open(t, func(cfg *dbx.Config) {
		cfg.MaxConns = 10
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil)) // Info and above
	})
	got := c.Config()
	if got.MaxWaiters != 40 || c.Primary().Stat().Gate.MaxWaiters != 40 {
		t.Errorf("MaxWaiters: Config %d, gate %d; want 40 (4 x MaxConns) in both", got.MaxWaiters, c.Primary().Stat().Gate.MaxWaiters)
	}
	if got.OperationTimeout != dbx.DefaultStatementTimeout+dbx.DefaultOperationMargin || got.Pool == nil {
		t.Errorf("OperationTimeout %s, Pool %v", got.OperationTimeout, got.Pool)
	}
	// "budget verified" on every Open was noise at INFO.
	if strings.Contains(logs.String(), "budget verified") {
		t.Errorf("INFO log on a fitting Open: %s", logs.String())
	}
}

// A pool larger than the server can ever give is refused at Open, naming
// the field.
func TestMaxConnsOverServerIsRefused(t *testing.T) {
	b := setup(t, map[string]string{"max_connections": "20"})
	cfg, err := dbx.ParseConfig(b.cluster.Primary.DSN())
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns, cfg.Logger = 50, slog.New(slog.DiscardHandler)
	_, err = dbx.OpenConfig(b.ctx, cfg)
	var be *dbx.BudgetError
	if !errors.As(err, &be) || !strings.Contains(err.Error(), "Config.MaxConns = 50 exceeds the 17 connections") {
		t.Fatalf("MaxConns 50 on 17 usable: %v", err)
	}
}

// A query whose ctx has no deadline waited as long as the server was
// stopped. Now it fails after OperationTimeout (StatementTimeout + margin).
func TestQueryOnPausedServerIsBounded(t *testing.T) {
	b := setup(t, nil)
	c := b.open(t, func(cfg *dbx.Config) { cfg.MaxConns, cfg.StatementTimeout = 1, time.Second })
	if want := time.Second + dbx.DefaultOperationMargin; c.Config().OperationTimeout != want {
		t.Fatalf("OperationTimeout = %s, want %s", c.Config().OperationTimeout, want)
	}
	if _, err := c.Exec(context.Background(), `SELECT 1`); err != nil { // a connection in the pool
		t.Fatal(err)
	}
	if err := b.cluster.Primary.Pause(); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			if err := b.cluster.Primary.Resume(); err != nil {
				t.Error(err)
			}
		}
	}
	defer resume()
	done := make(chan error, 1)
	go func() {
		var one int
		done <- c.QueryRow(context.Background(), `SELECT 1`).Scan(&one)
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute): // generous: the bound is 6 s
		resume()
		t.Fatal("query on a paused server still waiting after 2 minutes")
	}
	var silence *dbx.SilenceError
	if !pgconn.Timeout(err) || !errors.As(err, &silence) || !strings.Contains(err.Error(), "Config.OperationTimeout") {
		t.Fatalf("paused server: %v, want a timeout naming Config.OperationTimeout", err)
	}
	t.Logf("paused server: %v", err)
	resume()
	if st := c.Primary().Stat(); st.Gate.InUse != 0 {
		t.Fatalf("slot kept: %+v", st)
	}
	// The broken connection was dropped; the next query gets a fresh one.
	if _, err := c.Exec(b.ctx, `SELECT 1`); err != nil {
		t.Fatalf("after resume: %v", err)
	}
}

// The bound applies only when the ctx has none: a caller's deadline rules,
// and the same silent statement passes under it.
func TestOperationTimeoutOnlyWithoutDeadline(t *testing.T) {
	b := setup(t, nil)
	c := b.open(t, func(cfg *dbx.Config) { cfg.OperationTimeout = 100 * time.Millisecond })
	// pg_sleep sends nothing for 300 ms, always longer than the bound.
	_, err := c.Exec(context.Background(), `SELECT pg_sleep(0.3)`)
	var silence *dbx.SilenceError
	if !errors.As(err, &silence) || silence.Bound != 100*time.Millisecond {
		t.Fatalf("no deadline: %v, want a *dbx.SilenceError", err)
	}
	if _, err := c.Exec(b.ctx, `SELECT pg_sleep(0.3)`); err != nil { // b.ctx has a deadline
		t.Fatalf("with a deadline: %v", err)
	}
	batch := &pgx.Batch{}
	batch.Queue(`SELECT pg_sleep(0.3)`)
	if err := c.SendBatch(context.Background(), batch).Close(); !errors.As(err, &silence) {
		t.Fatalf("batch without deadline: %v, want a *dbx.SilenceError", err)
	}
	if st := c.Primary().Stat(); st.Gate.InUse != 0 {
		t.Fatalf("slots kept: %+v", st)
	}
}

package topology_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgfleet/pgfleet/dbx/dbxtest"
	"github.com/pgfleet/pgfleet/dbx/dbxtest/topology"
)

// bouncerScalar runs sql through the bouncer as a client of its own.
func bouncerScalar[T any](t *testing.T, ctx context.Context, b *topology.Bouncer, sql string) (T, error) {
	t.Helper()
	var v T
	conn, err := b.Connect(ctx)
	if err != nil {
		return v, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	err = conn.QueryRow(ctx, sql).Scan(&v)
	return v, err
}

func TestBouncerModesAndSettings(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := dbxtest.Start(t, dbxtest.Topology{})
	for _, mode := range []string{dbxtest.SessionMode, dbxtest.TransactionMode} {
		b := dbxtest.StartBouncer(t, c, dbxtest.BouncerConfig{Mode: mode, PoolSize: 3, MaxClientConn: 7})
		if got, err := bouncerScalar[int](t, ctx, b, "SELECT 41 + 1"); err != nil || got != 42 {
			t.Fatalf("%s: SELECT through the bouncer = %d, %v", mode, got, err)
		}
		cfg, err := b.Show(ctx, "CONFIG")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"pool_mode": mode, "default_pool_size": "3", "max_client_conn": "7"}
		for _, row := range cfg {
			if w, ok := want[row["key"]]; ok {
				if row["value"] != w {
					t.Errorf("%s: %s = %q, want %q", mode, row["key"], row["value"], w)
				}
				delete(want, row["key"])
			}
		}
		if len(want) > 0 {
			t.Errorf("%s: SHOW CONFIG lacks %v", mode, want)
		}
	}
}

// A real PgBouncer refuses what a real one refuses: the harness is only
// useful if it reproduces the failures users see.
func TestBouncerRefusesStartupParameters(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := dbxtest.Start(t, dbxtest.Topology{})
	b := dbxtest.StartBouncer(t, c, dbxtest.BouncerConfig{})
	_, err := pgx.Connect(ctx, b.DSN()+"&statement_timeout=100")
	if err == nil || !strings.Contains(err.Error(), "unsupported startup parameter") {
		t.Fatalf("statement_timeout as a startup parameter: err = %v, want PgBouncer's refusal", err)
	}
}

func TestBouncerMaxClientConn(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := dbxtest.Start(t, dbxtest.Topology{})
	b := dbxtest.StartBouncer(t, c, dbxtest.BouncerConfig{MaxClientConn: 2})
	var conns []*pgx.Conn
	defer func() {
		for _, conn := range conns {
			conn.Close(context.WithoutCancel(ctx))
		}
	}()
	var err error
	for range 3 {
		var conn *pgx.Conn
		if conn, err = pgx.Connect(ctx, b.DSN()); err != nil {
			break
		}
		conns = append(conns, conn)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || !strings.Contains(pgErr.Message, "max_client_conn") {
		t.Fatalf("third client of max_client_conn 2: err = %v", err)
	}
	t.Logf("PgBouncer's refusal: SQLSTATE %s, %q", pgErr.Code, pgErr.Message)
}

func TestBouncerFaults(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := dbxtest.Start(t, dbxtest.Topology{})
	b := dbxtest.StartBouncer(t, c, dbxtest.BouncerConfig{})
	query := func(timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		_, err := bouncerScalar[int](t, ctx, b, "SELECT 1")
		return err
	}

	// PAUSE: queries wait (no error) until RESUME.
	if err := b.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	if err := query(200 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("query during PAUSE: err = %v, want it to wait until its deadline", err)
	}
	if err := b.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	if err := query(10 * time.Second); err != nil {
		t.Fatalf("after RESUME: %v", err)
	}

	// SIGSTOP: connects hang until Thaw.
	if err := b.Freeze(); err != nil {
		t.Fatal(err)
	}
	if err := query(200 * time.Millisecond); err == nil {
		t.Fatal("query through a frozen bouncer succeeded")
	}
	if err := b.Thaw(); err != nil {
		t.Fatal(err)
	}
	if err := query(10 * time.Second); err != nil {
		t.Fatalf("after Thaw: %v", err)
	}

	// Kill: connections are refused until Start.
	if err := b.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := query(2 * time.Second); err == nil {
		t.Fatal("query through a killed bouncer succeeded")
	}
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := query(10 * time.Second); err != nil {
		t.Fatalf("after Start: %v", err)
	}
}

// Closing the cluster stops its bouncer and removes its directory, even when
// the bouncer is frozen.
func TestBouncerClosedWithCluster(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	dbxtest.SkipShort(t)
	c, err := topology.Launch(ctx, topology.Topology{})
	dbxtest.Require(t, err)
	b, err := c.LaunchBouncer(ctx, topology.BouncerConfig{})
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	pid, dir := topology.BouncerPID(b), topology.BouncerDir(b)
	if err := b.Freeze(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("pgbouncer pid %d still exists after Cluster.Close (kill 0: %v)", pid, err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("pgbouncer directory %s still exists after Cluster.Close (stat: %v)", dir, err)
	}
}

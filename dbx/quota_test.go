package dbx_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/dbx/budget"
)

// slotCheckSQL runs on a connection the cluster hands out and counts the
// quota slots that connection's session holds: exactly 1 when the quota
// works, whatever else happens.
const slotCheckSQL = `SELECT count(*) FROM pg_locks
	WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND classid = $1::int8 AND objsubid = 2 AND granted`

// slotsHeldSQL counts the slots held on the server for a lock space.
const slotsHeldSQL = `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::int8 AND objsubid = 2 AND granted`

// quotaPod opens one pod of a service with a quota on the bundle's primary.
func (b bundle) quotaPod(t *testing.T, service, pod string, quota, maxConns int, mutate func(*dbx.Config)) *dbx.Cluster {
	t.Helper()
	return b.open(t, func(c *dbx.Config) {
		c.Service, c.Pod = service, pod
		c.Quota, c.MaxConns = quota, maxConns
		c.AcquireTimeout = 300 * time.Millisecond
		c.MaxConnIdleTime, c.HealthCheckPeriod = 200*time.Millisecond, 50*time.Millisecond
		if mutate != nil {
			mutate(c)
		}
	})
}

// outcome counts what a load loop saw.
type outcome struct {
	ok, exhausted, serverFull, other, slotless atomic.Int64
}

func (o *outcome) String() string {
	return fmt.Sprintf("ok %d, exhausted %d, 53300 %d, other %d, connections without a slot %d",
		o.ok.Load(), o.exhausted.Load(), o.serverFull.Load(), o.other.Load(), o.slotless.Load())
}

// load runs workers loops of a query that holds its connection ~5 ms and
// checks that the connection holds exactly one slot of space (unless space
// is 0: no quota).
func load(ctx context.Context, c *dbx.Cluster, space int32, workers, iterations int, o *outcome) {
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range iterations {
				var n int
				err := c.QueryRow(ctx, "SELECT (SELECT count(*) FROM pg_sleep(0.005)) * 0 + ("+slotCheckSQL+")", int64(space)).Scan(&n)
				switch {
				case err == nil && (n == 1 || space == 0):
					o.ok.Add(1)
				case err == nil:
					o.slotless.Add(1)
				case dbx.IsServerFull(err):
					o.serverFull.Add(1)
				case errors.Is(err, dbx.ErrPoolExhausted):
					o.exhausted.Add(1)
				default:
					o.other.Add(1)
				}
			}
		})
	}
	wg.Wait()
}

// Six pods of 5 connections each against 25 connections (the tests connect
// as a superuser, who may use the reserved ones): without a
// quota the server refuses connections (53300); with a quota of 12 it never
// does, and every connection that serves a query holds its own slot.
func TestQuotaReplacesServerFullWithBoundedWaits(t *testing.T) {
	b := setup(t, map[string]string{"max_connections": "25"})
	run := func(service string, quota int) *outcome {
		var pods []*dbx.Cluster
		for i := range 6 {
			pods = append(pods, b.quotaPod(t, service, fmt.Sprintf("pod-%d", i), quota, 5, func(c *dbx.Config) {
				c.Verify = dbx.VerifyOff // six pools of 5 do not fit 27: that is the point
			}))
		}
		o := &outcome{}
		space := dbx.QuotaSpace(service)
		if quota == 0 {
			space = 0
		}
		var wg sync.WaitGroup
		for _, p := range pods {
			wg.Go(func() { load(b.ctx, p, space, 8, 40, o) })
		}
		wg.Wait()
		for _, p := range pods {
			p.Close()
		}
		return o
	}
	naive := run("naive", 0)
	if naive.serverFull.Load() == 0 {
		t.Fatalf("without a quota: %v; the control should hit 53300", naive)
	}
	quota := run("quota", 12)
	t.Logf("without quota: %v; with quota 12: %v", naive, quota)
	if quota.serverFull.Load() != 0 || quota.slotless.Load() != 0 || quota.other.Load() != 0 || quota.ok.Load() == 0 {
		t.Fatalf("with quota 12: %v", quota)
	}
}

// A connection killed by pg_terminate_backend gives its slot back at once:
// another pod of the service that was refused gets it.
func TestQuotaSlotReturnsOnTerminate(t *testing.T) {
	b := setup(t, nil)
	a := b.quotaPod(t, "term", "pod-a", 3, 3, nil)
	release := hold(t, b.ctx, a, 3)
	if st, _ := a.Primary().Quota(); st.Held != 3 {
		t.Fatalf("pod-a holds %d slots, want 3", st.Held)
	}
	if got := quotaMetrics(t, a); got["pgfleet_quota_slots"] != 3 || got["pgfleet_quota_slots_held"] != 3 || got["pgfleet_quota_guaranteed"] != 1 {
		t.Fatalf("pod-a's quota metrics: %v", got)
	}
	other := b.quotaPod(t, "term", "pod-b", 3, 3, nil)
	_, err := other.Exec(b.ctx, "SELECT 1")
	var qe *dbx.QuotaError
	var sat *dbx.SaturationError
	if !errors.Is(err, dbx.ErrPoolExhausted) || !(errors.As(err, &qe) || errors.As(err, &sat)) {
		t.Fatalf("pod-b with the quota full: %v, want ErrPoolExhausted", err)
	}
	release()
	n, err := b.cluster.Primary.TerminateApp(b.ctx, a.AppName())
	if err != nil || n != 3 {
		t.Fatalf("terminated %d backends of pod-a: %v", n, err)
	}
	eventually(t, func() error {
		_, err := other.Exec(b.ctx, "SELECT 1")
		return err
	})
	// pod-a recovers too once its broken connections are gone.
	eventually(t, func() error {
		_, err := a.Exec(b.ctx, "SELECT 1")
		return err
	})
}

// eventually retries fn until it succeeds (see waitFor).
func eventually(t *testing.T, fn func() error) {
	t.Helper()
	var err error
	waitFor(t, "success", func() bool { err = fn(); return err == nil })
	if err != nil {
		t.Fatal(err)
	}
}

// Work-conserving sharing with a guaranteed minimum: a busy pod takes the
// shared slots an idle pod does not use; the idle pod, once busy, still gets
// its minimum at once (a reserved slot); when the first pod goes idle its
// shared slots come back after MaxConnIdleTime and the other takes them.
func TestQuotaUnevenLoadIsWorkConserving(t *testing.T) {
	b := setup(t, nil)
	fleet := budget.Service{Replicas: 2, NoSurge: true} // 2 processes: 2 reserved slots of min 1
	pod := func(name string) *dbx.Cluster {
		return b.quotaPod(t, "uneven", name, 6, 5, func(c *dbx.Config) { c.Fleet = fleet })
	}
	a, c := pod("pod-a"), pod("pod-c")
	space := dbx.QuotaSpace("uneven")
	// busy runs 8 loops of 10 ms queries on p until the returned stop.
	busy := func(p *dbx.Cluster) (stop func()) {
		ctx, cancel := context.WithCancel(b.ctx)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for ctx.Err() == nil {
					_, _ = p.Exec(ctx, "SELECT pg_sleep(0.01)")
				}
			})
		}
		return func() { cancel(); wg.Wait() }
	}
	held := func(p *dbx.Cluster) int { st, _ := p.Primary().Quota(); return st.Held }

	stopA := busy(a)
	defer stopA()
	// pod-a: its reserved minimum plus all 4 shared slots, capped at 5.
	waitFor(t, "pod-a holds 5 slots while pod-c is idle", func() bool { return held(a) == 5 })
	if h := held(c); h != 0 {
		t.Fatalf("idle pod-c holds %d", h)
	}
	// pod-c gets its guaranteed slot although every shared slot is taken.
	if _, err := c.Exec(b.ctx, "SELECT 1"); err != nil {
		t.Fatalf("pod-c's minimum while pod-a holds the shared slots: %v", err)
	}
	stopC := busy(c)
	defer stopC()
	time.Sleep(200 * time.Millisecond)
	if ha, hc := held(a), held(c); ha+hc > 6 || hc < 1 {
		t.Fatalf("both busy: pod-a %d, pod-c %d slots (quota 6, min 1 each)", ha, hc)
	}
	// pod-a goes idle: its shared slots come back and the busy pod-c takes them.
	stopA()
	waitFor(t, "pod-c grows to 5 slots after pod-a idles", func() bool { return held(c) == 5 })
	stopC()
	var onServer int
	conn := connect(t, b)
	if err := conn.QueryRow(b.ctx, slotsHeldSQL, int64(space)).Scan(&onServer); err != nil || onServer > 6 {
		t.Fatalf("slots on the server: %d, %v", onServer, err)
	}
}

func connect(t *testing.T, b bundle) *pgx.Conn {
	t.Helper()
	conn, err := b.cluster.Primary.Connect(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.WithoutCancel(b.ctx)) })
	return conn
}

// Bad input: each gets a clear error naming the cause and the fix.
func TestQuotaBadInput(t *testing.T) {
	b := setup(t, nil)
	open := func(mutate func(*dbx.Config)) error {
		cfg, err := dbx.ParseConfig(b.cluster.Primary.DSN())
		if err != nil {
			t.Fatal(err)
		}
		cfg.Service, cfg.Pod, cfg.Logger = "bad", "pod", slog.New(slog.DiscardHandler)
		mutate(cfg)
		c, err := dbx.OpenConfig(b.ctx, cfg)
		if err == nil {
			c.Close()
		}
		return err
	}
	for _, tc := range []struct {
		name   string
		mutate func(*dbx.Config)
		want   string
	}{
		{"quota above usable", func(c *dbx.Config) { c.Quota = 500 }, "Config.Quota = 500 for service \"bad\" exceeds the 97 connections"},
		{"min without quota", func(c *dbx.Config) { c.QuotaMin = 2 }, "declares no quota: set Config.Quota (or $PGFLEET_QUOTA)"},
		{"quota and share", func(c *dbx.Config) {
			c.Quota, c.Share, c.Fleet = 10, 0.5, budget.Service{Replicas: 2}
		}, "set one of them"},
		{"min does not fit", func(c *dbx.Config) {
			c.Quota, c.QuotaMin, c.Fleet = 10, 2, budget.Service{Replicas: 4, MaxReplicas: 8}
		}, "cannot guarantee QuotaMin 2 to the fleet's 10 worst-case processes (20 needed)"},
	} {
		err := open(tc.mutate)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "dbx: ") {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}

	// A role whose CONNECTION LIMIT disagrees with the quota: start-up
	// verification says so (here it fails: VerifyFail).
	admin := connect(t, b)
	if _, err := admin.Exec(b.ctx, `CREATE ROLE limited LOGIN CONNECTION LIMIT 3`); err != nil {
		t.Fatal(err)
	}
	err := open(func(c *dbx.Config) {
		c.Pool.ConnConfig.User, c.Quota, c.MaxConns, c.Verify = "limited", 6, 2, dbx.VerifyFail
	})
	if err == nil || !strings.Contains(err.Error(), `role "limited"'s CONNECTION LIMIT 3 disagrees with service "bad"'s quota 6: ALTER ROLE "limited" CONNECTION LIMIT 6`) {
		t.Fatalf("role limit below the quota: %v", err)
	}

	// A role that may not take advisory locks.
	for _, sql := range []string{
		`CREATE ROLE nolocks LOGIN`,
		`REVOKE EXECUTE ON FUNCTION pg_try_advisory_lock(integer, integer) FROM PUBLIC`,
	} {
		if _, err := admin.Exec(b.ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := dbx.ParseConfig(b.cluster.Primary.DSN())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Pool.ConnConfig.User = "nolocks"
	cfg.Service, cfg.Quota, cfg.Logger = "bad", 5, slog.New(slog.DiscardHandler)
	_, err = dbx.OpenConfig(b.ctx, cfg)
	if err == nil || !strings.Contains(err.Error(), `role "nolocks" may not execute pg_try_advisory_lock(integer, integer)`) || !strings.Contains(err.Error(), "GRANT EXECUTE") {
		t.Fatalf("role without advisory locks: %v", err)
	}
}

// A server restart ends every session, so every slot is gone: the pods
// reconnect on demand, one connect at a time each, and take slots again
// without exceeding the quota.
func TestQuotaServerRestart(t *testing.T) {
	b := setup(t, nil)
	var pods []*dbx.Cluster
	for i := range 3 {
		p := b.quotaPod(t, "restart", fmt.Sprintf("pod-%d", i), 6, 4, nil)
		hold(t, b.ctx, p, 2)()
		pods = append(pods, p)
	}
	if err := b.cluster.Primary.Stop(b.ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.cluster.Primary.Start(b.ctx); err != nil {
		t.Fatal(err)
	}
	o := &outcome{}
	for _, p := range pods {
		eventually(t, func() error { _, err := p.Exec(b.ctx, "SELECT 1"); return err })
	}
	var wg sync.WaitGroup
	for _, p := range pods {
		wg.Go(func() { load(b.ctx, p, dbx.QuotaSpace("restart"), 4, 20, o) })
	}
	wg.Wait()
	var onServer int
	if err := connect(t, b).QueryRow(b.ctx, slotsHeldSQL, int64(dbx.QuotaSpace("restart"))).Scan(&onServer); err != nil {
		t.Fatal(err)
	}
	if o.ok.Load() == 0 || o.serverFull.Load() != 0 || o.slotless.Load() != 0 || o.other.Load() != 0 || onServer > 6 {
		t.Fatalf("after the restart: %v; %d slots on the server (quota 6)", o, onServer)
	}
}

// quotaMetrics gathers a cluster's pgfleet_quota_* series by name.
func quotaMetrics(t *testing.T, c *dbx.Cluster) map[string]float64 {
	t.Helper()
	families := gather(t, c)
	out := map[string]float64{}
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "pgfleet_quota_") {
			continue
		}
		for _, m := range f.GetMetric() {
			out[f.GetName()] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return out
}

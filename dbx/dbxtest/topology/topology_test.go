package topology_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/pgfleet/pgfleet/dbx/dbxtest"
	"github.com/pgfleet/pgfleet/dbx/dbxtest/internal/nodecheck"
	"github.com/pgfleet/pgfleet/dbx/dbxtest/topology"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// execErr runs sql on its own connection to n and returns the statement's
// error; a failed connect fails the test.
func execErr(t *testing.T, ctx context.Context, n *topology.Node, sql string) error {
	t.Helper()
	conn, err := n.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

func mustExec(t *testing.T, ctx context.Context, n *topology.Node, sql string) {
	t.Helper()
	if err := execErr(t, ctx, n, sql); err != nil {
		t.Fatalf("%s on %s: %v", sql, n.Name, err)
	}
}

func TestReplicationStreams(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := dbxtest.Start(t, topology.Topology{Replicas: 2})
	mustExec(t, ctx, c.Primary, `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'streamed')`)
	lsn := nodecheck.Scalar[string](t, ctx, c.Primary, `SELECT pg_current_wal_lsn()::text`)
	for _, r := range c.Replicas {
		if !nodecheck.Scalar[bool](t, ctx, r, `SELECT pg_is_in_recovery()`) {
			t.Fatalf("%s is not in recovery", r.Name)
		}
		if err := r.WaitReplay(ctx, lsn); err != nil {
			t.Fatal(err)
		}
		if got := nodecheck.Scalar[string](t, ctx, r, `SELECT v FROM t WHERE id = 1`); got != "streamed" {
			t.Fatalf("%s read %q", r.Name, got)
		}
	}
	if n := nodecheck.Scalar[int](t, ctx, c.Primary, `SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'`); n != 2 {
		t.Fatalf("pg_stat_replication shows %d streaming replicas, want 2", n)
	}
}

func TestSettingsPerNode(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := dbxtest.Start(t, topology.Topology{
		Shards:       2,
		Settings:     map[string]string{"max_connections": "30"},
		NodeSettings: map[string]map[string]string{"shard1": {"max_connections": "20"}},
	})
	want := map[string]string{"primary": "30", "shard0": "30", "shard1": "20"}
	for _, n := range c.Nodes() {
		if got := nodecheck.Scalar[string](t, ctx, n, `SHOW max_connections`); got != want[n.Name] {
			t.Errorf("%s max_connections = %s, want %s", n.Name, got, want[n.Name])
		}
		if nodecheck.Scalar[bool](t, ctx, n, `SELECT pg_is_in_recovery()`) {
			t.Errorf("%s is in recovery", n.Name)
		}
	}
	if c.Shards[0].DSN() == c.Shards[1].DSN() || c.Primary.DSN() == c.Shards[0].DSN() {
		t.Fatal("nodes share a DSN")
	}
}

func TestBadTopology(t *testing.T) {
	t.Parallel()
	_, err := topology.Launch(t.Context(), topology.Topology{NodeSettings: map[string]map[string]string{"replica3": {}}})
	if err == nil {
		t.Fatal("NodeSettings for a missing node accepted")
	}
	_, err = topology.Launch(t.Context(), topology.Topology{Replicas: -1})
	if err == nil {
		t.Fatal("negative replicas accepted")
	}
}

func TestStopStartKill(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := dbxtest.Start(t, topology.Topology{})
	n := c.Primary
	mustExec(t, ctx, n, `CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)`)

	if err := n.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Connect(ctx); err == nil {
		t.Fatal("connected to a stopped node")
	}
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if v := nodecheck.Scalar[int](t, ctx, n, `SELECT v FROM kept`); v != 42 {
		t.Fatalf("after restart read %d", v)
	}

	held, err := n.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := held.Ping(ctx); err == nil {
		t.Fatal("a connection survived kill -9")
	}
	held.Close(ctx)
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if v := nodecheck.Scalar[int](t, ctx, n, `SELECT v FROM kept`); v != 42 {
		t.Fatalf("after crash recovery read %d", v)
	}
}

func TestPauseResume(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := dbxtest.Start(t, topology.Topology{})
	nodecheck.PauseResume(t, ctx, c.Primary, "server")
}

func TestTerminateApp(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := dbxtest.Start(t, topology.Topology{})
	cfg, err := pgx.ParseConfig(c.Primary.DSN())
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = "orders/pod-1"
	var victims []*pgx.Conn
	for range 3 {
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		victims = append(victims, conn)
	}
	bystander, err := c.Primary.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer bystander.Close(ctx)

	n, err := c.Primary.TerminateApp(ctx, "orders/pod-1")
	if err != nil || n != 3 {
		t.Fatalf("TerminateApp = %d, %v; want 3", n, err)
	}
	for _, v := range victims {
		if err := v.Ping(ctx); err == nil {
			t.Fatal("a terminated connection still answers")
		}
	}
	if err := bystander.Ping(ctx); err != nil {
		t.Fatalf("bystander: %v", err)
	}
}

func TestPromote(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := dbxtest.Start(t, topology.Topology{Replicas: 1})
	r := c.Replicas[0]
	if execErr(t, ctx, r, `CREATE TABLE w (v int)`) == nil {
		t.Fatal("a replica accepted a write")
	}
	if err := c.Primary.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	if nodecheck.Scalar[bool](t, ctx, r, `SELECT pg_is_in_recovery()`) {
		t.Fatal("promoted node still in recovery")
	}
	if err := execErr(t, ctx, r, `CREATE TABLE w (v int); INSERT INTO w VALUES (7)`); err != nil {
		t.Fatalf("promoted node refused a write: %v", err)
	}
}

func TestCloseRemovesEverything(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	dbxtest.Start(t, topology.Topology{}) // skips or fails like every database test
	c, err := topology.Launch(ctx, topology.Topology{Replicas: 1, Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Shards[0].Kill(); err != nil { // a killed node must be cleaned too
		t.Fatal(err)
	}
	if err := c.Replicas[0].Pause(); err != nil { // and a paused one
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Nodes() {
		if conn, err := n.Connect(ctx); err == nil {
			conn.Close(ctx)
			t.Fatalf("%s still answers after Close", n.Name)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// A replica's settings are held to its primary's running values, not to
// the template's: a topology with a low max_connections everywhere starts.
func TestReplicaWithLowMaxConnections(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := dbxtest.Start(t, topology.Topology{Replicas: 1, Settings: map[string]string{"max_connections": "20"}})
	if got := nodecheck.Scalar[string](t, ctx, c.Replicas[0], `SHOW max_connections`); got != "20" {
		t.Fatalf("replica max_connections = %s", got)
	}
	mustExec(t, ctx, c.Primary, `CREATE TABLE x (v int)`)
	lsn := nodecheck.Scalar[string](t, ctx, c.Primary, `SELECT pg_current_wal_lsn()::text`)
	if err := c.Replicas[0].WaitReplay(ctx, lsn); err != nil {
		t.Fatal(err)
	}
}

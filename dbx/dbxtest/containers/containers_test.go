package containers_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/pgfleet/pgfleet/dbx/dbxtest/containers"
	"github.com/pgfleet/pgfleet/dbx/dbxtest/internal/nodecheck"
	"github.com/pgfleet/pgfleet/dbx/dbxtest/topology"
)

// TestContainers is the smoke suite of the testcontainers backend. It runs
// only when that backend is asked for, as CI does in a second invocation:
//
//	PGFLEET_TEST_BACKEND=testcontainers PGFLEET_TEST_IMAGE=pgfleet/postgres:15-local go test -run Containers ./dbx/dbxtest/containers/
//
// and then fails (never skips) when Docker or the image is missing.
func TestContainers(t *testing.T) {
	if os.Getenv("PGFLEET_TEST_BACKEND") != "testcontainers" {
		t.Skip("testcontainers smoke suite: set PGFLEET_TEST_BACKEND=testcontainers (and PGFLEET_TEST_IMAGE=pgfleet/postgres:15-local where no registry is reachable; see scripts/docker-postgres-image.sh)")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	c, err := topology.Launch(ctx, topology.Topology{
		Replicas:     1,
		Shards:       1,
		Settings:     map[string]string{"max_connections": "30"},
		NodeSettings: map[string]map[string]string{"shard0": {"max_connections": "40"}},
	})
	if c != nil {
		defer c.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("primary + replica + shard up in %v", time.Since(start))
	if c.Backend != "testcontainers" {
		t.Fatalf("Backend = %q, want testcontainers", c.Backend)
	}
	cluster, err := containers.ContainerCluster(ctx, c.Primary)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("QueryAndSettings", func(t *testing.T) {
		want := map[string]string{"primary": "30", "replica0": "30", "shard0": "40"}
		for _, n := range c.Nodes() {
			if got := nodecheck.Scalar[string](t, ctx, n, `SHOW max_connections`); got != want[n.Name] {
				t.Errorf("%s max_connections = %s, want %s", n.Name, got, want[n.Name])
			}
			if got := nodecheck.Scalar[string](t, ctx, n, `SHOW fsync`); got != "off" {
				t.Errorf("%s fsync = %s, want the test default off", n.Name, got)
			}
			if rec := nodecheck.Scalar[bool](t, ctx, n, `SELECT pg_is_in_recovery()`); rec != (n.Role == topology.RoleReplica) {
				t.Errorf("%s (%s) pg_is_in_recovery() = %v", n.Name, n.Role, rec)
			}
		}
	})

	t.Run("Replication", func(t *testing.T) {
		p, err := c.Primary.Connect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close(ctx)
		if _, err := p.Exec(ctx, `CREATE TABLE r (v text); INSERT INTO r VALUES ('streamed')`); err != nil {
			t.Fatal(err)
		}
		var lsn string
		if err := p.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&lsn); err != nil {
			t.Fatal(err)
		}
		r := c.Replicas[0]
		if err := r.WaitReplay(ctx, lsn); err != nil {
			t.Fatal(err)
		}
		if got := nodecheck.Scalar[string](t, ctx, r, `SELECT v FROM r`); got != "streamed" {
			t.Fatalf("replica read %q", got)
		}
	})

	t.Run("StopStartKeepsDataAndDSN", func(t *testing.T) {
		s := c.Shards[0]
		dsn := s.DSN()
		w, err := s.Connect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.Exec(ctx, `CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)`)
		w.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		if conn, err := s.Connect(ctx); err == nil {
			conn.Close(ctx)
			t.Fatal("connected to a stopped node")
		}
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if s.DSN() != dsn {
			t.Fatalf("DSN changed across a restart: %s -> %s", dsn, s.DSN())
		}
		if got := nodecheck.Scalar[int](t, ctx, s, `SELECT v FROM kept`); got != 42 {
			t.Fatalf("after restart read %d", got)
		}
		held, err := s.Connect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer held.Close(ctx)
		if err := s.Kill(); err != nil {
			t.Fatal(err)
		}
		if err := held.Ping(ctx); err == nil {
			t.Fatal("a connection survived docker kill")
		}
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if got := nodecheck.Scalar[int](t, ctx, s, `SELECT v FROM kept`); got != 42 {
			t.Fatalf("after crash recovery read %d", got)
		}
	})

	t.Run("PauseResume", func(t *testing.T) {
		nodecheck.PauseResume(t, ctx, c.Primary, "container")
	})

	t.Run("CloseRemovesEverything", func(t *testing.T) {
		if err := c.Shards[0].Pause(); err != nil { // a paused node must be removed too
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		left, err := containers.ContainersOf(ctx, cluster)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) > 0 {
			t.Fatalf("left behind after Close: %v", left)
		}
		for _, n := range c.Nodes() {
			if conn, err := n.Connect(ctx); err == nil {
				conn.Close(ctx)
				t.Fatalf("%s still answers after Close", n.Name)
			}
		}
	})
}

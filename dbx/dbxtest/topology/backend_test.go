package topology_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/pgfleet/pgfleet/dbx/dbxtest"
	"github.com/pgfleet/pgfleet/dbx/dbxtest/internal/nodecheck"
	"github.com/pgfleet/pgfleet/dbx/dbxtest/topology"
)

// PGFLEET_TEST_DATABASE_URL: single-node topologies get a throwaway
// database on that server, dropped at Close; anything else is unavailable.
// Not parallel: it sets environment variables that choose the backend.
func TestExistingServerBackend(t *testing.T) {
	server := dbxtest.Start(t, topology.Topology{})
	ctx := t.Context()
	t.Setenv("PGFLEET_TEST_BACKEND", "")
	t.Setenv("PGFLEET_TEST_DATABASE_URL", server.Primary.DSN())

	c, err := topology.Launch(ctx, topology.Topology{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Backend != "existing" || c.Primary.DSN() == server.Primary.DSN() {
		t.Fatalf("backend %q, DSN %s: want a throwaway database on the existing server", c.Backend, c.Primary.DSN())
	}
	db := c.Primary.DSN()[strings.LastIndexByte(c.Primary.DSN(), '/')+1:]
	db, _, _ = strings.Cut(db, "?")
	mustExec(t, ctx, c.Primary, `CREATE TABLE t (v int)`)
	if err := c.Primary.Pause(); !errors.Is(err, topology.ErrUnsupported) {
		t.Fatalf("Pause on a server dbxtest does not own: %v, want ErrUnsupported", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if n := nodecheck.Scalar[int](t, ctx, server.Primary, `SELECT count(*) FROM pg_database WHERE datname = $1`, db); n != 0 {
		t.Fatalf("throwaway database %s survived Close", db)
	}

	// Replicas cannot come from an existing server when it is forced.
	t.Setenv("PGFLEET_TEST_BACKEND", "existing")
	_, err = topology.Launch(ctx, topology.Topology{Replicas: 1})
	var unavailable *topology.UnavailableError
	if !errors.As(err, &unavailable) || !strings.Contains(err.Error(), "single-node") {
		t.Fatalf("replicas on the existing backend: %v, want an *UnavailableError", err)
	}
}

// Bad backend settings name the cause in one line.
func TestBackendErrorsSayWhatToDo(t *testing.T) {
	t.Setenv("PGFLEET_TEST_BACKEND", "bogus")
	_, err := topology.Launch(t.Context(), topology.Topology{})
	if err == nil || !strings.Contains(err.Error(), "want local, testcontainers or existing") {
		t.Fatalf("unknown backend: %v", err)
	}
	t.Setenv("PG_BINDIR", t.TempDir())
	_, err = topology.FindBindir()
	var unavailable *topology.UnavailableError
	if !errors.As(err, &unavailable) || !strings.Contains(err.Error(), "holds no postgres binary") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("PG_BINDIR without binaries: %v", err)
	}
	if !strings.Contains(topology.InstallHint, "apt-get install postgresql") {
		t.Fatalf("install hint: %s", topology.InstallHint)
	}
}

// TestTestcontainersNotLinkedSaysWhatToImport: this test binary does not
// link the containers package, so asking for its backend must say which
// import links it (before the split, dbxtest linked Docker into every
// binary that imported it, the pgfleet CLI included).
func TestTestcontainersNotLinkedSaysWhatToImport(t *testing.T) {
	t.Setenv("PGFLEET_TEST_BACKEND", "testcontainers")
	_, err := topology.Launch(t.Context(), topology.Topology{})
	if err == nil || !strings.Contains(err.Error(), `import _ "github.com/pgfleet/pgfleet/dbx/dbxtest/containers"`) {
		t.Fatalf("testcontainers backend not linked: %v, want the import to add", err)
	}
}

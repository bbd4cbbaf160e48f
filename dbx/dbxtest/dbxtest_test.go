package dbxtest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"github.com/pgfleet/pgfleet/dbx/dbxtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRequireHelper is not a test: TestRequireFailsWhenDBRequired runs the
// test binary again with this test only.
func TestRequireHelper(t *testing.T) {
	if os.Getenv("DBXTEST_REQUIRE_HELPER") != "1" {
		t.Skip("helper process for TestRequireFailsWhenDBRequired")
	}
	dbxtest.Require(t, &dbxtest.UnavailableError{Reason: "no backend in this helper"})
}

// Without PGFLEET_REQUIRE_DB an unavailable backend is a skip with its
// reason; any other error, or a nil one, is not.
func TestRequireSkipsWhenUnavailable(t *testing.T) {
	t.Setenv("PGFLEET_REQUIRE_DB", "")
	var skipped bool
	t.Run("unavailable", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		dbxtest.Require(t, &dbxtest.UnavailableError{Reason: "no backend"})
	})
	if !skipped {
		t.Fatal("an unavailable backend did not skip")
	}
	t.Run("nil", func(t *testing.T) {
		dbxtest.Require(t, nil)
		if t.Skipped() || t.Failed() {
			t.Fatal("a nil error skipped or failed the test")
		}
	})
}

// With PGFLEET_REQUIRE_DB set (CI) the same error fails the test: a CI run
// never passes by skipping.
func TestRequireFailsWhenDBRequired(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestRequireHelper$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "DBXTEST_REQUIRE_HELPER=1", "PGFLEET_REQUIRE_DB=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !strings.Contains(string(out), "--- FAIL: TestRequireHelper") || !strings.Contains(string(out), "no backend in this helper") {
		t.Fatalf("Require with PGFLEET_REQUIRE_DB=1: %v\n%s", err, out)
	}
}

// Pool is the one test pool: a fixed small size, never pgx's NumCPU
// default, options applied, closed with the test.
func TestPool(t *testing.T) {
	t.Parallel()
	c := dbxtest.Start(t, dbxtest.Topology{})
	p := dbxtest.Pool(t, c.Primary)
	if got := p.Config().MaxConns; got != dbxtest.DefaultPoolMaxConns {
		t.Fatalf("MaxConns = %d, want %d", got, dbxtest.DefaultPoolMaxConns)
	}
	p2 := dbxtest.Pool(t, c.Primary, func(cfg *pgxpool.Config) { cfg.MaxConns = 1 })
	if got := p2.Config().MaxConns; got != 1 {
		t.Fatalf("MaxConns with option = %d, want 1", got)
	}
	var one int
	if err := p2.QueryRow(context.Background(), `SELECT 1`).Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1: %d, %v", one, err)
	}
}

// TestUserModuleGetsNoDocker builds a throwaway module whose test imports
// dbxtest, as a user's would, and checks that `go mod tidy` writes no
// Docker, testcontainers or OpenTelemetry requirement into its go.mod (before
// the split it wrote dozens).
func TestUserModuleGetsNoDocker(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module with the go command")
	}
	t.Parallel()
	_, here, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(here), "..", "..")
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":    "module example.com/orders\n\ngo 1.26\n\nrequire github.com/pgfleet/pgfleet v0.0.0\n\nreplace github.com/pgfleet/pgfleet => " + root + "\n",
		"orders.go": "package orders\n",
		"orders_test.go": `package orders

import (
	"testing"

	"github.com/pgfleet/pgfleet/dbx/dbxtest"
)

func TestOrders(t *testing.T) {
	c := dbxtest.Start(t, dbxtest.Topology{})
	_ = dbxtest.Pool(t, c.Primary)
}
`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"mod", "tidy"}, {"vet", "./..."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"testcontainers", "moby", "docker", "opentelemetry", "otel"} {
		if strings.Contains(string(gomod), bad) {
			t.Errorf("go.mod of a module that only tests with dbxtest requires %s:\n%s", bad, gomod)
		}
	}
}

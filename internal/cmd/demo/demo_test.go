package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgfleet/pgfleet/budgetcheck"
	"github.com/pgfleet/pgfleet/dbx/dbxtest"
	"github.com/pgfleet/pgfleet/examples/orders"
)

// TestDemo runs `make demo` end to end on a smaller topology and a short
// run, so that the quick start stays true: every section of the report is
// printed, the HTML report is written, and nothing fails.
func TestDemo(t *testing.T) {
	t.Parallel()
	report := filepath.Join(t.TempDir(), "report.html")
	r := runDemoCmd(t, "--replicas", "1", "--shards", "2", "--duration", "3s", "--rate", "60", "--report", report)
	if r.code != 0 {
		t.Fatalf("demo exited %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"orders: demand 16 = (pods 3 + surge 1) x processes 1 x pool 4",
		"replica0  replica",
		"shard s1  shard",
		"list  ", "profile  ", "create  ",
		"queries per request: list: ",
		"replica share of reads",
		"refused by a server with 53300: 0",
		"hot keys the router found",
		"connections: shard s0: pool 4",
		"HTML report (latency per endpoint over time, connections over time): " + report,
		"make demo/budgetcheck",
		"done: stopping every server",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
	html, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "list", "shard s0 in use"} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
	if r := runDemoCmd(t, "--max-connections", "3"); r.code != 2 {
		t.Errorf("--max-connections 3: exit %d, want a usage error", r.code)
	}
}

// TestFleetManifestsAgreeWithRuntime: budgetcheck, reading the demo's
// fleet manifests, computes the orders service's worst-case demand as dbx
// does at runtime from the service's options (the same budget code, from
// two inputs that must describe the same fleet), and finds the fleet over
// its server because of the reporting job beside it.
func TestFleetManifestsAgreeWithRuntime(t *testing.T) {
	data, err := os.ReadFile("demo_fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	report := budgetcheck.Analyze([]budgetcheck.Source{{Name: "demo_fleet.yaml", Data: data}}, budgetcheck.Options{})
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	svc := serviceOptions(o, 0)
	fleet := svc.Fleet
	fleet.PoolMax = orders.DefaultMaxConns
	runtime, err := fleet.Demand()
	if err != nil {
		t.Fatal(err)
	}
	var static *budgetcheck.Client
	for _, db := range report.Databases {
		for _, c := range db.Clients {
			if c.ID == "default/Deployment/orders/app" {
				static = c
			}
		}
		if db.Verdict != budgetcheck.VerdictOver {
			t.Errorf("%s: verdict %s, want over (the reporting job)", db.ID, db.Verdict)
		}
	}
	if static == nil {
		t.Fatalf("budgetcheck found no orders client in the manifests: %+v", report.Databases)
	}
	if static.Demand.State != budgetcheck.Known || static.Demand.Value != runtime.Connections {
		t.Fatalf("orders demand: budgetcheck %+v (%s), dbx at runtime %d (%s)", static.Demand, static.Explanation, runtime.Connections, runtime.Explanation)
	}
}

// TestLoadtestBites injects a slowdown of 300 ms into every request: the
// thresholds must fail the run (exit 1) and name what they caught. That a
// run without the slowdown passes is what CI's `make loadtest` shows.
func TestLoadtestBites(t *testing.T) {
	t.Parallel()
	r := runDemoCmd(t, "--loadtest", "--replicas", "1", "--shards", "1", "--duration", "3s", "--rate", "40",
		"--overload-to", "120", "--overload-step", "1s", "--slack", "4", "--slowdown", "300ms",
		"--report", filepath.Join(t.TempDir(), "report.html"))
	if r.code != 1 {
		t.Fatalf("a 300ms slowdown: exit %d, want 1 (thresholds crossed):\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"FAIL list: p95<=200ms crossed", // 50ms x slack 4
		"FAIL profile: shed_rate<=1% crossed",
		"threshold(s) crossed",
	} {
		if !strings.Contains(r.stdout+r.stderr, want) {
			t.Errorf("output lacks %q:\n%s\n%s", want, r.stdout, r.stderr)
		}
	}
}

type result struct {
	code           int
	stdout, stderr string
}

// runDemoCmd runs the command in-process, as `make demo` runs it.
// runDemoCmd runs the command in-process. A topology it cannot launch (no
// server binaries) skips or fails the test like every database test.
func runDemoCmd(t *testing.T, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	err := runArgs(context.Background(), args, &out)
	if unavailable := (*dbxtest.UnavailableError)(nil); errors.As(err, &unavailable) {
		dbxtest.Require(t, err)
	}
	code := exitCode(err, &errOut)
	return result{code, out.String(), errOut.String()}
}

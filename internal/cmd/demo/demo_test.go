package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/pgfleet/pgfleet/dbx/dbxtest"
)

// TestDemo runs the demo end to end on a smaller topology, so that
// `make demo` stays true.
func TestDemo(t *testing.T) {
	t.Parallel()
	// Skips or fails like every database test. The topology is the demo's:
	// a single node would pass on a PGFLEET_TEST_DATABASE_URL server, which
	// cannot give the demo its replica and shard, and the demo would fail.
	dbxtest.Start(t, dbxtest.Topology{Replicas: 1, Shards: 1})
	r := runTour(t, "--replicas", "1", "--shards", "1")
	if r.code != 0 {
		t.Fatalf("demo exited %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"orders: pool 2 per process = floor(budget 18 / (worst-case pods 8 x processes 1))",
		"replica0  replica",
		"naive N+1        201",
		"pgfleet loaders  3 ",
		"ERROR PGF001 over-budget",
		"done: stopping every server",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
	if r := runTour(t, "--max-connections", "3"); r.code != 2 {
		t.Errorf("--max-connections 3: exit %d, want a usage error", r.code)
	}
}

type result struct {
	code           int
	stdout, stderr string
}

// runTour runs the demo in-process, as `make demo` runs it.
func runTour(t *testing.T, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

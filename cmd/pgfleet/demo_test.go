package main

import (
	"strings"
	"testing"

	"github.com/pgfleet/pgfleet/dbx/dbxtest"
)

// TestDemo runs `pgfleet demo` end to end on a smaller topology, so that
// `make demo` stays true.
func TestDemo(t *testing.T) {
	t.Parallel()
	// Skips or fails like every database test. The topology is the demo's:
	// a single node would pass on a PGFLEET_TEST_DATABASE_URL server, which
	// cannot give the demo its replica and shard, and the demo would fail.
	dbxtest.Start(t, dbxtest.Topology{Replicas: 1, Shards: 1})
	r := pgfleet(t, nil, "demo", "--replicas", "1", "--shards", "1")
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
	if r := pgfleet(t, nil, "demo", "--max-connections", "3"); r.code != 2 {
		t.Errorf("--max-connections 3: exit %d, want a usage error", r.code)
	}
}

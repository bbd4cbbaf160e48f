package dbx

import (
	"strings"
	"testing"
)

// The pooler can be declared from the environment (the same PGFLEET_*
// variables a manifest sets); Config fields win, bad values name the
// variable.
func TestPoolerFromEnv(t *testing.T) {
	t.Setenv("PGFLEET_POOLER_MODE", "Transaction")
	t.Setenv("PGFLEET_POOLER_POOL_SIZE", "30")
	t.Setenv("PGFLEET_POOLER_PAIRS", "2")
	t.Setenv("PGFLEET_POOLER_MAX_CLIENT_CONN", "500")
	t.Setenv("PGFLEET_POOLER_REPLICAS", "3")
	t.Setenv("PGFLEET_POOLER_PREPARED_STATEMENTS", "true")
	p := Pooler{Replicas: 4}
	if err := p.fromEnv(); err != nil {
		t.Fatal(err)
	}
	want := Pooler{Mode: PoolerTransaction, PoolSize: 30, Pairs: 2, MaxClientConn: 500, Replicas: 4, PreparedStatements: true}
	if p != want {
		t.Fatalf("from the environment: %+v, want %+v", p, want)
	}
	if errs := p.validate(); len(errs) != 0 {
		t.Fatal(errs)
	}
	t.Setenv("PGFLEET_POOLER_MAX_CLIENT_CONN", "lots")
	if err := (&Pooler{}).fromEnv(); err == nil || !strings.Contains(err.Error(), "PGFLEET_POOLER_MAX_CLIENT_CONN") {
		t.Fatalf("bad value: err = %v", err)
	}
	for _, mode := range []string{"statement", "txn"} {
		errs := Pooler{Mode: mode}.validate()
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), "transaction") {
			t.Fatalf("mode %q: %v", mode, errs)
		}
	}
}

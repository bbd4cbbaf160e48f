package stack_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pgfleet/pgfleet/dbx/dbxtest"
	"github.com/pgfleet/pgfleet/internal/demo/stack"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestLaunchServesAndCloses: the demo topology (a primary, 2 replicas, 2
// shards) comes up with data and a listening service, answers, and Close
// leaves nothing: the port refuses connections and no server answers.
func TestLaunchServesAndCloses(t *testing.T) {
	dbxtest.SkipShort(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	st, err := stack.Launch(ctx, stack.Options{Replicas: 2, Shards: 2})
	dbxtest.Require(t, err)
	closed := false
	defer func() {
		if !closed {
			_ = st.Close()
		}
	}()
	t.Logf("launched in %v", st.Timings)
	if st.Databases.Customers != 1000 || st.Databases.Products != 200 {
		t.Fatalf("seeded %d customers and %d products, want the defaults 1000 and 200", st.Databases.Customers, st.Databases.Products)
	}
	for _, path := range []string{"/customers/1/orders", "/profiles/1000", "/debug/stats", "/metrics"} {
		resp, err := http.Get(st.BaseURL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
	}
	nodes := st.Databases.Topology.Nodes()
	if len(nodes) != 5 {
		t.Fatalf("%d servers, want 5", len(nodes))
	}

	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	if resp, err := http.Get(st.BaseURL + "/debug/stats"); err == nil {
		resp.Body.Close()
		t.Fatalf("the service still answers after Close: %s", resp.Status)
	}
	for _, n := range nodes {
		cctx, ccancel := context.WithTimeout(t.Context(), 2*time.Second)
		conn, err := n.Connect(cctx)
		ccancel()
		if err == nil {
			conn.Close(t.Context())
			t.Fatalf("%s still accepts connections after Close", n.Name)
		}
	}
}

// TestOptionsRefused: bad sizes are refused before anything starts.
func TestOptionsRefused(t *testing.T) {
	for _, o := range []stack.Options{{Replicas: -1}, {Shards: 17}, {MaxConnections: 5}} {
		if _, err := stack.StartDatabases(t.Context(), o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

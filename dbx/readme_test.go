package dbx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/dbx/budget"
	"github.com/pgfleet/pgfleet/dbx/dbxtest"
)

// The code between the README markers is the README's dbx example, byte for
// byte (TestReadmeExampleIsThisCode checks it), so that TestReadmeExample runs
// what users copy.

// README:dbx begin
type Customer struct {
	ID    int64
	Email string
}

// openOrders opens the orders service's Cluster, once at startup.
func openOrders(ctx context.Context, databaseURL string, reg prometheus.Registerer) (*dbx.Cluster, error) {
	cfg, err := dbx.ParseConfig(databaseURL) // pgx's pool_* keys are honoured
	if err != nil {
		return nil, err
	}
	cfg.Service = "orders" // application_name "orders/$POD_NAME"
	cfg.Fleet = budget.Service{Replicas: 3, MaxReplicas: 8, MaxSurge: "25%"}
	cfg.Share = 0.25                         // a quarter of the server's usable slots
	cluster, err := dbx.OpenConfig(ctx, cfg) // reads max_connections, sizes the pool, verifies
	if err != nil {
		return nil, err // *dbx.BudgetError: the fleet cannot get 1 connection per process
	}
	if err := reg.Register(cluster.Collector()); err != nil {
		cluster.Close()
		return nil, err
	}
	return cluster, nil
}

// euCustomers runs per request.
func euCustomers(ctx context.Context, cluster *dbx.Cluster) ([]Customer, error) {
	rows, _ := cluster.Query(ctx, `SELECT id, email FROM customers WHERE region = $1`, "eu")
	return pgx.CollectRows(rows, pgx.RowToStructByName[Customer]) // Query's error comes back here
}

func customersHandler(cluster *dbx.Cluster) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		customers, err := euCustomers(r.Context(), cluster)
		switch {
		case errors.Is(err, dbx.ErrPoolExhausted):
			// The gate said no (queue full, or AcquireTimeout passed) and
			// nothing was sent: tell the client to come back.
			w.Header().Set("Retry-After", "1")
			http.Error(w, "busy, retry", http.StatusServiceUnavailable)
		case err != nil:
			http.Error(w, "internal error", http.StatusInternalServerError)
		default:
			_ = json.NewEncoder(w).Encode(customers)
		}
	}
}

// README:dbx end

// Regression: the README's example (MaxReplicas 20, Share 0.25) gave 0
// connections per process on a stock server and Open failed. It runs here, as
// written, on a server with max_connections 100.
func TestReadmeExample(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	srv := dbxtest.Start(t, dbxtest.Topology{Settings: map[string]string{"max_connections": "100"}})
	setupConn, err := srv.Primary.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer setupConn.Close(context.WithoutCancel(ctx))
	if _, err := setupConn.Exec(ctx, `CREATE TABLE customers (id int8 PRIMARY KEY, email text, region text);
		INSERT INTO customers VALUES (1, 'a@example.com', 'eu'), (2, 'b@example.com', 'us'), (3, 'c@example.com', 'eu')`); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewPedanticRegistry()
	cluster, err := openOrders(ctx, srv.Primary.DSN(), reg)
	if err != nil {
		t.Fatalf("the README's example does not open: %v", err)
	}
	defer cluster.Close()
	// usable 97 x 0.25 = 24 over (8 + 2 surge) pods = 2, as the README says.
	if r := cluster.Report(); cluster.Config().MaxConns != 2 || !r.OK() {
		t.Fatalf("pool %d, report %s; the README promises 2 and no problem", cluster.Config().MaxConns, r)
	}
	handler := customersHandler(cluster)
	rec := httptest.NewRecorder()
	handler(rec, httptest.NewRequestWithContext(ctx, "GET", "/customers", nil))
	var customers []Customer
	if err := json.Unmarshal(rec.Body.Bytes(), &customers); rec.Code != http.StatusOK || err != nil || len(customers) != 2 {
		t.Fatalf("GET /customers = %d %s (%v), want 200 and the 2 eu customers", rec.Code, rec.Body, err)
	}
	// Both connections held elsewhere: the request waits AcquireTimeout (1s)
	// in the gate's queue, then gets a 503 with Retry-After.
	var held []*dbx.Conn
	for range 2 {
		conn, err := cluster.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, conn)
	}
	rec = httptest.NewRecorder()
	handler(rec, httptest.NewRequestWithContext(ctx, "GET", "/customers", nil))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("saturated GET /customers = %d %v %s, want 503 with Retry-After", rec.Code, rec.Header(), rec.Body)
	}
	for _, conn := range held {
		conn.Release()
	}
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
}

// The README's dbx example and the code above must not drift apart.
func TestReadmeExampleIsThisCode(t *testing.T) {
	t.Parallel()
	readmeShows(t, "readme_test.go", "dbx")
}

// readmeShows fails unless README.md's Go block marked as run by file is,
// byte for byte, the code of file between its "README:name" markers.
func readmeShows(t *testing.T, file, name string) {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	code := between(t, self, "// README:"+name+" begin\n", "// README:"+name+" end\n")
	block := between(t, readme, "<!-- dbx/"+file+" runs this block -->\n```go\n", "```\n")
	if !bytes.Equal(bytes.TrimSpace(code), bytes.TrimSpace(block)) {
		t.Fatalf("README.md's %s example differs from dbx/%s's; copy one over the other.\nREADME:\n%s\ntest:\n%s", name, file, block, code)
	}
}

func between(t *testing.T, s []byte, begin, end string) []byte {
	t.Helper()
	_, after, ok := bytes.Cut(s, []byte(begin))
	if !ok {
		t.Fatalf("marker %q not found", begin)
	}
	body, _, ok := bytes.Cut(after, []byte(end))
	if !ok {
		t.Fatalf("marker %q not found after %q", end, begin)
	}
	return body
}

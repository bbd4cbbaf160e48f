package dbx_test

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/pgfleet/pgfleet/dbx"
)

// Classes declared at startup, named per call: the README's latency-budget
// example. A budget spent waiting for a connection fails before anything is
// sent; a statement still running at the deadline is cancelled on the
// server.
func ExampleWithClass() {
	ctx := context.Background()
	cfg, err := dbx.ParseConfig("postgres://orders@db/orders")
	if err != nil {
		return
	}
	cfg.Classes = []dbx.Class{
		{Name: "orders.list", Timeout: 50 * time.Millisecond, P95: 20 * time.Millisecond, P99: 40 * time.Millisecond},
		{Name: "pricing.get", Timeout: 30 * time.Millisecond, P99: 25 * time.Millisecond, Objective: 0.999},
	}
	cluster, err := dbx.OpenConfig(ctx, cfg)
	if err != nil {
		return
	}
	defer cluster.Close()

	handler := func(w http.ResponseWriter, r *http.Request) {
		rows, err := cluster.Query(dbx.WithClass(r.Context(), "orders.list"), `SELECT id, total FROM orders WHERE customer = $1`, r.URL.Query().Get("customer"))
		var spent *dbx.BudgetSpentError
		switch {
		case errors.As(err, &spent), errors.Is(err, dbx.ErrPoolExhausted):
			http.Error(w, "busy", http.StatusServiceUnavailable) // nothing was sent: safe to retry later
			return
		case err != nil:
			http.Error(w, "error", http.StatusInternalServerError)
			return
		}
		defer rows.Close()
		// ... write the rows
	}
	_ = handler
}

package orders

import (
	"time"

	"github.com/pgfleet/pgfleet/dbx"
)

// The latency classes, one per endpoint: the class's Timeout is the whole
// request's deadline (gate wait, queries and slowdown included; dbx also
// cancels a statement on the server at it), and its P95/P99 and Objective
// are the endpoint's SLO. The load test reads them from [Classes] rather
// than restating them, so the service and the report agree by construction.
const (
	ClassList    = "list"    // GET /customers/{id}/orders
	ClassCreate  = "create"  // POST /orders
	ClassProfile = "profile" // GET /profiles/{customer_id}
)

// Classes returns the endpoints' latency budgets (a fresh slice: callers may
// keep it). The numbers leave room for a 2-core machine that runs the load
// generator and every server too: a list page is 4 queries on a replica
// (~1-2 ms quiet), an order a 5-round-trip transaction on the primary, a
// profile one point read on a shard.
func Classes() []dbx.Class {
	return []dbx.Class{
		{Name: ClassList, Timeout: 500 * time.Millisecond, P95: 50 * time.Millisecond, P99: 150 * time.Millisecond, Objective: 0.99},
		{Name: ClassCreate, Timeout: time.Second, P95: 100 * time.Millisecond, P99: 250 * time.Millisecond, Objective: 0.99},
		{Name: ClassProfile, Timeout: 250 * time.Millisecond, P95: 20 * time.Millisecond, P99: 50 * time.Millisecond, Objective: 0.999},
	}
}

// classByName returns the declared class name, or false.
func classByName(name string) (dbx.Class, bool) {
	for _, c := range Classes() {
		if c.Name == name {
			return c, true
		}
	}
	return dbx.Class{}, false
}

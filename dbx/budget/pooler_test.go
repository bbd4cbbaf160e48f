package budget_test

import (
	"math"
	"testing"

	"github.com/pgfleet/pgfleet/dbx/budget"
)

func TestPooler(t *testing.T) {
	t.Parallel()
	p := budget.Pooler{MaxClientConn: 100, PoolSize: 25, Pairs: 3, Replicas: 2}
	if got := p.ClientSide(); got.Usable() != 200 {
		t.Fatalf("client side usable = %d, want 200", got.Usable())
	}
	if want := "pooler clients 200 = max_client_conn 100 x pooler replicas 2"; p.ExplainClients() != want {
		t.Fatalf("ExplainClients = %q", p.ExplainClients())
	}
	d, err := p.Upstream("pgbouncer").Demand()
	if err != nil || d.Connections != 25*3*2 {
		t.Fatalf("server side = %+v, %v; want 150", d, err)
	}
	// Zero is zero: a pooler scaled to no pods serves no one.
	if d, _ := (budget.Pooler{PoolSize: 20, Pairs: 1}).Upstream("p").Demand(); d.Connections != 0 {
		t.Fatalf("no replicas: server side %d, want 0", d.Connections)
	}
	// A Share of the pooler's clients: 200 x 0.5 over 10 pods = 10 each.
	a, err := budget.PoolFor(p.ClientSide(), budget.Service{Name: "api", Replicas: 10, NoSurge: true}, 0.5)
	if err != nil || a.PerProcess != 10 {
		t.Fatalf("PoolFor behind the pooler = %+v, %v", a, err)
	}
	// Absurd settings saturate instead of wrapping into a small number.
	huge := budget.Pooler{MaxClientConn: math.MaxInt / 2, Replicas: 4}
	if got := huge.ClientSide().MaxConnections; got != math.MaxInt {
		t.Fatalf("saturating clients = %d", got)
	}
}

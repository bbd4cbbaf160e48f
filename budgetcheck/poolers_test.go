package budgetcheck_test

import (
	"testing"

	"github.com/pgfleet/pgfleet/budgetcheck"
)

// TestPoolerWithoutSurge checks that a PgBouncer StatefulSet's server side
// is counted without surge in its demand, as its Surge column says.
func TestPoolerWithoutSurge(t *testing.T) {
	t.Parallel()
	manifest := `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: pg}
spec:
  template:
    metadata: {labels: {app: pg}}
    spec:
      containers: [{name: postgres, image: "postgres:17"}]
---
apiVersion: v1
kind: Service
metadata: {name: pg}
spec: {selector: {app: pg}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: bouncer}
spec:
  replicas: 4
  template:
    spec:
      containers:
        - name: pgbouncer
          image: bitnami/pgbouncer:1.23
          env: [{name: POSTGRESQL_HOST, value: pg}, {name: PGBOUNCER_DEFAULT_POOL_SIZE, value: "10"}]
`
	r := budgetcheck.Analyze([]budgetcheck.Source{{Name: "in.yaml", Data: []byte(manifest)}}, budgetcheck.Options{})
	var cl *budgetcheck.Client
	for _, d := range r.Databases {
		if d.ID == "default/StatefulSet/pg" && len(d.Clients) == 1 {
			cl = d.Clients[0]
		}
	}
	if cl == nil {
		t.Fatalf("no server-side client of default/StatefulSet/pg in %+v", r.Databases)
	}
	if cl.Surge.Value != 0 || cl.Demand.Value != 4*10 {
		t.Fatalf("surge %s, demand %s (%s); want surge 0 and demand 40 = 4 pods x 10", cl.Surge, cl.Demand, cl.Explanation)
	}
}

// TestPoolerEnvPrecedence checks that a PgBouncer container setting both
// the Bitnami and the plain form of a variable gets the same pool on every
// run: Bitnami's PGBOUNCER_* wins.
func TestPoolerEnvPrecedence(t *testing.T) {
	t.Parallel()
	manifest := `
apiVersion: apps/v1
kind: Deployment
metadata: {name: bouncer}
spec:
  template:
    spec:
      containers:
        - name: pgbouncer
          image: bitnami/pgbouncer:1.23
          env:
            - {name: DB_HOST, value: pg}
            - {name: DEFAULT_POOL_SIZE, value: "10"}
            - {name: PGBOUNCER_DEFAULT_POOL_SIZE, value: "30"}
`
	for range 20 {
		r := budgetcheck.Analyze([]budgetcheck.Source{{Name: "in.yaml", Data: []byte(manifest)}}, budgetcheck.Options{})
		for _, d := range r.Databases {
			for _, cl := range d.Clients {
				if cl.Pool.Value != 30 {
					t.Fatalf("pool %s (%s), want 30 from PGBOUNCER_DEFAULT_POOL_SIZE", cl.Pool, cl.Pool.Source)
				}
			}
		}
	}
}

package budgetcheck_test

import (
	"fmt"
	"testing"

	"github.com/pgfleet/pgfleet/budgetcheck"
)

// A Celery worker's --concurrency is its pools per container; without it
// the count is the node's CPUs: unknown, never 1.
func TestCeleryConcurrency(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, args string
		want       budgetcheck.Number
	}{
		{"flag", `[celery, -A, shop, worker, --concurrency=8]`, budgetcheck.Number{Value: 8, State: budgetcheck.Known}},
		{"short", `[celery, -A, shop, worker, -c, "3"]`, budgetcheck.Number{Value: 3, State: budgetcheck.Known}},
		{"shell", `[sh, -c, "celery -A shop worker -c 6 --loglevel=info"]`, budgetcheck.Number{Value: 6, State: budgetcheck.Known}},
		{"solo", `[celery, -A, shop, worker, --pool=solo]`, budgetcheck.Number{Value: 1, State: budgetcheck.Known}},
		{"default", `[celery, -A, shop, worker]`, budgetcheck.Number{State: budgetcheck.Unknown}},
		{"beat", `[celery, -A, shop, beat]`, budgetcheck.Number{Value: 1, State: budgetcheck.Known}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			manifest := fmt.Sprintf(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker}
spec:
  replicas: 2
  selector: {matchLabels: {app: worker}}
  template:
    metadata: {labels: {app: worker}}
    spec:
      containers:
        - name: worker
          image: shop/worker:1
          args: %s
          env:
            - {name: SQLALCHEMY_DATABASE_URI, value: "postgresql://shop@db:5432/shop"}
`, tc.args)
			r := budgetcheck.Analyze([]budgetcheck.Source{{Name: "in.yaml", Data: []byte(manifest)}}, budgetcheck.Options{})
			got := r.Databases[0].Clients[0].Processes
			if got.State != tc.want.State || (got.State == budgetcheck.Known && got.Value != tc.want.Value) {
				t.Fatalf("processes %s (%s), want %s", got, got.Source, tc.want)
			}
		})
	}
}

package budgetcheck_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pgfleet/pgfleet/budgetcheck"
)

// fleet generates n client Deployments (a third autoscaled) spread over
// ten Postgres StatefulSets, each with its Service, as one YAML stream.
func fleet(n int) []budgetcheck.Source {
	var b strings.Builder
	for db := range 10 {
		fmt.Fprintf(&b, `---
apiVersion: v1
kind: Service
metadata: {name: pg%d}
spec: {selector: {app: pg%d}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: pg%d}
spec:
  selector: {matchLabels: {app: pg%d}}
  template:
    metadata: {labels: {app: pg%d}}
    spec:
      containers: [{name: postgres, image: "postgres:17", args: ["-c", "max_connections=5000"]}]
`, db, db, db, db, db)
	}
	for i := range n {
		fmt.Fprintf(&b, `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: svc%d, namespace: team%d}
spec:
  replicas: %d
  selector: {matchLabels: {app: svc%d}}
  template:
    metadata: {labels: {app: svc%d}}
    spec:
      containers:
        - name: app
          image: acme/svc:%d
          env:
            - {name: DATABASE_URL, value: "postgres://svc@pg%d.default.svc:5432/app?pool_max_conns=%d"}
            - {name: WEB_CONCURRENCY, value: "2"}
`, i, i%50, 1+i%5, i, i, i, i%10, 2+i%8)
		if i%3 == 0 {
			fmt.Fprintf(&b, `---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: svc%d, namespace: team%d}
spec:
  scaleTargetRef: {kind: Deployment, name: svc%d}
  maxReplicas: 10
`, i, i%50, i)
		}
	}
	return []budgetcheck.Source{{Name: "fleet.yaml", Data: []byte(b.String())}}
}

// BenchmarkAnalyze checks generated fleets of 1k and 10k workloads from
// YAML bytes to findings; ns/op at 10k should be about 10x the 1k figure.
func BenchmarkAnalyze(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		srcs := fleet(n)
		b.Run(fmt.Sprintf("workloads=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(srcs[0].Data)))
			for b.Loop() {
				r := budgetcheck.Analyze(srcs, budgetcheck.Options{})
				if len(r.Databases) != 10 {
					b.Fatalf("%d databases", len(r.Databases))
				}
			}
		})
	}
}

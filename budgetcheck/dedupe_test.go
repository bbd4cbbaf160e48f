package budgetcheck_test

import (
	"strings"
	"testing"

	"github.com/pgfleet/pgfleet/budgetcheck"
)

// TestDuplicateObjectCountedOnce: the same Deployment in two files was
// counted twice (its demand doubled); it is now counted once, and a PGF009
// finding names both places.
func TestDuplicateObjectCountedOnce(t *testing.T) {
	t.Parallel()
	deploy := `apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  replicas: 4
  template:
    spec:
      containers: [{name: app, image: acme/api, env: [{name: PGHOST, value: db}, {name: DB_POOL_SIZE, value: "10"}]}]
`
	other := strings.Replace(deploy, "namespace: shop", "namespace: other", 1)
	r := budgetcheck.Analyze([]budgetcheck.Source{
		{Name: "base.yaml", Data: []byte(deploy)},
		{Name: "overlay.yaml", Data: []byte("# same object again\n" + deploy + "---\n" + other)},
	}, budgetcheck.Options{})
	clients := 0
	for _, d := range r.Databases {
		clients += len(d.Clients)
	}
	var dupes []budgetcheck.Finding
	for _, f := range r.Findings {
		if f.Check == "PGF009" {
			dupes = append(dupes, f)
		}
	}
	if clients != 2 {
		t.Errorf("%d clients, want 2 (shop/api once, other/api once)", clients)
	}
	if len(dupes) != 1 || !strings.Contains(dupes[0].Message, "overlay.yaml:1") || !strings.Contains(dupes[0].Message, "base.yaml:1") ||
		dupes[0].Location.File != "overlay.yaml" {
		t.Fatalf("PGF009 findings %+v, want one at overlay.yaml naming base.yaml:1", dupes)
	}
}

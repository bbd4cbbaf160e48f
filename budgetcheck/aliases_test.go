package budgetcheck_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pgfleet/pgfleet/budgetcheck"
)

// aliasBomb is the reported file: a 16 KB anchored string and 5 levels of
// 9 aliases each (about 1 GB expanded, under go-yaml's alias ratio limit).
func aliasBomb() string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n  l0: &l0 %q\n", strings.Repeat("x", 16<<10))
	for lvl := 1; lvl <= 5; lvl++ {
		fmt.Fprintf(&b, "  l%d: &l%d [", lvl, lvl)
		for i := range 9 {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*l%d", lvl-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

// TestAliasBombIsPGF008: the bomb took 35 s and 3.7 GB to convert; it now
// fails its own document with PGF008 before conversion, and the next
// document of the same file is still checked.
func TestAliasBombIsPGF008(t *testing.T) {
	t.Parallel()
	input := aliasBomb() + `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 2
  template:
    spec:
      containers: [{name: app, image: acme/api, env: [{name: PGHOST, value: db}, {name: DB_POOL_SIZE, value: "5"}]}]
`
	r := budgetcheck.Analyze([]budgetcheck.Source{{Name: "bomb.yaml", Data: []byte(input)}}, budgetcheck.Options{})
	var bomb, clients int
	for _, f := range r.Findings {
		if f.Check == "PGF008" && strings.Contains(f.Message, "aliases expand") && f.Location.Line == 1 {
			bomb++
		}
	}
	for _, d := range r.Databases {
		clients += len(d.Clients)
	}
	if bomb != 1 || clients != 1 {
		t.Fatalf("%d PGF008 alias findings at line 1 and %d clients, want 1 and 1 (the Deployment after the bomb): %+v", bomb, clients, r.Findings)
	}
}

// TestAliasesWithinBudget: ordinary anchors and merge keys still decode.
func TestAliasesWithinBudget(t *testing.T) {
	t.Parallel()
	input := `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 3
  template:
    spec:
      containers:
        - &app {name: app, image: acme/api, env: [{name: PGHOST, value: db}, {name: DB_POOL_SIZE, value: "4"}]}
        - <<: *app
          name: worker
`
	r := budgetcheck.Analyze([]budgetcheck.Source{{Name: "a.yaml", Data: []byte(input)}}, budgetcheck.Options{})
	for _, f := range r.Findings {
		if f.Check == "PGF008" {
			t.Fatalf("unexpected PGF008: %s", f.Message)
		}
	}
	if len(r.Databases) != 1 || len(r.Databases[0].Clients) != 2 {
		t.Fatalf("want one database with the app and worker clients, got %+v", r.Databases)
	}
}

// BenchmarkAliasBomb measures the 22 KB alias bomb from bytes to findings:
// before the expansion bound it took 35 s and 3.7 GB per run.
func BenchmarkAliasBomb(b *testing.B) {
	srcs := []budgetcheck.Source{{Name: "bomb.yaml", Data: []byte(aliasBomb())}}
	b.ReportAllocs()
	b.SetBytes(int64(len(srcs[0].Data)))
	for b.Loop() {
		if r := budgetcheck.Analyze(srcs, budgetcheck.Options{}); len(r.Findings) != 1 {
			b.Fatalf("%d findings, want the one PGF008", len(r.Findings))
		}
	}
}

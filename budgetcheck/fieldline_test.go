package budgetcheck_test

import (
	"testing"

	"github.com/pgfleet/pgfleet/budgetcheck"
)

// Regression (issue 8): a field of the wrong type was reported at the
// document's first line; it must point at the field, also inside a list
// (the decoder's path has no indices) and after other documents.
func TestTypeErrorPointsAtField(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, input string
		line        int
	}{
		{"scalar", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec:\n  replicas: \"three\"\n", 5},
		{"second document", "kind: ConfigMap\napiVersion: v1\n---\n# comment\napiVersion: apps/v1\nkind: Deployment\nspec:\n  replicas: [1]\n", 8},
		{"in a list", `apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      containers:
        - name: a
          ports: [{containerPort: 80}]
        - name: b
          ports:
            - containerPort: "http"
`, 11},
		{"json", "{\"apiVersion\": \"apps/v1\", \"kind\": \"Deployment\",\n \"spec\": {\n  \"replicas\": true}}\n", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := budgetcheck.Analyze([]budgetcheck.Source{{Name: "in.yaml", Data: []byte(tc.input)}}, budgetcheck.Options{})
			for _, f := range r.Findings {
				if f.Check == "PGF008" {
					if f.Location.Line != tc.line {
						t.Fatalf("PGF008 at line %d, want %d: %s", f.Location.Line, tc.line, f.Message)
					}
					return
				}
			}
			t.Fatalf("no PGF008 finding: %+v", r.Findings)
		})
	}
}

package budgetcheck_test

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/pgfleet/pgfleet/budgetcheck"
)

// FuzzAnalyze feeds arbitrary bytes through the whole input path (split,
// decode, model, checks, every format): nothing may panic. Seeds are the
// golden scenarios.
func FuzzAnalyze(f *testing.F) {
	inputs, err := filepath.Glob(filepath.Join(goldenDir, "*", "input.yaml"))
	if err != nil || len(inputs) == 0 {
		f.Fatalf("no golden inputs to seed from in %s: %v", goldenDir, err)
	}
	for _, p := range inputs {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("---\n---\nkind: List\nitems: [1, {kind: List}]\n"))
	f.Add([]byte(`{"apiVersion":"apps/v1","kind":"Deployment","spec":{"replicas":-5,"strategy":{"rollingUpdate":{"maxSurge":"x%"}}}}`))
	// Input shapes of issue 8: a flow document on the separator line,
	// concatenated JSON, a directive, a document end, nested aliases.
	f.Add([]byte("kind: Service\n--- {\"apiVersion\": \"v1\", \"kind\": \"Service\"}\n...\n%YAML 1.1\n---\n{\"kind\":\"List\"}{\"kind\":\"Secret\"}\n"))
	f.Add([]byte("a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\nkind: ConfigMap\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := budgetcheck.Analyze([]budgetcheck.Source{{Name: "fuzz.yaml", Data: data}}, budgetcheck.Options{Nodes: 3})
		for _, format := range budgetcheck.Formats {
			if err := budgetcheck.Write(io.Discard, r, format); err != nil {
				t.Fatal(err)
			}
		}
	})
}

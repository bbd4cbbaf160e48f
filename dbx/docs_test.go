package dbx_test

import (
	"os"
	"strings"
	"testing"
)

// Regression: the docs described a Cluster "of Postgres servers" and a
// loader.Querier that "routes reads by replica lag and causal token" while a
// Cluster had one primary and no router. Docs say what exists; when replica
// routing lands, its change takes the words off this list together with the
// code that makes them true (replica routing and causal tokens did, in
// replica.go, reader.go and causal.go).
func TestDocsDescribeOnlyWhatExists(t *testing.T) {
	t.Parallel()
	unbuilt := []string{"of postgres servers", "Pause(ctx)"}
	for _, f := range []string{"doc.go", "errors.go", "cluster.go", "../loader/doc.go", "../loader/loader.go", "../README.md", "dbxtest/doc.go", "../shard/doc.go"} {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ToLower(string(src))
		for _, claim := range unbuilt {
			if strings.Contains(text, strings.ToLower(claim)) {
				t.Errorf("%s mentions %q, which dbx does not have yet", f, claim)
			}
		}
	}
}

package budgetcheck_test

import (
	"strings"
	"testing"

	"github.com/pgfleet/pgfleet/budgetcheck"
)

// TestInvalidServerParameter checks that every connection slot parameter
// with a value the checker cannot use is reported, reserved_connections
// included, instead of being read silently as its default.
func TestInvalidServerParameter(t *testing.T) {
	t.Parallel()
	manifest := `
apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {name: main}
spec:
  postgresql:
    parameters: {max_connections: "lots", reserved_connections: "some"}
`
	r := budgetcheck.Analyze([]budgetcheck.Source{{Name: "in.yaml", Data: []byte(manifest)}}, budgetcheck.Options{})
	for _, param := range []string{"max_connections", "reserved_connections"} {
		found := false
		for _, f := range r.Findings {
			found = found || f.Check == "PGF007" && strings.Contains(f.Message, param)
		}
		if !found {
			t.Errorf("no PGF007 finding for the invalid %s; findings: %+v", param, r.Findings)
		}
	}
	// A setting that cannot be read is unknown, not replaced by a default
	// that could make the server fit (issue 8: nothing unread fits).
	if d := r.Databases[0]; d.Reserved.State != budgetcheck.Unknown || d.MaxConnections.State != budgetcheck.Unknown || d.Verdict != budgetcheck.VerdictUnknown {
		t.Fatalf("reserved %s, max_connections %s, verdict %s; want unknown", d.Reserved, d.MaxConnections, d.Verdict)
	}
}

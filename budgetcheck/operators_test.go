package budgetcheck_test

import (
	"path/filepath"
	"testing"

	"github.com/pgfleet/pgfleet/budgetcheck"
)

// Every client of the operator scenarios reaches its cluster through a
// Service or Secret the operator creates (not in the manifests): none may
// end up external or unresolved, and each operator pooler is counted on
// its cluster.
func TestOperatorGeneratedNames(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]struct {
		server, pooler string
		clients        int // clients of the server, pooler included
	}{
		"operator-cnpg":    {"payments/Cluster/pg", "", 3},
		"operator-zalando": {"orders/postgresql/acid-orders", "orders/Deployment/acid-orders-pooler", 2},
		"operator-crunchy": {"zoo/PostgresCluster/hippo", "zoo/PostgresCluster-pgbouncer/hippo", 2},
	} {
		r := budgetcheck.Analyze(readCase(t, filepath.Join(goldenDir, name)), goldenOptions)
		found := map[string]*budgetcheck.Database{}
		for _, d := range r.Databases {
			if d.Kind == budgetcheck.External || d.Kind == budgetcheck.Unresolved {
				t.Errorf("%s: %s is %s: a client did not reach the cluster", name, d.ID, d.Kind)
			}
			found[d.ID] = d
		}
		srv := found[want.server]
		if srv == nil || len(srv.Clients) != want.clients {
			t.Errorf("%s: server %s missing or with the wrong clients: %+v", name, want.server, srv)
			continue
		}
		if want.pooler != "" && (found[want.pooler] == nil || len(found[want.pooler].Clients) == 0) {
			t.Errorf("%s: pooler %s missing or without clients", name, want.pooler)
		}
	}
}

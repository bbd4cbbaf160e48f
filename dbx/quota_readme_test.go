package dbx_test

import (
	"context"
	"testing"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/dbx/budget"
	"github.com/pgfleet/pgfleet/dbx/dbxtest"
)

// README:quota begin
// openOrdersWithQuota opens the orders service under a fleet quota.
func openOrdersWithQuota(ctx context.Context, databaseURL string) (*dbx.Cluster, error) {
	cfg, err := dbx.ParseConfig(databaseURL)
	if err != nil {
		return nil, err
	}
	cfg.Service = "orders"
	cfg.Quota, cfg.QuotaMin = 80, 1                          // 80 connections for the whole fleet, 1 guaranteed per pod
	cfg.MaxConns = 10                                        // each pod's cap
	cfg.Fleet = budget.Service{Replicas: 3, MaxReplicas: 60} // reserves 75 x 1 slots (60 pods + 25% surge) for the minimums
	return dbx.OpenConfig(ctx, cfg)
}

// README:quota end

// The README's quota example opens on a stock server and its connections
// hold slots.
func TestReadmeQuotaExample(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	srv := dbxtest.Start(t, dbxtest.Topology{})
	c, err := openOrdersWithQuota(ctx, srv.Primary.DSN())
	if err != nil {
		t.Fatalf("the README's quota example does not open: %v", err)
	}
	defer c.Close()
	hold(t, ctx, c, 3)()
	if st, ok := c.Primary().Quota(); !ok || st.Held != 3 || st.Reserved != 75 || st.Quota != 80 {
		t.Fatalf("quota state %+v", st)
	}
	readmeShows(t, "quota_readme_test.go", "quota")
}

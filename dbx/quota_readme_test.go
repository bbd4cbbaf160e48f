package dbx_test

import (
	"bytes"
	"context"
	"os"
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
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile("quota_readme_test.go")
	if err != nil {
		t.Fatal(err)
	}
	code := between(t, self, "// README:quota begin\n", "// README:quota end\n")
	block := between(t, readme, "<!-- dbx/quota_readme_test.go runs this block -->\n```go\n", "```\n")
	if !bytes.Equal(bytes.TrimSpace(code), bytes.TrimSpace(block)) {
		t.Fatalf("README.md's quota example differs from dbx/quota_readme_test.go's; copy one over the other.\nREADME:\n%s\ntest:\n%s", block, code)
	}
}

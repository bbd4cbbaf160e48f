package dbxtest

import (
	"context"
	"testing"

	"github.com/pgfleet/pgfleet/dbx/dbxtest/topology"
)

// The PgBouncer types; see package topology for their documentation.
type (
	Bouncer       = topology.Bouncer
	BouncerConfig = topology.BouncerConfig
)

// PgBouncer pool modes.
const (
	SessionMode     = topology.SessionMode
	TransactionMode = topology.TransactionMode
)

// StartBouncer starts a real PgBouncer in front of c's primary and stops it
// in tb.Cleanup (and with the cluster). Without a pgbouncer binary it skips
// or fails as [Require] says.
func StartBouncer(tb testing.TB, c *Cluster, cfg BouncerConfig) *Bouncer {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	b, err := c.LaunchBouncer(ctx, cfg)
	Require(tb, err)
	tb.Cleanup(func() {
		if err := b.Close(); err != nil {
			tb.Errorf("dbxtest: cleanup: %v", err)
		}
	})
	return b
}

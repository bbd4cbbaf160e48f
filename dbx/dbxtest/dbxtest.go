package dbxtest

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/pgfleet/pgfleet/dbx/dbxtest/topology"
)

// The topology types, so that tests name them through the package they
// import. See package topology for their documentation.
type (
	Topology         = topology.Topology
	Cluster          = topology.Cluster
	Node             = topology.Node
	Role             = topology.Role
	UnavailableError = topology.UnavailableError
)

const (
	RolePrimary = topology.RolePrimary
	RoleReplica = topology.RoleReplica
	RoleShard   = topology.RoleShard
)

// StartTimeout bounds how long [Start] waits for a whole topology.
const StartTimeout = topology.StartTimeout

// ErrUnsupported is returned by fault controls that the node's backend
// cannot perform (any control on a PGFLEET_TEST_DATABASE_URL server).
var ErrUnsupported = topology.ErrUnsupported

// Launch starts a topology without a testing.TB (see [topology.Launch]);
// the caller closes it.
func Launch(ctx context.Context, topo Topology) (*Cluster, error) { return topology.Launch(ctx, topo) }

// NodeForDSN returns a node for a server that the topology package does not
// own (see [topology.NodeForDSN]).
func NodeForDSN(dsn string) *Node { return topology.NodeForDSN(dsn) }

// Start starts the topology and stops it in tb.Cleanup. Whether it skips
// or fails when no backend can be had is [Require]'s policy.
func Start(tb testing.TB, topo Topology) *Cluster {
	tb.Helper()
	SkipShort(tb)
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	c, err := topology.Launch(ctx, topo)
	if c != nil {
		tb.Cleanup(func() {
			if err := c.Close(); err != nil {
				tb.Errorf("dbxtest: cleanup: %v", err)
			}
		})
	}
	Require(tb, err)
	return c
}

// SkipShort skips the test under go test -short: -short means no database.
func SkipShort(tb testing.TB) {
	tb.Helper()
	if testing.Short() {
		tb.Skip("dbxtest: -short runs no database")
	}
}

// Require is the one skip-or-fail policy for a database a test could not
// get: an [*UnavailableError] (no backend here) skips the test with the
// error's one line saying what to install, unless PGFLEET_REQUIRE_DB is set
// (CI sets it), which makes it a failure, so that a CI run never passes by
// skipping; any other error fails the test. A nil error does nothing. Use
// it where a test starts its server some other way than [Start] (a server
// shared by a package's tests).
func Require(tb testing.TB, err error) {
	tb.Helper()
	var unavailable *UnavailableError
	switch {
	case err == nil:
	case errors.As(err, &unavailable) && os.Getenv("PGFLEET_REQUIRE_DB") == "":
		tb.Skip(err.Error() + " (PGFLEET_REQUIRE_DB is unset, so this is a skip)")
	default:
		tb.Fatal(err)
	}
}

package dbxtest_test

import (
	"os"
	"testing"

	"github.com/pgfleet/pgfleet/dbx/dbxtest"
	"github.com/pgfleet/pgfleet/migrations"
)

// docOrders is the package doc's example, compiled so that the doc cannot
// show code that does not build. It is not a test: it needs a db/migrations
// directory.
var _ = func(t *testing.T) {
	c := dbxtest.Start(t, dbxtest.Topology{Replicas: 1, Shards: 2})
	m, err := migrations.New(os.DirFS("db/migrations"), migrations.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.UpAll(t.Context(), c.Primary.DSN(), c.Shards[0].DSN(), c.Shards[1].DSN()); err != nil {
		t.Fatal(err)
	}
	pool := dbxtest.Pool(t, c.Primary) // closed when the test ends
	_ = pool
	if err := c.Replicas[0].Pause(); err != nil { // a hung replica
		t.Fatal(err)
	}
}

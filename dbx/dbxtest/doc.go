// Package dbxtest is the thin test layer over package topology: [Start]
// launches a real Postgres topology (a primary, streaming replicas, shards),
// stops it when the test ends, and applies the one skip-or-fail policy
// ([Require]); [Pool] opens the one kind of test pool. The topology types
// ([Topology], [Cluster], [Node]) are aliases of topology's, where their
// fault controls are documented.
//
// A new server is empty: apply your schema first, for example your goose
// migrations with package migrations.
//
//	func TestOrders(t *testing.T) {
//		c := dbxtest.Start(t, dbxtest.Topology{Replicas: 1, Shards: 2})
//		m, err := migrations.New(os.DirFS("db/migrations"), migrations.Options{})
//		if err != nil {
//			t.Fatal(err)
//		}
//		if err := m.UpAll(t.Context(), c.Primary.DSN(), c.Shards[0].DSN(), c.Shards[1].DSN()); err != nil {
//			t.Fatal(err)
//		}
//		pool := dbxtest.Pool(t, c.Primary) // closed when the test ends
//		...
//		if err := c.Replicas[0].Pause(); err != nil { // a hung replica
//			t.Fatal(err)
//		}
//	}
//
// # Backends
//
// Local server binaries (Linux), a server you run (PGFLEET_TEST_DATABASE_URL,
// single-node topologies), or Docker through testcontainers: see package
// topology. Importing dbxtest links no Docker client; a test package that
// wants the testcontainers backend imports it for its side effect:
//
//	import _ "github.com/pgfleet/pgfleet/dbx/dbxtest/containers"
//
// # Skips
//
// Under go test -short, [Start] skips: -short means no database. When no
// backend can be had, it skips the test with one line that says what to
// install, unless PGFLEET_REQUIRE_DB is set (CI sets it), in which case the
// test fails.
package dbxtest

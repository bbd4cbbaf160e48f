// Package dbxtest starts real Postgres topologies for tests: a primary, N
// streaming read replicas and M independent shard servers, each with its own
// DSN, settings and fault controls, torn down when the test ends.
//
//	func TestOrders(t *testing.T) {
//		c := dbxtest.Start(t, dbxtest.Topology{Replicas: 1, Shards: 2})
//		pool, err := pgxpool.New(ctx, c.Primary.DSN())
//		...
//		c.Replicas[0].Pause()     // a hung replica: SIGSTOP on all its processes
//	}
//
// # Backends
//
// The local backend (default where server binaries exist) runs the host's
// Postgres binaries, found through PG_BINDIR, `pg_config --bindir` or the
// newest /usr/lib/postgresql/*/bin. It runs them as the postgres user when
// the tests run as root, puts data directories on tmpfs (/dev/shm) when there
// is one, runs initdb once into a template shared by all test processes of a
// machine and copies it per node, so a primary with two replicas and three
// shards is up in well under a second.
//
// The testcontainers backend (PGFLEET_TEST_BACKEND=testcontainers, or
// automatically when no local binaries exist but Docker does) runs each node
// in a container of PGFLEET_TEST_IMAGE (default: [DefaultImage], the official
// postgres image), replicas included: a replica takes a pg_basebackup of the
// primary over a network of the cluster's own. Each node is published on a
// host port of its own that survives [Node.Stop] and [Node.Start], so its DSN
// stays valid; faults are docker stop (SIGINT), docker kill, docker pause. The
// image must start a server for the command `postgres -c key=value ...` with
// the postgres user trusted, as the official one does; where no registry is
// reachable, scripts/docker-postgres-image.sh installs Docker and builds such
// an image (pgfleet/postgres:15-local) from the host's Postgres. Unless they
// are set, the backend sets TESTCONTAINERS_RYUK_DISABLED=true (it removes its
// own containers, and those of dead test processes, by their labels) and, on a
// machine with /.dockerenv that runs dockerd itself,
// TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1.
//
// PGFLEET_TEST_DATABASE_URL points single-node tests at a server you already
// run: each [Start] gets a throwaway database there, dropped at the end. Fault
// controls need a backend that owns the server and return [ErrUnsupported] on
// this one.
//
// # Skips
//
// When no backend can be had, [Start] skips the test with one line that says
// what to install, unless PGFLEET_REQUIRE_DB is set (CI sets it), in which case
// the test fails.
//
// # Nothing survives the test process
//
// Every postmaster runs in its own process group with a parent-death signal,
// so it shuts down even when the test binary panics or is killed by
// `go test -timeout`. As a second line of defence each process reaps, when it
// first starts a topology, the data directories whose owning process is gone
// (and only those: test packages run in parallel and never reap each other).
package dbxtest

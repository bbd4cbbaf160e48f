// Package topology starts real Postgres topologies: a primary, N streaming
// read replicas and M independent shard servers, each with its own DSN,
// settings and fault controls (stop, start, kill, pause, promote). It does not
// import package testing: the demo, the benchmarks and simulations use it
// directly; tests use package dbxtest, which adds cleanup and the skip policy.
//
//	c, err := topology.Launch(ctx, topology.Topology{Replicas: 1, Shards: 2})
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//	pool, err := pgxpool.New(ctx, c.Primary.DSN())
//	...
//	err = c.Replicas[0].Pause() // a hung replica: SIGSTOP on all its processes
//
// A new server is empty: apply your schema (package migrations) before use.
//
// # Backends
//
// The local backend (default where server binaries exist; Linux only: it
// needs parent-death signals and /proc, and elsewhere reports "not supported
// on this OS") runs the host's Postgres binaries, found through PG_BINDIR, `pg_config --bindir` or the
// newest /usr/lib/postgresql/*/bin. It runs them as the postgres user when
// the tests run as root, puts data directories on tmpfs (/dev/shm) when there
// is one, runs initdb once into a template shared by all test processes of a
// machine and copies it per node, so a primary with two replicas and three
// shards is up in well under a second.
//
// The testcontainers backend lives in package
// github.com/pgfleet/pgfleet/dbx/dbxtest/containers, so that only binaries
// that import it link Docker's client: import it for its side effect
// ([ContainersImport]) and it registers itself ([Register]). It is used when
// PGFLEET_TEST_BACKEND=testcontainers, or automatically when no local binaries
// exist but Docker does. Asking for it when it is not linked is an error that
// names the import. It runs each node in a container of PGFLEET_TEST_IMAGE
// (default: containers.DefaultImage, the official postgres image), replicas
// included: a replica takes a pg_basebackup of the primary over a network of
// the cluster's own. Each node is published on a
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
// run: each [Launch] gets a throwaway database there, dropped at the end. Fault
// controls need a backend that owns the server and return [ErrUnsupported] on
// this one.
//
// # Nothing survives the test process
//
// Every postmaster runs in its own process group with a parent-death signal,
// so it shuts down even when the test binary panics or is killed by
// `go test -timeout`. As a second line of defence each process reaps, when it
// first starts a topology, the data directories whose owning process is gone
// (and only those: test packages run in parallel and never reap each other).
package topology

package dbxtest

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// ErrUnsupported is returned by fault controls that the node's backend
// cannot perform (any control on a PGFLEET_TEST_DATABASE_URL server).
var ErrUnsupported = errors.New("dbxtest: not supported by this backend")

// UnavailableError says that no backend can start the requested topology
// here, and what to install. [Start] turns it into a skip unless
// PGFLEET_REQUIRE_DB is set.
type UnavailableError struct {
	Reason string
}

func (e *UnavailableError) Error() string { return "dbxtest: " + e.Reason }

type backend interface {
	launch(ctx context.Context, topo Topology) (*Cluster, error)
}

const installHint = "install PostgreSQL server binaries (apt-get install postgresql, or set PG_BINDIR) or Docker, or set PGFLEET_TEST_DATABASE_URL for single-node tests"

// chooseBackend follows PGFLEET_TEST_BACKEND, else prefers an explicit
// PGFLEET_TEST_DATABASE_URL for single-node topologies, then local binaries,
// then Docker.
func chooseBackend(topo Topology) (backend, error) {
	url := os.Getenv("PGFLEET_TEST_DATABASE_URL")
	singleNode := topo.Replicas == 0 && topo.Shards == 0 && len(topo.Settings) == 0 && len(topo.NodeSettings) == 0
	switch name := os.Getenv("PGFLEET_TEST_BACKEND"); name {
	case "local":
		return newLocal()
	case "testcontainers":
		return newContainers()
	case "existing":
		if url == "" {
			return nil, fmt.Errorf("dbxtest: PGFLEET_TEST_BACKEND=existing needs PGFLEET_TEST_DATABASE_URL")
		}
		if !singleNode {
			return nil, &UnavailableError{Reason: "PGFLEET_TEST_DATABASE_URL serves single-node topologies without settings only; this test needs replicas, shards or settings: unset PGFLEET_TEST_BACKEND to use local binaries or Docker"}
		}
		return existing{url: url}, nil
	case "":
	default:
		return nil, fmt.Errorf("dbxtest: PGFLEET_TEST_BACKEND=%q: want local, testcontainers or existing", name)
	}
	if url != "" && singleNode {
		return existing{url: url}, nil
	}
	if b, err := newLocal(); err == nil {
		return b, nil
	}
	if dockerAvailable() {
		return newContainers()
	}
	return nil, &UnavailableError{Reason: "no Postgres backend: " + installHint}
}

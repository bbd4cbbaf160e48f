package topology

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
)

// ErrUnsupported is returned by fault controls that the node's backend
// cannot perform (any control on a PGFLEET_TEST_DATABASE_URL server).
var ErrUnsupported = errors.New("topology: not supported by this backend")

// UnavailableError says that no backend can start the requested topology
// here, and what to install. dbxtest.Start turns it into a skip unless
// PGFLEET_REQUIRE_DB is set.
type UnavailableError struct {
	Reason string
}

func (e *UnavailableError) Error() string { return "topology: " + e.Reason }

// Backend starts topologies. The local and existing-server backends are
// built in; others (testcontainers) register a [Driver].
type Backend interface {
	// Launch starts every node of topo. On error it may return the
	// partly started cluster, which the caller closes.
	Launch(ctx context.Context, topo Topology) (*Cluster, error)
}

// Driver is what a backend package registers with [Register], as
// database/sql drivers do: the package that links Docker into a binary is
// the one the user imports, never this one.
type Driver interface {
	// Available reports cheaply whether the backend could run here, for the
	// automatic choice when PGFLEET_TEST_BACKEND is unset.
	Available() bool
	// Open prepares the backend. It is called at most once per process; its
	// result, error included, is kept.
	Open() (Backend, error)
}

// ContainersImport is the import that links the testcontainers backend.
const ContainersImport = `import _ "github.com/pgfleet/pgfleet/dbx/dbxtest/containers"`

type registered struct {
	driver  Driver
	once    sync.Once
	backend Backend
	err     error
}

func (r *registered) open() (Backend, error) {
	r.once.Do(func() { r.backend, r.err = r.driver.Open() })
	return r.backend, r.err
}

var (
	driversMu sync.Mutex
	drivers   = map[string]*registered{}
)

// Register makes a backend available under name (the value of
// PGFLEET_TEST_BACKEND that selects it). It panics on a duplicate or a
// built-in name, as database/sql.Register does: both are programming errors
// found at init.
func Register(name string, d Driver) {
	driversMu.Lock()
	defer driversMu.Unlock()
	if name == "" || name == "local" || name == "existing" || drivers[name] != nil || d == nil {
		panic(fmt.Sprintf("topology: Register(%q): empty, built-in or duplicate backend name, or nil driver", name))
	}
	drivers[name] = &registered{driver: d}
}

func registeredNames() []string {
	driversMu.Lock()
	defer driversMu.Unlock()
	names := make([]string, 0, len(drivers))
	for n := range drivers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func driver(name string) *registered {
	driversMu.Lock()
	defer driversMu.Unlock()
	return drivers[name]
}

const installHint = "install PostgreSQL server binaries (apt-get install postgresql, or set PG_BINDIR), or set PGFLEET_TEST_DATABASE_URL for single-node tests, or use Docker through the testcontainers backend (" + ContainersImport + ")"

// chooseBackend follows PGFLEET_TEST_BACKEND, else prefers an explicit
// PGFLEET_TEST_DATABASE_URL for single-node topologies, then local binaries,
// then any registered backend that is available (Docker).
func chooseBackend(topo Topology) (Backend, error) {
	url := os.Getenv("PGFLEET_TEST_DATABASE_URL")
	singleNode := topo.Replicas == 0 && topo.Shards == 0 && len(topo.Settings) == 0 && len(topo.NodeSettings) == 0
	switch name := os.Getenv("PGFLEET_TEST_BACKEND"); name {
	case "local":
		return newLocal()
	case "existing":
		if url == "" {
			return nil, fmt.Errorf("topology: PGFLEET_TEST_BACKEND=existing needs PGFLEET_TEST_DATABASE_URL")
		}
		if !singleNode {
			return nil, &UnavailableError{Reason: "PGFLEET_TEST_DATABASE_URL serves single-node topologies without settings only; this test needs replicas, shards or settings: unset PGFLEET_TEST_BACKEND to use local binaries or Docker"}
		}
		return existing{url: url}, nil
	case "":
	default:
		if r := driver(name); r != nil {
			return r.open()
		}
		if name == "testcontainers" {
			return nil, fmt.Errorf("topology: PGFLEET_TEST_BACKEND=testcontainers, but the testcontainers backend is not linked into this binary: add %s to a file of the test package (or program) that starts the topology", ContainersImport)
		}
		return nil, fmt.Errorf("topology: PGFLEET_TEST_BACKEND=%q: want local, testcontainers or existing (registered here: %s)", name, strings.Join(append([]string{"local", "existing"}, registeredNames()...), ", "))
	}
	if url != "" && singleNode {
		return existing{url: url}, nil
	}
	if b, err := newLocal(); err == nil {
		return b, nil
	}
	for _, name := range registeredNames() {
		if r := driver(name); r.driver.Available() {
			return r.open()
		}
	}
	return nil, &UnavailableError{Reason: "no Postgres backend: " + installHint}
}

package dbxtest

import "context"

// containers is the testcontainers backend.
type containers struct{}

func newContainers() (backend, error) {
	return nil, &UnavailableError{Reason: "the testcontainers backend is not built yet"}
}

func dockerAvailable() bool { return false }

func (containers) launch(ctx context.Context, topo Topology) (*Cluster, error) { return nil, nil }

package containers_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgfleet/pgfleet/dbx/dbxtest/topology"
)

// Importing the package registers the backend: asking for it reaches Docker
// (here a socket with no daemon, so the answer is "unavailable, start
// Docker") instead of "not linked".
func TestImportRegistersBackend(t *testing.T) {
	if os.Getenv("PGFLEET_TEST_BACKEND") == "testcontainers" {
		t.Skip("the smoke suite (TestContainers) uses the real Docker in this process")
	}
	t.Setenv("PGFLEET_TEST_BACKEND", "testcontainers")
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	_, err := topology.Launch(t.Context(), topology.Topology{})
	var unavailable *topology.UnavailableError
	if !errors.As(err, &unavailable) || !strings.Contains(err.Error(), "Docker does not answer") {
		t.Fatalf("testcontainers backend with no daemon: %v, want an *UnavailableError saying Docker does not answer", err)
	}
}

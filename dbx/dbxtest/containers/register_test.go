package containers_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgfleet/pgfleet/dbx/dbxtest/topology"
)

// Importing the package registers the backend: asking for it reaches Docker
// instead of "not linked". What Docker answers depends on the machine (no
// daemon; a daemon without the image; a container), so the test asserts only
// that the backend was reached.
func TestImportRegistersBackend(t *testing.T) {
	if os.Getenv("PGFLEET_TEST_BACKEND") == "testcontainers" {
		t.Skip("the smoke suite (TestContainers) uses the real Docker in this process")
	}
	t.Setenv("PGFLEET_TEST_BACKEND", "testcontainers")
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	c, err := topology.Launch(t.Context(), topology.Topology{})
	if c != nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	if err != nil && strings.Contains(err.Error(), "not linked") {
		t.Fatalf("importing containers did not register the backend: %v", err)
	}
	if err == nil && c.Backend != "testcontainers" {
		t.Fatalf("launched by backend %q, want testcontainers", c.Backend)
	}
}

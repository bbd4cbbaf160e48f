// Package containers is the testcontainers backend of package topology: it
// runs every node of a topology in a Docker container. Import it for its side
// effect, in the test package (or program) that needs it; packages that do
// not import it link no Docker, moby or OpenTelemetry code.
//
//	import _ "github.com/pgfleet/pgfleet/dbx/dbxtest/containers"
//
// It is chosen with PGFLEET_TEST_BACKEND=testcontainers, or automatically
// when no local server binaries exist but Docker answers. PGFLEET_TEST_IMAGE
// names the image (default [DefaultImage]); see package topology for what the
// image must do and for the fault controls.
package containers

package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The product: the library packages and the two CLIs that users run in
// production. None of them may link the test harness: before the split,
// `pgfleet migrate` carried testing, testcontainers, the Docker client and
// OpenTelemetry (524 packages against 279 for dbx).
var productPackages = []string{
	"github.com/pgfleet/pgfleet/dbx",
	"github.com/pgfleet/pgfleet/dbx/budget",
	"github.com/pgfleet/pgfleet/loader",
	"github.com/pgfleet/pgfleet/budgetcheck",
	"github.com/pgfleet/pgfleet/migrations",
	"github.com/pgfleet/pgfleet/cmd/pgfleet",
	"github.com/pgfleet/pgfleet/cmd/budgetcheck",
}

// forbidden reports why a dependency may not be in a product package's
// build. The demo (internal/cmd/demo) is not the product: it alone starts
// topologies and seeds the demo shop.
func forbidden(pkg, dep string) string {
	switch {
	case strings.Contains(dep, "/internal/demo") || strings.Contains(dep, "/internal/cmd/") || strings.Contains(dep, "/dbx/dbxtest/"):
		return "demo or topology code in the product"
	case dep == "testing" || strings.HasPrefix(dep, "testing/"):
		return "the testing package"
	case strings.Contains(dep, "testcontainers"), strings.Contains(dep, "/moby/"), strings.Contains(dep, "docker"):
		return "Docker / testcontainers"
	case strings.HasPrefix(dep, "github.com/prometheus/prometheus/"):
		return "Prometheus's rule parser (rules_test.go only)"
	case strings.HasPrefix(dep, "go.opentelemetry.io/"):
		return "OpenTelemetry"
	case dep == "github.com/pgfleet/pgfleet/dbx/dbxtest", strings.HasPrefix(dep, "github.com/pgfleet/pgfleet/dbx/dbxtest/containers"):
		return "the dbxtest test layer"
	}
	return ""
}

func TestProductLinksNoTestHarness(t *testing.T) {
	t.Parallel()
	for _, pkg := range productPackages {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for dep := range strings.FieldsSeq(string(out)) {
			if why := forbidden(pkg, dep); why != "" {
				t.Errorf("%s links %s (%s)", pkg, dep, why)
			}
		}
	}
}

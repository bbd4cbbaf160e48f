package budgetcheck_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgfleet/pgfleet/budgetcheck"
)

// Every application profile cites a source and a version, and the
// app-profiles scenario exercises each one (its report names the profile)
// except Forgejo, which shares Gitea's rule.
func TestProfilesCitedAndExercised(t *testing.T) {
	t.Parallel()
	report, err := os.ReadFile(filepath.Join(goldenDir, "app-profiles", "expected.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range budgetcheck.Profiles {
		if p.Source == "" || p.Version == "" || len(p.Images) == 0 {
			t.Errorf("profile %s: source, version and images are required", p.Name)
		}
		if p.DefaultState == budgetcheck.Known && p.Default < 1 {
			t.Errorf("profile %s: a known default must be a pool of at least 1", p.Name)
		}
		if p.Name != "forgejo" && !strings.Contains(string(report), "app "+p.Name) {
			t.Errorf("profile %s is not exercised by testdata/budgetcheck/app-profiles", p.Name)
		}
	}
	// Not clients: Grafana on SQLite, Metabase on H2.
	r := budgetcheck.Analyze(readCase(t, filepath.Join(goldenDir, "app-profiles")), goldenOptions)
	for _, d := range r.Databases {
		for _, c := range d.Clients {
			if strings.Contains(c.ID, "sqlite") || strings.Contains(c.ID, "h2") {
				t.Errorf("%s counted as a Postgres client", c.ID)
			}
		}
	}
}

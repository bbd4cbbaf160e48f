package budgetcheck_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pgfleet/pgfleet/budgetcheck"
)

// A base and two overlays are two deployment units, and none of the base's
// files (nor the prod overlay's patch) is also read as a loose manifest:
// before, the base counted a third time and the patch was a second
// Deployment.
func TestKustomizeOverlaysAreUnits(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(goldenDir, "kustomize-overlays")
	srcs, err := budgetcheck.ReadSources(context.Background(), nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	var units []string
	for _, s := range srcs {
		if strings.HasPrefix(filepath.Base(s.Name), "expected") {
			continue
		}
		if s.Unit == "" {
			t.Errorf("%s read raw; it belongs to a kustomization", s.Name)
		}
		if !slices.Contains(units, s.Unit) {
			units = append(units, s.Unit)
		}
	}
	want := []string{filepath.Join(dir, "overlays/prod"), filepath.Join(dir, "overlays/staging")}
	if !slices.Equal(units, want) {
		t.Fatalf("units %q, want %q", units, want)
	}
	// Naming an overlay builds that overlay alone.
	r, err := budgetcheck.Run(context.Background(), budgetcheck.Options{}, nil, filepath.Join(dir, "overlays/prod"))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Databases) != 1 || r.Databases[0].ID != "prod/StatefulSet/pg" || r.Databases[0].WorstCase != (8+2)*12 {
		t.Fatalf("overlays/prod alone: %+v, want prod/StatefulSet/pg with worst case 120", r.Databases)
	}
}

// A kustomization that does not build is a PGF011 finding, not an exit 2,
// and the loose manifests next to it are still checked.
func TestKustomizeBuildErrorIsFinding(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "broken/kustomization.yaml"), "resources: [missing.yaml]\n")
	write(t, filepath.Join(dir, "loose.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
	r, err := budgetcheck.Run(context.Background(), budgetcheck.Options{}, nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) != 1 || r.Findings[0].Check != "PGF011" || r.Findings[0].Unit != filepath.Join(dir, "broken") {
		t.Fatalf("findings %+v, want one PGF011 for the broken kustomization", r.Findings)
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A unit whose build exceeds the input bound is PGF011, as a file over it
// is an input error: a kustomization or chart cannot exhaust memory.
func TestUnitOverSizeLimit(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"kustomize-overlays/overlays/prod", "helm-values/myapp"} {
		r, err := budgetcheck.Run(context.Background(), budgetcheck.Options{MaxFileBytes: 100}, nil, filepath.Join(goldenDir, dir))
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Findings) != 1 || r.Findings[0].Check != "PGF011" || !strings.Contains(r.Findings[0].Message, "over --max-file-bytes 100") {
			t.Errorf("%s: findings %+v, want one PGF011 over --max-file-bytes", dir, r.Findings)
		}
	}
}

package budgetcheck

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"
)

// A deployment unit is what one `kubectl apply` deploys: a kustomization
// that no other kustomization of the input references (an overlay), a Helm
// chart, or the loose manifests. Each unit is checked on its own: a base
// and two overlays are two deployments of the same workloads, not three
// times the fleet.

// layout is what an input path holds once kustomizations and charts are
// told apart from loose manifests.
type layout struct {
	kustomizations []string // roots: built with krusty, one unit each
	charts         []string // chart directories: rendered with Helm, one unit each
	// kustomized holds the directories of every kustomization and chart,
	// and owned the files kustomizations list: neither is read raw.
	kustomized []string
	owned      map[string]bool
}

// raw reports whether a manifest file found under the input is a loose
// manifest: not in a kustomization's or chart's directory, not listed by a
// kustomization.
func (l layout) raw(path string) bool {
	if l.owned[filepath.Clean(path)] {
		return false
	}
	for _, d := range l.kustomized {
		if strings.HasPrefix(path, d+string(filepath.Separator)) {
			return false
		}
	}
	return true
}

// kustomizationFile returns the kustomization file of dir, "" if none. The
// names are kustomize's own (kustomization.yaml, .yml, Kustomization).
func kustomizationFile(dir string) string {
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		p := filepath.Join(dir, n)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// isChart reports whether dir is a Helm chart (holds Chart.yaml).
func isChart(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, "Chart.yaml"))
	return err == nil && st.Mode().IsRegular()
}

// planPath sorts an input path into units. A kustomization or Chart.yaml
// file, or a directory that is a kustomization or a chart, is that one
// unit, even when another kustomization refers to it: it is what the user
// named. Otherwise a directory is walked: charts are not descended into
// (their charts/ are Helm's subcharts), every kustomization directory is
// noted, and a kustomization is a root unless another one lists it in
// resources, components or bases, or it is a Component. Files under a
// kustomization's directory, and files a kustomization lists (resources,
// patches, generator sources), are never read raw: kustomize reads them,
// and a patch read raw would count as a second Deployment.
func planPath(p string) (layout, error) {
	l := layout{owned: map[string]bool{}}
	st, err := os.Stat(p)
	if err != nil {
		return l, &InputError{Path: p, Reason: "cannot read input", Err: err, Fix: "check the path"}
	}
	if !st.IsDir() {
		base := filepath.Base(p)
		switch {
		case base == "Chart.yaml":
			l.charts = []string{filepath.Dir(p)}
		case slices.Contains(konfig.RecognizedKustomizationFileNames(), base):
			l.kustomizations = []string{filepath.Dir(p)}
		}
		return l, nil
	}
	switch {
	case kustomizationFile(p) != "":
		l.kustomizations, l.kustomized = []string{p}, []string{p}
		return l, nil
	case isChart(p):
		l.charts, l.kustomized = []string{p}, []string{p}
		return l, nil
	}
	var kdirs []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if path != p && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir // .git and friends
		}
		if isChart(path) {
			l.charts = append(l.charts, path)
			l.kustomized = append(l.kustomized, path)
			return filepath.SkipDir
		}
		if kustomizationFile(path) != "" {
			kdirs = append(kdirs, path)
			l.kustomized = append(l.kustomized, path)
		}
		return nil
	})
	if err != nil {
		return l, &InputError{Path: p, Reason: "walking directory", Err: err}
	}
	referenced := map[string]bool{}
	for _, dir := range kdirs {
		k, err := readKustomization(kustomizationFile(dir))
		if err != nil {
			continue // krusty reports it when the unit is built: keep it a root
		}
		if k.Kind == types.ComponentKind {
			referenced[dir] = true
		}
		for _, r := range k.listed() {
			rp := filepath.Clean(filepath.Join(dir, r))
			if st, err := os.Stat(rp); err == nil && st.IsDir() {
				referenced[rp] = true
			} else if err == nil {
				l.owned[rp] = true
			}
		}
	}
	for _, dir := range kdirs {
		if !referenced[filepath.Clean(dir)] {
			l.kustomizations = append(l.kustomizations, dir)
		}
	}
	sort.Strings(l.kustomizations)
	sort.Strings(l.charts)
	return l, nil
}

// kustomization is the part of a kustomization file that says which
// paths it reads.
type kustomization struct {
	types.Kustomization
}

func readKustomization(path string) (*kustomization, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var k kustomization
	if err := yaml.Unmarshal(data, &k.Kustomization); err != nil {
		return nil, err
	}
	return &k, nil
}

// listed returns every local path the kustomization names: resources,
// components and bases (files or directories), patch files and the files
// of its generators. URLs and inline patches are left out.
func (k *kustomization) listed() []string {
	var out []string
	add := func(p string) {
		if p != "" && !strings.Contains(p, "://") && !strings.Contains(p, "\n") {
			out = append(out, p)
		}
	}
	// Bases and PatchesStrategicMerge are deprecated in kustomize but still in
	// users' kustomizations, and krusty still builds them: their files belong
	// to the unit too.
	//lint:ignore SA1019 legacy kustomizations are read as kustomize builds them
	for _, p := range append(append(append([]string{}, k.Resources...), k.Components...), k.Bases...) {
		add(p)
	}
	for _, p := range k.Patches {
		add(p.Path)
	}
	//lint:ignore SA1019 see Bases above
	for _, p := range k.PatchesStrategicMerge {
		add(string(p))
	}
	for _, p := range k.Crds {
		add(p)
	}
	gen := func(a types.GeneratorArgs) {
		for _, f := range a.FileSources {
			if _, file, ok := strings.Cut(f, "="); ok {
				f = file
			}
			add(f)
		}
		for _, e := range a.EnvSources {
			add(e)
		}
	}
	for _, g := range k.ConfigMapGenerator {
		gen(g.GeneratorArgs)
	}
	for _, g := range k.SecretGenerator {
		gen(g.GeneratorArgs)
	}
	return out
}

// buildUnits builds every kustomization and renders every chart of the
// layout. A unit that cannot be built is a source with no data and a
// PGF011 problem: the other units are still checked.
func buildUnits(ctx context.Context, l layout, opts Options) []Source {
	var out []Source
	for _, dir := range l.kustomizations {
		if ctx.Err() != nil {
			break
		}
		src, err := buildKustomization(dir)
		if err == nil && int64(len(src.Data)) > opts.maxFileBytes() {
			err = fmt.Errorf("the build is %d bytes, over --max-file-bytes %d", len(src.Data), opts.maxFileBytes())
		}
		if err != nil {
			src = Source{Name: kustomizationFile(dir), Unit: dir, failed: []problem{{check: "PGF011",
				message: fmt.Sprintf("kustomization cannot be built: %v (its workloads are not checked; kubectl kustomize shows the same error)", err)}}}
		}
		out = append(out, src)
	}
	for _, dir := range l.charts {
		if ctx.Err() != nil {
			break
		}
		out = append(out, renderChart(dir, opts)...)
	}
	return out
}

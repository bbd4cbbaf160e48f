package budgetcheck

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	helmchart "helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/strvals"
	"sigs.k8s.io/yaml"
)

// Defaults of [Options.HelmRelease] and [Options.HelmNamespace]: those of
// `helm template`.
const (
	DefaultHelmRelease   = "release-name"
	DefaultHelmNamespace = "default"
)

// Helm v3 (helm.sh/helm/v3 v3.22.0), not v4: v4.3.1's chart packages
// (pkg/chart/common) import its internal/version, which imports the
// testing package (testing.Testing() in internal/version/version.go), and
// the product must not link testing (cmd/pgfleet
// TestProductLinksNoTestHarness). v3's loader, chartutil and engine render
// the same charts (apiVersion v1 and v2).

// renderChart renders a chart directory as `helm template` does, with
// Helm's own loader, dependency processing, values coalescing and template
// engine, and no cluster (lookup returns nothing, Capabilities are Helm's
// defaults). Values: the chart's defaults, then each --values file in
// order, then each --set (helm's order: files merged, --set parsed into
// the result). Subcharts come from charts/ as Helm vendors them. An enabled
// dependency that is not vendored is a PGF011 problem and the rest of the
// chart is still rendered (helm itself refuses the whole chart); one
// disabled by its condition or tags is not deployed and not reported. A
// chart that cannot be loaded or rendered is one PGF011 problem.
func renderChart(dir string, opts Options) []Source {
	chartFile := filepath.Join(dir, "Chart.yaml")
	fail := func(format string, args ...any) []Source {
		return []Source{{Name: chartFile, Unit: dir, failed: []problem{{check: "PGF011",
			message: fmt.Sprintf("chart %s: ", filepath.Base(dir)) + fmt.Sprintf(format, args...)}}}}
	}
	ch, err := loader.LoadDir(dir)
	if err != nil {
		return fail("cannot be loaded: %v (its workloads are not checked)", err)
	}
	vals, err := helmValues(opts)
	if err != nil {
		return fail("%v", err)
	}
	if err := chartutil.ProcessDependenciesWithMerge(ch, vals); err != nil {
		return fail("dependencies cannot be processed: %v (its workloads are not checked)", err)
	}
	caps := chartutil.DefaultCapabilities.Copy()
	rel := chartutil.ReleaseOptions{Name: opts.helmRelease(), Namespace: opts.helmNamespace(), Revision: 1, IsInstall: true}
	top, err := chartutil.ToRenderValuesWithSchemaValidation(ch, vals, rel, caps, false)
	if err != nil {
		return fail("values do not fit the chart: %v", err)
	}
	var missing []problem
	var modelled []Source
	for _, dep := range ch.Metadata.Dependencies {
		if hasDependency(ch, dep.Name) {
			continue
		}
		values, _ := top["Values"].(chartutil.Values)
		if m, ok := bitnamiModel(dir, dep.Name, dep.Alias, dep.Repository, rel.Name, rel.Namespace, values); ok {
			m.Unit = dir
			modelled = append(modelled, m)
			missing = append(missing, problem{check: "PGF012",
				message: fmt.Sprintf("chart %s: dependency %s (version %q from %s) is not vendored under charts/: its server was modelled from the chart's values (Bitnami keys); vendor it (helm dependency build) to check what it renders",
					ch.Name(), dep.Name, dep.Version, dep.Repository)})
			continue
		}
		missing = append(missing, problem{check: "PGF012",
			message: fmt.Sprintf("chart %s: dependency %s (version %q from %s) is enabled but not vendored under charts/: its workloads are not checked (run helm dependency build on the chart)",
				ch.Name(), dep.Name, dep.Version, dep.Repository)})
	}
	files, err := engine.Render(ch, top)
	if err != nil {
		return fail("cannot be rendered: %v (its workloads are not checked; helm template shows the same error)", err)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		base := path.Base(name)
		if strings.HasPrefix(base, "_") || !isManifestName(base) || !hasContent([]byte(files[name])) {
			continue // helpers, NOTES.txt, templates that render to nothing
		}
		names = append(names, name)
	}
	sort.Strings(names)
	total := 0
	for _, name := range names {
		total += len(files[name])
	}
	if int64(total) > opts.maxFileBytes() {
		return fail("the rendered chart is %d bytes, over --max-file-bytes %d", total, opts.maxFileBytes())
	}
	var out []Source
	for _, name := range names {
		// Named like helm template's "# Source:" line, under the chart's
		// directory; lines are those of the rendered template.
		rel := strings.TrimPrefix(name, ch.Name()+"/")
		out = append(out, Source{Name: filepath.Join(dir, filepath.FromSlash(rel)), Unit: dir, Data: []byte(files[name])})
	}
	out = append(out, modelled...)
	if len(missing) > 0 || len(out) == 0 {
		out = append(out, Source{Name: chartFile, Unit: dir, failed: missing})
	}
	return out
}

func hasDependency(ch *helmchart.Chart, name string) bool {
	for _, d := range ch.Dependencies() {
		if d.Name() == name {
			return true
		}
	}
	return false
}

// helmValues merges the --values files and the --set flags as helm does.
func helmValues(opts Options) (map[string]any, error) {
	vals := map[string]any{}
	for _, f := range opts.HelmValues {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("--values %s: %w", f, err)
		}
		m := map[string]any{}
		if err := yaml.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("--values %s: %w (want a YAML mapping)", f, err)
		}
		vals = mergeValues(vals, m)
	}
	for _, s := range opts.HelmSet {
		if err := strvals.ParseInto(s, vals); err != nil {
			return nil, fmt.Errorf("--set %s: %w", s, err)
		}
	}
	return vals, nil
}

// mergeValues merges b over a as helm merges --values files: mappings are
// merged key by key, anything else in b replaces a's value.
func mergeValues(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = mergeValues(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

package budgetcheck

import (
	"fmt"
	"strings"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// buildKustomization builds a kustomization directory as `kubectl
// kustomize` does, with krusty's defaults: load restrictions RootOnly (no
// file outside the kustomization root unless a base holds it), plugins and
// Helm inflation off, no managed-by label. namePrefix/nameSuffix,
// namespaces, patches, replicas, images, configMapGenerator and
// secretGenerator (env and property files) and components are applied by
// kustomize itself. Remote resources (git URLs) are fetched as kubectl
// kustomize fetches them, each git command bounded by kustomize's own
// 27 s timeout (api/internal/git/repospec.go defaultTimeout). A build
// error is returned as it is: the unit becomes a PGF011 finding and the
// other units are still checked.
func buildKustomization(dir string) (Source, error) {
	opts := krusty.MakeDefaultOptions()
	res, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return Source{}, err
	}
	data, err := res.AsYaml()
	if err != nil {
		return Source{}, fmt.Errorf("rendering the build as YAML: %w", err)
	}
	return Source{Name: kustomizationFile(dir) + builtSuffix, Unit: dir, Data: data}, nil
}

// Sources that are not files as written (a kustomize build, a modelled
// chart dependency) are named after the file they come from plus one of
// these suffixes: text and JSON show where the lines are, and SARIF, whose
// locations must be files of the repository, points at that file's first
// line instead (see [syntheticFile]).
const (
	builtSuffix    = " (built)"
	modelledSuffix = " (modelled from values)"
)

// syntheticFile returns the file a built or modelled source comes from,
// and whether name is such a source.
func syntheticFile(name string) (string, bool) {
	for _, suf := range []string{builtSuffix, modelledSuffix} {
		if f, ok := strings.CutSuffix(name, suf); ok {
			return f, true
		}
	}
	return name, false
}

package budgetcheck

import (
	"fmt"
	"path/filepath"

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
// error is returned as it is: the unit becomes a PGF010 finding and the
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
	return Source{Name: filepath.Join(dir, "kustomization (built)"), Unit: dir, Data: data}, nil
}

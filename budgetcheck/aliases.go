package budgetcheck

import (
	"bytes"
	"fmt"

	yamlv3 "go.yaml.in/yaml/v3"
)

// MaxExpandedDocument bounds what one YAML document may grow to once its
// aliases are expanded: bytes of scalar text plus one per node. go-yaml's
// own guard only limits the ratio of aliases to nodes, so a 22 KB file
// (a 16 KB anchored string, 5 levels of 9 aliases) expands to about 1 GB
// and took 35 s and 3.7 GB to convert. 8 MiB is several times what
// Kubernetes stores for one object (etcd's 1.5 MiB request limit); a
// document above it fails with PGF008 and the others are still checked.
const MaxExpandedDocument = 8 << 20

// checkAliases measures a document's expanded size on its node tree, where
// an alias is a pointer to its anchor: each node is visited once (sizes of
// anchors are memoised), so the check costs as much as parsing the
// document, however far the aliases would expand it. Documents without
// both an anchor and an alias are not parsed twice. A document go-yaml v3
// cannot parse is left to the converter, which reports the error.
func checkAliases(data []byte) error {
	if !bytes.ContainsRune(data, '&') || !bytes.ContainsRune(data, '*') {
		return nil
	}
	var root yamlv3.Node
	if yamlv3.Unmarshal(data, &root) != nil {
		return nil
	}
	const visiting = -1
	memo := map[*yamlv3.Node]int{}
	var size func(n *yamlv3.Node) int
	size = func(n *yamlv3.Node) int {
		if n == nil {
			return 0
		}
		if s, ok := memo[n]; ok {
			if s == visiting { // an alias inside its own anchor
				return MaxExpandedDocument + 1
			}
			return s
		}
		memo[n] = visiting
		s := 1
		switch n.Kind {
		case yamlv3.ScalarNode:
			s += len(n.Value)
		case yamlv3.AliasNode:
			s = size(n.Alias)
		default:
			for _, c := range n.Content {
				// Saturate: sums of sizes above the limit stop growing.
				s = min(s+size(c), MaxExpandedDocument+1)
			}
		}
		memo[n] = s
		return s
	}
	if s := size(&root); s > MaxExpandedDocument {
		return fmt.Errorf("YAML aliases expand the document to more than %d MiB (limit budgetcheck.MaxExpandedDocument); it is skipped: write the values out or use fewer nested aliases", MaxExpandedDocument>>20)
	}
	return nil
}

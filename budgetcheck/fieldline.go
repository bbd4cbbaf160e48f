package budgetcheck

import (
	"encoding/json"
	"errors"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxFieldNodes bounds the nodes [fieldLine] visits: a type error must not
// cost more than the document's decoding did.
const maxFieldNodes = 10000

// fieldLine returns the 1-based line, within a YAML (or JSON) document, of
// the field a JSON type error names, so that PGF008 points at the field
// rather than at the document's first line. The path of
// [json.UnmarshalTypeError] has no sequence indices, so every element is
// searched and the first value of the kind the error reports wins. Aliases
// are not followed (their own line is used): an alias bomb must not make
// the search expensive. ok is false when the field is not found.
func fieldLine(doc []byte, err error) (line int, ok bool) {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) || te.Field == "" {
		return 0, false
	}
	var root yaml.Node
	if yaml.Unmarshal(doc, &root) != nil || len(root.Content) == 0 {
		return 0, false
	}
	var found []*yaml.Node
	left := maxFieldNodes
	var walk func(n *yaml.Node, path []string)
	walk = func(n *yaml.Node, path []string) {
		if left--; left < 0 {
			return
		}
		switch {
		case len(path) == 0 || n.Kind == yaml.AliasNode:
			found = append(found, n)
		case n.Kind == yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == path[0] {
					walk(n.Content[i+1], path[1:])
				}
			}
		}
	}
	walk(root.Content[0], strings.Split(te.Field, "."))
	if len(found) == 0 {
		return 0, false
	}
	for _, n := range found {
		if kindOf(n) == strings.Fields(te.Value + " ")[0] {
			return n.Line, true
		}
	}
	return found[0].Line, true
}

// kindOf names a node's value as encoding/json's UnmarshalTypeError.Value
// does: "string", "number", "bool", "array", "object" or "null".
func kindOf(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "array"
	case yaml.MappingNode:
		return "object"
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		return "number"
	case "!!bool":
		return "bool"
	case "!!null":
		return "null"
	}
	return "string"
}

package budgetcheck

import (
	"fmt"
	"testing"
)

// TestSplitDocumentsDroppedNothing: documents that were silently dropped
// (a flow document on the "---" line, concatenated JSON objects) or that
// became a false PGF008 (a "%YAML 1.1" directive) are each one document,
// with the line they start on.
func TestSplitDocumentsDroppedNothing(t *testing.T) {
	t.Parallel()
	obj := func(name string) string {
		return fmt.Sprintf(`{"apiVersion":"v1","kind":"Service","metadata":{"name":%q}}`, name)
	}
	for _, tc := range []struct {
		name, in string
		lines    []int
	}{
		{"flow document on the separator line", "kind: Service\nmetadata: {name: a}\n--- " + obj("b") + "\n", []int{1, 3}},
		{"separator with a comment", "--- # first\nkind: Service\n---\t# second\nkind: Service\n", []int{2, 4}},
		{"JSON objects back to back", obj("a") + obj("b") + "\n", []int{1, 1}},
		{"JSON objects one per line", obj("a") + "\n\n" + obj("b") + "\n" + obj("c"), []int{1, 3, 4}},
		{"one JSON object stays whole", obj("a") + "\n", []int{1}},
		{"YAML flow mapping is not JSON", "{kind: Service, metadata: {name: a}}\n", []int{1}},
		{"directive before the separator", "%YAML 1.1\n---\nkind: Service\n", []int{3}},
		{"directive in a later document", "kind: Service\n---\n%YAML 1.1\n---\nkind: Service\n", []int{1, 5}},
		{"document end marker", "kind: Service\n...\nkind: Service\n", []int{1, 3}},
		{"three dashes in a value are not a separator", "kind: Service\nmetadata:\n  name: ---a\n", []int{1}},
	} {
		docs := splitDocuments(Source{Name: "in.yaml", Data: []byte(tc.in)})
		var lines []int
		for _, d := range docs {
			lines = append(lines, d.line)
		}
		if fmt.Sprint(lines) != fmt.Sprint(tc.lines) {
			t.Errorf("%s: documents start on lines %v, want %v", tc.name, lines, tc.lines)
		}
		objs, errs := decodeAll([]Source{{Name: "in.yaml", Data: []byte(tc.in)}})
		if len(errs) > 0 || len(objs) != len(tc.lines) {
			t.Errorf("%s: %d objects and errors %v, want %d objects", tc.name, len(objs), errs, len(tc.lines))
		}
	}
}

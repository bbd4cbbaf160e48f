package budgetcheck

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// dedupe keeps the first of objects with the same identity (API group,
// kind, namespace, name) and reports the others (PGF009): the API server
// holds one object per identity, and counting a Deployment twice because
// two files (or two overlays) define it doubles its demand. Objects
// without a name (generateName) are all kept.
func dedupe(objs []object) ([]object, []problem) {
	first := map[string]Location{}
	out := objs[:0:0]
	var dupes []problem
	for _, o := range objs {
		m, ok := o.obj.(metav1.Object)
		if !ok || m.GetName() == "" {
			out = append(out, o)
			continue
		}
		id := namespace(m.GetNamespace()) + "/" + o.kind + "/" + m.GetName()
		key := o.api + " " + id
		if at, seen := first[key]; seen {
			kind := o.kind
			if o.api != "" {
				kind += "." + o.api
			}
			dupes = append(dupes, problem{check: "PGF009", loc: o.loc, message: fmt.Sprintf("%s (%s) at %s duplicates the one at %s; counted once, as read there",
				id, strings.ToLower(kind), o.loc, at)})
			continue
		}
		first[key] = o.loc
		out = append(out, o)
	}
	return out, dupes
}

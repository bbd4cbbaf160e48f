package budgetcheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// object is one decoded Kubernetes object and where it came from.
type object struct {
	loc  Location
	kind string // Kind as written
	api  string // API group ("" for core), part of the object's identity
	obj  any    // a typed k8s.io/api struct or one of the CRD structs in crd.go
}

// decodeError is a document that could not be decoded.
type decodeError struct {
	loc   Location
	err   string
	cause error // a type error of a top-level object, located by fieldLine
}

// decodeAll decodes the documents of all sources, in parallel, keeping
// input order. Unknown kinds are dropped; bad documents become decodeErrors.
func decodeAll(srcs []Source) ([]object, []decodeError) {
	var docs []document
	for _, s := range srcs {
		docs = append(docs, splitDocuments(s)...)
	}
	type result struct {
		objs []object
		errs []decodeError
	}
	results := make([]result, len(docs))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(docs)))
	var wg sync.WaitGroup
	next := make(chan int, len(docs))
	for i := range docs {
		next <- i
	}
	close(next)
	for range workers {
		wg.Go(func() {
			for i := range next {
				r := &results[i]
				r.objs, r.errs = decodeDocument(docs[i], r.objs, r.errs)
			}
		})
	}
	wg.Wait()
	var objs []object
	var errs []decodeError
	for _, r := range results {
		objs = append(objs, r.objs...)
		errs = append(errs, r.errs...)
	}
	return objs, errs
}

var (
	yamlLine   = regexp.MustCompile(`line (\d+)`)
	yamlQuoted = regexp.MustCompile("`[^`]*`")
)

// withoutValues removes what go-yaml quotes of the document from its error
// message ("cannot decode !!str `...` as a !!int", "invalid map key: map[...]
// {...}"), for a document that may be a Secret: its values are never
// printed, not even in a PGF008 finding. The line number stays.
func withoutValues(msg string) string {
	if i := strings.Index(msg, "invalid map key:"); i >= 0 {
		msg = msg[:i] + "invalid map key (a mapping or a list used as a key)"
	}
	return yamlQuoted.ReplaceAllString(msg, "(value not shown)")
}

func decodeDocument(d document, objs []object, errs []decodeError) (o []object, e []decodeError) {
	loc := Location{File: d.file, Line: d.line}
	defer func() {
		// The YAML and JSON decoders are not expected to panic, but one bad
		// document must never stop the check of the others.
		if r := recover(); r != nil {
			o, e = objs, append(errs, decodeError{loc: loc, err: fmt.Sprintf("cannot decode: %v", r)})
		}
	}()
	if err := checkAliases(d.data); err != nil {
		return objs, append(errs, decodeError{loc: loc, err: err.Error()})
	}
	j, err := yaml.YAMLToJSON(d.data)
	if err != nil {
		msg := err.Error()
		// Make the YAML parser's document-relative line absolute.
		if m := yamlLine.FindStringSubmatchIndex(msg); m != nil {
			if n, aerr := strconv.Atoi(msg[m[2]:m[3]]); aerr == nil {
				loc.Line = d.line + n - 1
				msg = msg[:m[2]] + strconv.Itoa(loc.Line) + msg[m[3]:]
			}
		}
		msg = strings.TrimPrefix(msg, "error converting YAML to JSON: ")
		if bytes.Contains(d.data, []byte("Secret")) {
			msg = withoutValues(msg)
		}
		return objs, append(errs, decodeError{loc: loc, err: "invalid YAML: " + msg})
	}
	n := len(errs)
	objs, errs = decodeJSON(loc, j, objs, errs, 0)
	for i := n; i < len(errs); i++ {
		if line, ok := fieldLine(d.data, errs[i].cause); ok {
			errs[i].loc.Line = d.line + line - 1
		}
	}
	return objs, errs
}

func decodeJSON(loc Location, j []byte, objs []object, errs []decodeError, depth int) ([]object, []decodeError) {
	if s := bytes.TrimSpace(j); len(s) == 0 || string(s) == "null" {
		return objs, errs
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(j, &tm); err != nil {
		return objs, append(errs, decodeError{loc: loc, err: "not a Kubernetes object: " + err.Error()})
	}
	if tm.Kind == "List" || (strings.HasSuffix(tm.Kind, "List") && depth == 0) {
		var l struct {
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(j, &l); err != nil {
			return objs, append(errs, decodeError{loc: loc, err: tm.Kind + ": " + err.Error()})
		}
		if depth > 0 {
			return objs, append(errs, decodeError{loc: loc, err: "List nested in a List"})
		}
		for _, it := range l.Items {
			objs, errs = decodeJSON(loc, it, objs, errs, depth+1)
		}
		return objs, errs
	}
	newObj := kinds[kindKey{group(tm.APIVersion), tm.Kind}]
	if newObj == nil {
		return objs, errs // a kind the checker does not need
	}
	v := newObj()
	if err := json.Unmarshal(j, v); err != nil {
		e := decodeError{loc: loc, err: fmt.Sprintf("%s %s: %v", tm.APIVersion, tm.Kind, err)}
		if depth == 0 { // a List item's field paths do not start at the document's root
			e.cause = err
		}
		return objs, append(errs, e)
	}
	return append(objs, object{loc: loc, kind: tm.Kind, api: group(tm.APIVersion), obj: v}), errs
}

type kindKey struct{ group, kind string }

func group(apiVersion string) string {
	if i := strings.LastIndexByte(apiVersion, '/'); i >= 0 {
		return apiVersion[:i]
	}
	return "" // core
}

// kinds lists the kinds the checker reads; everything else is ignored.
var kinds = map[kindKey]func() any{
	{"apps", "Deployment"}:                                   func() any { return new(appsv1.Deployment) },
	{"apps", "StatefulSet"}:                                  func() any { return new(appsv1.StatefulSet) },
	{"apps", "DaemonSet"}:                                    func() any { return new(appsv1.DaemonSet) },
	{"apps", "ReplicaSet"}:                                   func() any { return new(appsv1.ReplicaSet) },
	{"batch", "Job"}:                                         func() any { return new(batchv1.Job) },
	{"batch", "CronJob"}:                                     func() any { return new(batchv1.CronJob) },
	{"", "Service"}:                                          func() any { return new(corev1.Service) },
	{"", "ConfigMap"}:                                        func() any { return new(corev1.ConfigMap) },
	{"", "Secret"}:                                           func() any { return new(corev1.Secret) },
	{"autoscaling", "HorizontalPodAutoscaler"}:               func() any { return new(autoscalingv2.HorizontalPodAutoscaler) },
	{"keda.sh", "ScaledObject"}:                              func() any { return new(scaledObject) },
	{"postgresql.cnpg.io", "Cluster"}:                        func() any { return new(cnpgCluster) },
	{"postgresql.cnpg.io", "Pooler"}:                         func() any { return new(cnpgPooler) },
	{"acid.zalan.do", "postgresql"}:                          func() any { return new(zalandoPostgresql) },
	{"postgres-operator.crunchydata.com", "PostgresCluster"}: func() any { return new(crunchyCluster) },
}

package budgetcheck

import (
	"fmt"
	"sort"
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/pgfleet/pgfleet/dbx/budget"
)

// Annotations that state or override what the manifests do not say. Each
// may be suffixed with ".<container>" to apply to one container only.
const (
	AnnotationPoolMax   = "pgfleet.dev/pool-max"   // pool max per process: an integer or "unbounded"
	AnnotationProcesses = "pgfleet.dev/processes"  // processes (pools) per container
	AnnotationDatabase  = "pgfleet.dev/database"   // database id, Service name or host the workload reaches
	AnnotationDriver    = "pgfleet.dev/driver"     // a Convention name, e.g. "hikaricp"
	AnnotationIgnore    = "pgfleet.dev/ignore"     // "true": not a client, not checked
	AnnotationPoolPairs = "pgfleet.dev/pool-pairs" // PgBouncer: (database, user) pairs served
)

// scaler is an autoscaler's bounds for one workload.
type scaler struct {
	min, max int
	source   string
	bad      string // why the bounds cannot be used; "" when they can
}

// problem is a finding noticed while building the model (PGF007, PGF008).
type problem struct {
	check    string
	loc      Location
	database string
	client   string
	message  string
}

// serverOf is the Postgres a workload runs and the container running it:
// the pod's other containers are clients (of it, when they use localhost).
type serverOf struct {
	db        *Database
	container string
}

// index holds the decoded objects by key and the model being built.
type index struct {
	opts       Options
	configMaps map[string]*corev1.ConfigMap // ns/name
	secrets    map[string]*corev1.Secret
	services   map[string]*corev1.Service
	scalers    map[string]scaler // ns/Kind/name of the target
	workloads  []*workload
	crds       []object

	databases map[string]*Database // by ID
	externals map[string]*Database // by host, see external
	byService map[string]*Database // ns/service name -> database it reaches
	serving   map[*workload]bool   // workloads that are poolers: not clients
	servers   map[*workload]serverOf
	clients   []*Client
	problems  []problem
}

func newIndex(objs []object, opts Options) *index {
	ix := &index{
		opts:       opts,
		configMaps: map[string]*corev1.ConfigMap{},
		secrets:    map[string]*corev1.Secret{},
		services:   map[string]*corev1.Service{},
		scalers:    map[string]scaler{},
		databases:  map[string]*Database{},
		externals:  map[string]*Database{},
		byService:  map[string]*Database{},
		serving:    map[*workload]bool{},
		servers:    map[*workload]serverOf{},
	}
	for _, o := range objs {
		switch v := o.obj.(type) {
		case *corev1.ConfigMap:
			ix.configMaps[nsName(namespace(v.Namespace), v.Name)] = v
		case *corev1.Secret:
			ix.secrets[nsName(namespace(v.Namespace), v.Name)] = v
		case *corev1.Service:
			ix.services[nsName(namespace(v.Namespace), v.Name)] = v
		case *autoscalingv2.HorizontalPodAutoscaler:
			ref := v.Spec.ScaleTargetRef
			lo := 1
			if v.Spec.MinReplicas != nil {
				lo = int(*v.Spec.MinReplicas)
			}
			ix.addScaler(o.loc, namespace(v.Namespace)+"/"+ref.Kind+"/"+ref.Name, scaler{min: lo, max: int(v.Spec.MaxReplicas),
				source: fmt.Sprintf("HorizontalPodAutoscaler %s maxReplicas", v.Name)})
		case *scaledObject:
			ref := v.Spec.ScaleTargetRef
			kind, lo, hi := ref.Kind, 0, 100
			if kind == "" {
				kind = "Deployment"
			}
			if v.Spec.MinReplicaCount != nil {
				lo = int(*v.Spec.MinReplicaCount)
			}
			src := fmt.Sprintf("KEDA ScaledObject %s maxReplicaCount", v.Name)
			if v.Spec.MaxReplicaCount != nil {
				hi = int(*v.Spec.MaxReplicaCount)
			} else {
				src += " (KEDA default 100)"
			}
			ix.addScaler(o.loc, namespace(v.Namespace)+"/"+kind+"/"+ref.Name, scaler{min: lo, max: hi, source: src})
		case *cnpgCluster, *cnpgPooler, *zalandoPostgresql, *crunchyCluster:
			ix.crds = append(ix.crds, o)
		default:
			if w := newWorkload(o, opts); w != nil {
				if w.pods.State == Known && budget.CheckCount("", w.pods.Value) != nil {
					ix.problems = append(ix.problems, problem{check: "PGF007", loc: w.loc,
						message: fmt.Sprintf("%s: %s is %d: want %s", w.key(), w.pods.Source, w.pods.Value, wantCount(0))})
					w.pods = unknown("%s %d is invalid", w.pods.Source, w.pods.Value)
				}
				ix.workloads = append(ix.workloads, w)
			}
		}
	}
	return ix
}

// addScaler registers an autoscaler for the workload key target. Bounds
// the API server would refuse (maxReplicas below 1, a negative or larger
// minimum) are a PGF007 problem and leave the workload's pod count unknown:
// falling back to its replicas could make a fleet fit that does not.
func (ix *index) addScaler(loc Location, target string, s scaler) {
	switch {
	case s.max < 1 || s.max > budget.MaxCount:
		s.bad = fmt.Sprintf("%s %d: want %s", s.source, s.max, wantCount(1))
	case s.min < 0 || s.min > s.max:
		s.bad = fmt.Sprintf("%s %d with minimum %d: want a minimum between 0 and the maximum", s.source, s.max, s.min)
	}
	if s.bad != "" {
		ix.problems = append(ix.problems, problem{check: "PGF007", loc: loc, message: target + ": " + s.bad})
	}
	ix.scalers[target] = s
}

// build turns the index into databases with their clients.
func (ix *index) build() []*Database {
	ix.findServers()
	ix.operatorObjects()
	ix.findPoolers()
	ix.findPgpools()
	for _, w := range ix.workloads {
		if !ix.serving[w] {
			ix.addClients(w)
		}
	}
	for _, c := range ix.clients {
		d := ix.databases[c.Database]
		d.Clients = append(d.Clients, c)
	}
	out := make([]*Database, 0, len(ix.databases))
	for _, d := range ix.databases {
		sort.Slice(d.Clients, func(i, j int) bool { return d.Clients[i].ID < d.Clients[j].ID })
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i].Kind == Unresolved) != (out[j].Kind == Unresolved) {
			return out[j].Kind == Unresolved
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// addDatabase registers a database and the Services that reach it.
func (ix *index) addDatabase(d *Database, ns string, services ...string) {
	ix.databases[d.ID] = d
	for _, s := range services {
		ix.byService[nsName(ns, s)] = d
	}
}

// servicesOf lists the Services whose selector picks the workload's pods.
func (ix *index) servicesOf(w *workload) []string {
	var out []string
	for _, s := range ix.services {
		if namespace(s.Namespace) == w.ns && w.matches(s.Spec.Selector) {
			out = append(out, s.Name)
		}
	}
	sort.Strings(out)
	return out
}

// scaledPods is the worst-case steady pod count: the autoscaler's max when
// one targets the workload, else its replicas. sc is the autoscaler, if any.
func (ix *index) scaledPods(w *workload) (pods Number, sc *scaler) {
	s, ok := ix.scalers[w.key()]
	if !ok {
		return w.pods, nil
	}
	if s.bad != "" {
		return unknown("%s", s.bad), &s
	}
	return known(s.max, "%s %d (replicas %s)", s.source, s.max, w.pods), &s
}

// resolveHost finds the database a host name reaches: a Service of the
// manifests (name, name.ns, name.ns.svc[.cluster.local]), else an external
// database named after the host. secret names the Secret key the host was
// read from ("" if none); see [index.external].
func (ix *index) resolveHost(host, secret, ns string) (*Database, string) {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	parts := strings.Split(h, ".")
	svcNS := ns
	if len(parts) > 1 {
		svcNS = parts[1]
	}
	// A StatefulSet pod's name under its headless Service,
	// pod.service[.ns[.svc...]], reaches that Service's servers.
	if len(parts) >= 2 {
		podNS := ns
		if len(parts) >= 3 && parts[2] != "svc" {
			podNS = parts[2]
		}
		if s := ix.services[nsName(podNS, parts[1])]; s != nil && s.Spec.ClusterIP == corev1.ClusterIPNone {
			if d := ix.byService[nsName(podNS, parts[1])]; d != nil {
				return d, fmt.Sprintf("pod %s of headless Service %s -> %s", parts[0], nsName(podNS, parts[1]), d.ID)
			}
		}
	}
	inCluster := len(parts) <= 2 || parts[2] == "svc"
	if inCluster {
		key := nsName(svcNS, parts[0])
		if d := ix.byService[key]; d != nil {
			return d, fmt.Sprintf("Service %s -> %s", key, d.ID)
		}
		if s := ix.services[key]; s != nil {
			if s.Spec.ExternalName != "" {
				d, via := ix.external(s.Spec.ExternalName, "")
				return d, fmt.Sprintf("Service %s (ExternalName) -> %s", key, via)
			}
			d, _ := ix.external(key, "")
			return d, fmt.Sprintf("Service %s selects no Postgres or pooler in the manifests", key)
		}
	}
	return ix.external(h, secret)
}

// external returns the database for a host the manifests do not define,
// one per host. Its ID names the host, unless the first client to reach it
// read the host from a Secret: then the ID names that Secret key instead,
// since a Secret's value (and a host cut from a malformed DSN may hold part
// of a password) is never printed.
func (ix *index) external(host, secret string) (*Database, string) {
	d := ix.externals[host]
	if d == nil {
		id := "external:" + host
		if secret != "" {
			id = "external:<host from " + secret + ">"
		}
		d = &Database{ID: id, Kind: External}
		ix.assumeServer(d, nil)
		ix.databases[id] = d
		ix.externals[host] = d
	}
	return d, "not in the manifests: " + d.ID
}

// resolveDatabase resolves the pgfleet.dev/database annotation: a database
// ID, a Service name or a host.
func (ix *index) resolveDatabase(v, ns string) (*Database, string) {
	if d := ix.databases[v]; d != nil {
		return d, "annotation " + AnnotationDatabase
	}
	d, via := ix.resolveHost(v, "", ns)
	return d, "annotation " + AnnotationDatabase + ": " + via
}

func (ix *index) unresolved() *Database {
	if d := ix.databases["unresolved"]; d != nil {
		return d
	}
	d := &Database{ID: "unresolved", Kind: Unresolved,
		MaxConnections:    unknown("no database identified"),
		SuperuserReserved: unknown("no database identified"), Reserved: unknown("no database identified")}
	ix.databases[d.ID] = d
	return d
}

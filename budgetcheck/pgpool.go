package budgetcheck

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/pgfleet/pgfleet/dbx/budget"
)

// Pgpool-II in the pooler chain. The rule, from the Pgpool-II manual
// (runtime-config-connection.html, num_init_children and max_pool;
// runtime-config-connection-pooling.html): every pgpool process forks
// num_init_children children, each child serves one client at a time and
// caches up to max_pool backend connections (one per database/user pair),
// to every backend. So
//
//	client side, per pgpool pod:  num_init_children (minus reserved_connections,
//	                              which are refused instead of queued)
//	server side, per backend:     num_init_children x max_pool per pgpool pod
//
// and pgpool's own surge counts like any client's. The defaults are
// Pgpool-II's (num_init_children 32, max_pool 4, reserved_connections 0),
// except for the Bitnami image, whose entrypoint sets max_pool 15
// (bitnami/containers bitnami/pgpool/4/debian-12/rootfs/opt/bitnami/scripts/
// pgpool-env.sh: PGPOOL_MAX_POOL="${PGPOOL_MAX_POOL:-15}"; num_init_children
// is left to pgpool.conf's 32). The Bitnami postgresql-ha chart passes
// pgpool.numInitChildren, pgpool.maxPool and pgpool.reservedConnections as
// PGPOOL_NUM_INIT_CHILDREN, PGPOOL_MAX_POOL and PGPOOL_RESERVED_CONNECTIONS,
// and the backends as PGPOOL_BACKEND_NODES
// ("0:pod-0.headless:5432,1:pod-1.headless:5432"; bitnami/charts
// bitnami/postgresql-ha/templates/pgpool/deployment.yaml).
const (
	pgpoolNumInitChildren = 32
	pgpoolMaxPool         = 4
	bitnamiPgpoolMaxPool  = 15
)

// pgpoolEnv maps the Bitnami image's variables to pgpool.conf settings.
var pgpoolEnv = []struct{ env, setting string }{
	{"PGPOOL_NUM_INIT_CHILDREN", "num_init_children"},
	{"PGPOOL_MAX_POOL", "max_pool"},
	{"PGPOOL_RESERVED_CONNECTIONS", "reserved_connections"},
}

var pgpoolConfLine = regexp.MustCompile(`(?m)^\s*(num_init_children|max_pool|reserved_connections|backend_hostname\d+)\s*=\s*'?([^'#\s]*)'?`)

func pgpoolContainer(w *workload) *corev1.Container {
	for _, c := range w.containers() {
		if strings.Contains(strings.ToLower(c.Image), "pgpool") {
			return c
		}
	}
	return nil
}

// findPgpools registers Pgpool-II workloads: each is a pooler database for
// its clients and a client of every backend it names.
func (ix *index) findPgpools() {
	for _, w := range ix.workloads {
		c := pgpoolContainer(w)
		if c == nil || w.annotations[AnnotationIgnore] == "true" || ix.serving[w] {
			continue
		}
		ix.serving[w] = true
		settings, backends := ix.pgpoolConfig(w, c)
		def := known(pgpoolMaxPool, "Pgpool-II default max_pool %d", pgpoolMaxPool)
		if strings.Contains(strings.ToLower(c.Image), "bitnami/") {
			def = known(bitnamiPgpoolMaxPool, "Bitnami pgpool image default PGPOOL_MAX_POOL %d", bitnamiPgpoolMaxPool)
		}
		pods, sc := ix.scaledPods(w)
		d := &Database{ID: w.key(), Kind: Pooler, Location: w.loc,
			SuperuserReserved: known(0, "Pgpool-II reserves no superuser slots")}
		children := ix.pgpoolInt(d, settings, "num_init_children", known(pgpoolNumInitChildren, "Pgpool-II default num_init_children %d", pgpoolNumInitChildren))
		reserved := ix.pgpoolInt(d, settings, "reserved_connections", known(0, "Pgpool-II default reserved_connections 0"))
		maxPool := ix.pgpoolInt(d, settings, "max_pool", def)
		minPods := guaranteedPods(w, sc)
		if minPods.State == Known && children.State == Known && reserved.State == Known {
			d.MaxConnections = known(budget.Mul(children.Value, minPods.Value), "num_init_children %d (%s) x pgpool pods %d (%s)", children.Value, children.Source, minPods.Value, minPods.Source)
			d.Reserved = known(budget.Mul(reserved.Value, minPods.Value), "reserved_connections %d (%s) x pgpool pods %d", reserved.Value, reserved.Source, minPods.Value)
		} else {
			d.MaxConnections = unknown("num_init_children %s x pgpool pods %s", children, minPods)
			d.Reserved = unknown("reserved_connections %s x pgpool pods %s", reserved, minPods)
		}
		ix.addDatabase(d, w.ns, ix.servicesOf(w)...)
		// One server-side client per distinct upstream: each backend gets
		// the whole num_init_children x max_pool, and the servers of one
		// StatefulSet share one budget (each has the same max_connections).
		seen := map[string]bool{}
		for _, b := range backends {
			up, via := ix.resolveHost(b.value, b.secret, w.ns)
			if seen[up.ID] {
				continue
			}
			seen[up.ID] = true
			id := w.key() + "/server-side"
			if len(seen) > 1 {
				id = fmt.Sprintf("%s/server-side-%d", w.key(), len(seen))
			}
			cl := &Client{ID: id, Workload: w.key(), Location: w.loc, Database: up.ID, Via: "backend " + b.source + " -> " + via, Pods: pods,
				Processes: children, Pool: maxPool}
			ix.finish(cl, w, sc)
			ix.clients = append(ix.clients, cl)
		}
		if len(backends) == 0 {
			cl := &Client{ID: w.key() + "/server-side", Workload: w.key(), Location: w.loc, Database: ix.unresolved().ID,
				Via: "no backend in PGPOOL_BACKEND_NODES or a mounted pgpool.conf", Pods: pods, Processes: children, Pool: maxPool}
			ix.finish(cl, w, sc)
			ix.clients = append(ix.clients, cl)
		}
	}
}

func (ix *index) pgpoolInt(d *Database, settings map[string]setting, name string, def Number) Number {
	s, ok := settings[name]
	if !ok {
		return def
	}
	if n, ok := readCount(s.value, 0); ok {
		return known(n, "%s", s.source)
	}
	ix.problems = append(ix.problems, problem{check: "PGF007", loc: d.Location, database: d.ID,
		message: fmt.Sprintf("%s: %s = %s in %s is not %s", d.ID, name, quote(s.value, s.secret), s.source, wantCount(0))})
	return unknown("%s in %s is invalid", name, s.source)
}

// pgpoolConfig reads a mounted pgpool.conf (any ConfigMap key ending in
// .conf) and the Bitnami environment, which wins, and returns the settings
// and the backend hosts.
func (ix *index) pgpoolConfig(w *workload, c *corev1.Container) (map[string]setting, []setting) {
	out := map[string]setting{}
	var backends []setting
	for _, cm := range ix.mountedConfigMaps(w) {
		for _, k := range slices.Sorted(maps.Keys(cm.Data)) {
			if !strings.HasSuffix(k, ".conf") {
				continue
			}
			for _, m := range pgpoolConfLine.FindAllStringSubmatch(cm.Data[k], -1) {
				src := fmt.Sprintf("ConfigMap %s key %s", cm.Name, k)
				if strings.HasPrefix(m[1], "backend_hostname") {
					backends = append(backends, setting{value: m[2], source: src + " " + m[1]})
					continue
				}
				out[m[1]] = setting{value: m[2], source: src}
			}
		}
	}
	vars, _ := ix.containerEnv(w.ns, c)
	for _, e := range pgpoolEnv {
		if v, ok := vars[e.env]; ok && !v.missing {
			out[e.setting] = v.setting()
		}
	}
	if v, ok := vars["PGPOOL_BACKEND_NODES"]; ok && !v.missing {
		backends = nil
		for _, node := range strings.FieldsFunc(v.value, func(r rune) bool { return r == ',' || r == ';' }) {
			// num:host[:port[:weight[:dir[:flag]]]]
			parts := strings.Split(strings.TrimSpace(node), ":")
			if len(parts) >= 2 && parts[1] != "" {
				backends = append(backends, setting{value: parts[1], source: "PGPOOL_BACKEND_NODES node " + parts[0], secret: v.secret})
			}
		}
	}
	return out, backends
}

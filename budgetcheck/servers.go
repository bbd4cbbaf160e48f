package budgetcheck

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// setting is a configuration value (postgresql.conf, pgbouncer.ini, a
// PgBouncer variable) with where it was read. secret names the Secret key it
// came from, "" if none: print it only through [quote].
type setting struct{ value, source, secret string }

// assumeServer sets a database's connection slots from the parameters
// found, and from the Options (reported as assumptions) for the rest. A
// parameter with a value it cannot use is a PGF007 problem and is unknown,
// never replaced by an assumption: the server's verdict is then unknown.
func (ix *index) assumeServer(d *Database, params map[string]setting) {
	slot := func(name string) (Number, bool) {
		v, ok := params[name]
		if !ok {
			return Number{}, false
		}
		if n, ok := readCount(v.value, 0); ok {
			return known(n, "%s in %s", name, v.source), true
		}
		ix.problems = append(ix.problems, problem{check: "PGF007", loc: d.Location, database: d.ID,
			message: fmt.Sprintf("%s: %s = %s in %s is not %s", d.ID, name, quote(v.value, v.secret), v.source, wantCount(0))})
		return unknown("%s in %s is invalid", name, v.source), true
	}
	assumed := func(name, flag string, value int) Number {
		if n, ok := slot(name); ok {
			return n
		}
		d.Assumptions = append(d.Assumptions, fmt.Sprintf("%s not set in the manifests: assumed %d (%s)", name, value, flag))
		return known(value, "assumed %d (%s)", value, flag)
	}
	d.MaxConnections = assumed("max_connections", "--max-connections", ix.opts.maxConnections())
	d.SuperuserReserved = assumed("superuser_reserved_connections", "--superuser-reserved", ix.opts.superuserReserved())
	var ok bool
	if d.Reserved, ok = slot("reserved_connections"); !ok {
		d.Reserved = known(0, "reserved_connections not set: 0 (Postgres default)")
	}
	d.Headroom = ix.opts.Headroom
}

// findServers registers the Postgres servers: operator clusters and
// workloads running a postgres image.
func (ix *index) findServers() {
	for _, o := range ix.crds {
		switch v := o.obj.(type) {
		case *cnpgCluster:
			ns := namespace(v.Namespace)
			d := &Database{ID: ns + "/Cluster/" + v.Name, Kind: Postgres, Location: o.loc}
			ix.assumeServer(d, settings(v.Spec.PostgreSQL.Parameters, "CloudNativePG Cluster spec.postgresql.parameters"))
			ix.addDatabase(d, ns, v.Name+"-rw", v.Name+"-ro", v.Name+"-r")
		case *zalandoPostgresql:
			ns := namespace(v.Namespace)
			d := &Database{ID: ns + "/postgresql/" + v.Name, Kind: Postgres, Location: o.loc}
			ix.assumeServer(d, settings(v.Spec.PostgreSQL.Parameters, "Zalando postgresql spec.postgresql.parameters"))
			ix.addDatabase(d, ns, v.Name, v.Name+"-repl")
		case *crunchyCluster:
			ns := namespace(v.Namespace)
			d := &Database{ID: ns + "/PostgresCluster/" + v.Name, Kind: Postgres, Location: o.loc}
			ix.assumeServer(d, settings(v.Spec.Patroni.DynamicConfiguration.PostgreSQL.Parameters, "Crunchy PostgresCluster spec.patroni.dynamicConfiguration"))
			ix.addDatabase(d, ns, v.Name+"-primary", v.Name+"-replicas", v.Name+"-ha")
		}
	}
	for _, w := range ix.workloads {
		c := ix.postgresContainer(w)
		if c == nil || w.annotations[AnnotationIgnore] == "true" {
			continue
		}
		d := &Database{ID: w.key(), Kind: Postgres, Location: w.loc, workload: w.key()}
		ix.assumeServer(d, ix.postgresParams(w, c))
		ix.servers[w] = serverOf{db: d, container: c.Name}
		ix.addDatabase(d, w.ns, ix.servicesOf(w)...)
	}
}

// postgresContainer returns the container that runs Postgres, or nil (see
// recognize.go).
func (ix *index) postgresContainer(w *workload) *corev1.Container {
	for _, c := range w.containers() {
		if ix.serverReason(w, c) != "" {
			return c
		}
	}
	return nil
}

var confLine = regexp.MustCompile(`(?m)^\s*(max_connections|superuser_reserved_connections|reserved_connections)\s*=?\s*'?(\d+)'?`)

// postgresParams reads a Postgres container's settings: "-c name=value"
// arguments win over a mounted postgresql.conf ConfigMap, which wins over
// the Bitnami image's environment.
func (ix *index) postgresParams(w *workload, c *corev1.Container) map[string]setting {
	params := map[string]setting{}
	vars, _ := ix.containerEnv(w.ns, c)
	if v, ok := vars["POSTGRESQL_MAX_CONNECTIONS"]; ok && !v.missing && v.secret == "" {
		params["max_connections"] = setting{value: v.value, source: v.origin}
	}
	for _, cm := range ix.mountedConfigMaps(w) {
		for _, k := range slices.Sorted(maps.Keys(cm.Data)) {
			for _, m := range confLine.FindAllStringSubmatch(cm.Data[k], -1) {
				params[m[1]] = setting{value: m[2], source: fmt.Sprintf("ConfigMap %s key %s", cm.Name, k)}
			}
		}
	}
	args := append(append([]string{}, c.Command...), c.Args...)
	for i, a := range args {
		kv, ok := strings.CutPrefix(a, "-c")
		if !ok {
			kv, ok = strings.CutPrefix(a, "--")
		}
		if !ok {
			continue
		}
		kv = strings.TrimSpace(kv)
		if kv == "" && i+1 < len(args) {
			kv = args[i+1]
		}
		if k, v, found := strings.Cut(kv, "="); found {
			k = strings.ReplaceAll(strings.TrimSpace(k), "-", "_")
			params[k] = setting{value: v, source: fmt.Sprintf("container %s args of %s %s", c.Name, w.kind, w.name)}
		}
	}
	return params
}

// mountedConfigMaps lists the ConfigMaps of the manifests that the
// workload's pods mount as volumes, in volume order.
func (ix *index) mountedConfigMaps(w *workload) []*corev1.ConfigMap {
	var out []*corev1.ConfigMap
	for _, vol := range w.pod.Volumes {
		if vol.ConfigMap == nil {
			continue
		}
		if cm := ix.configMaps[nsName(w.ns, vol.ConfigMap.Name)]; cm != nil {
			out = append(out, cm)
		}
	}
	return out
}

// settings attaches one source to a parameters map.
func settings[V ~string](m map[string]V, source string) map[string]setting {
	out := make(map[string]setting, len(m))
	for k, v := range m {
		out[k] = setting{value: string(v), source: source}
	}
	return out
}

package budgetcheck

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/pgfleet/pgfleet/dbx/budget"
)

// PgBouncer defaults (pgbouncer.ini), shared with dbx.
const (
	pgbouncerMaxClientConn   = budget.PgBouncerMaxClientConn
	pgbouncerDefaultPoolSize = budget.PgBouncerDefaultPoolSize
)

// bouncerConfig is the part of a PgBouncer configuration the budget needs.
type bouncerConfig struct {
	settings  map[string]setting // [pgbouncer] section and environment
	databases []setting          // [databases] entries' connection strings
	wildcard  bool               // a "*" entry: pairs depend on traffic
	// pairs, when known, is the (db,user) pools that count: 1 for an
	// operator's pooler whose max_db_connections caps all pairs together.
	pairs Number
}

// findPoolers registers PgBouncer workloads and CloudNativePG Poolers: each
// is a database (its client side) and a client of its upstream server.
func (ix *index) findPoolers() {
	for _, o := range ix.crds {
		p, ok := o.obj.(*cnpgPooler)
		if !ok {
			continue
		}
		ns := namespace(p.Namespace)
		replicas := known(1, "spec.instances not set: 1 (CloudNativePG default)")
		if p.Spec.Instances != nil {
			replicas = known(int(*p.Spec.Instances), "spec.instances")
		}
		cfg := bouncerConfig{settings: settings(p.Spec.PgBouncer.Parameters, "Pooler spec.pgbouncer.parameters"), wildcard: true}
		up, via := ix.databases[ns+"/Cluster/"+p.Spec.Cluster.Name], "spec.cluster.name "+p.Spec.Cluster.Name
		if up == nil {
			up, via = ix.resolveHost(p.Spec.Cluster.Name+"-rw", "", ns)
		}
		w := &workload{loc: o.loc, kind: "Pooler", ns: ns, name: p.Name, annotations: p.Annotations, pods: replicas}
		ix.addPooler(w, cfg, up, via, p.Name)
	}
	for _, w := range ix.workloads {
		c := bouncerContainer(w)
		if c == nil || w.annotations[AnnotationIgnore] == "true" {
			continue
		}
		ix.serving[w] = true
		cfg := ix.bouncerConfig(w, c)
		var up *Database
		var via string
		if host, secret := cfg.upstreamHost(); host != "" {
			up, via = ix.resolveHost(host, secret, w.ns)
			shown := host
			if secret != "" {
				shown = "<from " + secret + ">"
			}
			via = "host " + shown + " -> " + via
		} else {
			up, via = ix.unresolved(), "no upstream host in the PgBouncer configuration"
		}
		ix.addPooler(w, cfg, up, via, ix.servicesOf(w)...)
	}
}

func bouncerContainer(w *workload) *corev1.Container {
	for _, c := range w.containers() {
		if strings.Contains(strings.ToLower(c.Image), "pgbouncer") {
			return c
		}
	}
	return nil
}

// addPooler adds the pooler's client side as a database and its server
// side as a client of up.
func (ix *index) addPooler(w *workload, cfg bouncerConfig, up *Database, via string, services ...string) {
	pods, sc := ix.scaledPods(w)
	d := &Database{ID: w.key(), Kind: Pooler, Location: w.loc,
		SuperuserReserved: known(0, "PgBouncer reserves no client slots"), Reserved: known(0, "PgBouncer reserves no client slots")}
	maxClient := cfg.int(ix, d, "max_client_conn", pgbouncerMaxClientConn)
	minPods := guaranteedPods(w, sc)
	if minPods.State == Known && maxClient.State == Known {
		clients := budget.Pooler{MaxClientConn: maxClient.Value, Replicas: minPods.Value}.ClientSide().MaxConnections
		d.MaxConnections = known(clients, "max_client_conn %d (%s) x pooler pods %d (%s)", maxClient.Value, maxClient.Source, minPods.Value, minPods.Source)
	} else {
		d.MaxConnections = unknown("max_client_conn %s x pooler pods %s", maxClient, minPods)
	}
	ix.addDatabase(d, w.ns, services...)

	pool := cfg.int(ix, d, "default_pool_size", pgbouncerDefaultPoolSize)
	reserve := cfg.int(ix, d, "reserve_pool_size", 0)
	cl := &Client{ID: w.key() + "/server-side", Workload: w.key(), Location: w.loc, Database: up.ID, Via: via, Pods: pods}
	if pool.State == Known && reserve.State == Known {
		cl.Pool = known(budget.Add(pool.Value, reserve.Value), "default_pool_size %d (%s) + reserve_pool_size %d (%s)", pool.Value, pool.Source, reserve.Value, reserve.Source)
	} else {
		cl.Pool = unknown("default_pool_size %s + reserve_pool_size %s", pool, reserve)
	}
	cl.Processes = ix.pairs(w, cfg, d)
	d.upstream = cl
	ix.finish(cl, w, sc)
	ix.clients = append(ix.clients, cl)
}

// guaranteedPods is the pooler pods its clients can count on: the
// autoscaler's minimum, else the replicas.
func guaranteedPods(w *workload, sc *scaler) Number {
	switch {
	case sc != nil && sc.bad != "":
		return unknown("%s", sc.bad)
	case sc != nil:
		return known(sc.min, "autoscaler minimum %d", sc.min)
	}
	return w.pods
}

// pairs is the number of (database, user) pools one pooler process keeps.
func (ix *index) pairs(w *workload, cfg bouncerConfig, d *Database) Number {
	if v, ok := w.annotations[AnnotationPoolPairs]; ok {
		if n, ok := readCount(v, 1); ok {
			return known(n, "(db,user) pairs: annotation %s", AnnotationPoolPairs)
		}
		ix.problems = append(ix.problems, problem{check: "PGF007", loc: w.loc, database: d.ID, message: fmt.Sprintf("%s: annotation %s %q: want %s", d.ID, AnnotationPoolPairs, v, wantCount(1))})
		return unknown("(db,user) pairs: annotation %s is invalid", AnnotationPoolPairs)
	}
	if cfg.pairs.State == Known {
		return cfg.pairs
	}
	if cfg.wildcard || len(cfg.databases) == 0 {
		d.Assumptions = append(d.Assumptions, fmt.Sprintf("(db,user) pairs not stated: assumed 1 (annotation %s)", AnnotationPoolPairs))
		return known(1, "(db,user) pairs: assumed 1 (a wildcard database serves any pair; state %s)", AnnotationPoolPairs)
	}
	d.Assumptions = append(d.Assumptions, fmt.Sprintf("one user per [databases] entry: %d (db,user) pairs (annotation %s)", len(cfg.databases), AnnotationPoolPairs))
	return known(len(cfg.databases), "(db,user) pairs: %d [databases] entries x 1 user (assumed)", len(cfg.databases))
}

// int reads an integer setting, or its PgBouncer default.
func (cfg bouncerConfig) int(ix *index, d *Database, name string, def int) Number {
	s, ok := cfg.settings[name]
	if !ok {
		return known(def, "PgBouncer default")
	}
	n, ok := readCount(s.value, 0)
	if !ok {
		ix.problems = append(ix.problems, problem{check: "PGF007", loc: d.Location, database: d.ID, message: fmt.Sprintf("%s: %s = %s in %s is not %s", d.ID, name, quote(s.value, s.secret), s.source, wantCount(0))})
		return unknown("%s in %s is not a number", name, s.source)
	}
	return known(n, "%s", s.source)
}

// upstreamHost is the server PgBouncer connects to, and the Secret key it
// was read from ("" if none).
func (cfg bouncerConfig) upstreamHost() (host, secret string) {
	if s, ok := cfg.settings["host"]; ok {
		return s.value, s.secret
	}
	for _, db := range cfg.databases {
		if d, ok := parseDSN(db.value); ok {
			return d.host, db.secret
		}
	}
	return "", ""
}

// bouncerEnv maps the environment variables of the common PgBouncer images
// (Bitnami's PGBOUNCER_*, edoburu's plain names) to pgbouncer.ini settings.
// It is a list, not a map, so that when a container sets both forms the
// first listed wins every time.
var bouncerEnv = []struct{ env, setting string }{
	{"PGBOUNCER_MAX_CLIENT_CONN", "max_client_conn"}, {"MAX_CLIENT_CONN", "max_client_conn"},
	{"PGBOUNCER_DEFAULT_POOL_SIZE", "default_pool_size"}, {"DEFAULT_POOL_SIZE", "default_pool_size"},
	{"PGBOUNCER_RESERVE_POOL_SIZE", "reserve_pool_size"}, {"RESERVE_POOL_SIZE", "reserve_pool_size"},
	{"POSTGRESQL_HOST", "host"}, {"DB_HOST", "host"},
}

// bouncerConfig reads a PgBouncer container's pgbouncer.ini (from a mounted
// ConfigMap or Secret) and its environment, which wins.
func (ix *index) bouncerConfig(w *workload, c *corev1.Container) bouncerConfig {
	cfg := bouncerConfig{settings: map[string]setting{}}
	for _, vol := range w.pod.Volumes {
		var files map[string]string
		var from, secretName string
		switch {
		case vol.ConfigMap != nil:
			if cm := ix.configMaps[nsName(w.ns, vol.ConfigMap.Name)]; cm != nil {
				files, from = cm.Data, "ConfigMap "+cm.Name
			}
		case vol.Secret != nil:
			if s := ix.secrets[nsName(w.ns, vol.Secret.SecretName)]; s != nil {
				files, from, secretName = secretData(s), "Secret "+s.Name, s.Name
			}
		}
		for _, k := range slices.Sorted(maps.Keys(files)) {
			if strings.HasSuffix(k, ".ini") {
				secret := ""
				if secretName != "" {
					secret = secretRef(w.ns, secretName, k)
				}
				cfg.parseINI(files[k], fmt.Sprintf("%s key %s", from, k), secret)
			}
		}
	}
	vars, _ := ix.containerEnv(w.ns, c)
	for _, e := range slices.Backward(bouncerEnv) { // backward: the first listed is set last
		if v, ok := vars[e.env]; ok && !v.missing {
			cfg.settings[e.setting] = v.setting()
		}
	}
	if v, ok := vars["DATABASE_URL"]; ok {
		cfg.databases = append(cfg.databases, v.setting())
	} else if v, ok := vars["PGBOUNCER_DATABASE"]; ok {
		cfg.databases = append(cfg.databases, v.setting())
	}
	return cfg
}

// parseINI reads the [pgbouncer] settings and [databases] entries of one
// file; secret names the Secret key it was mounted from, "" if none.
func (cfg *bouncerConfig) parseINI(text, source, secret string) {
	section := ""
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == ';' || line[0] == '#' {
			continue
		}
		if strings.HasPrefix(line, "[") {
			section = strings.ToLower(strings.Trim(line, "[]"))
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch section {
		case "pgbouncer":
			cfg.settings[k] = setting{value: v, source: source, secret: secret}
		case "databases":
			if k == "*" {
				cfg.wildcard = true
			}
			cfg.databases = append(cfg.databases, setting{value: v, source: source, secret: secret})
		}
	}
}

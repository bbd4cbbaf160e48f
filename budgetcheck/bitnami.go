package budgetcheck

import (
	"fmt"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// Bitnami's postgresql and postgresql-ha charts, understood from values
// when the chart is a dependency that is not vendored (charts/ is usually
// not committed): the server, and for postgresql-ha Pgpool-II, are modelled
// as the chart would render them, so that the app's clients resolve and
// the budget is checked. Rendered charts need none of this: their
// manifests carry the same settings (a ConfigMap with postgresql.conf,
// POSTGRESQL_MAX_CONNECTIONS, PGPOOL_* variables).
//
// Names follow Bitnami's common.names.fullname (bitnami/charts
// bitnami/common/templates/_names.tpl): fullnameOverride, else the release
// name if it contains the chart name, else "<release>-<chart>".
// Keys read:
//   - postgresql (bitnami/charts bitnami/postgresql/values.yaml):
//     primary.extendedConfiguration and primary.configuration (postgresql.conf
//     text; the chart mounts them from ConfigMaps <fullname>-extended-configuration
//     and <fullname>-configuration), Service <fullname> for the primary and
//     <fullname>-read for read replicas (architecture: replication), which
//     share the primary's settings and are counted on one budget; the
//     retired stable/postgresql chart's postgresqlMaxConnections too.
//   - postgresql-ha (bitnami/charts bitnami/postgresql-ha/values.yaml and
//     templates/postgresql/statefulset.yaml, templates/pgpool/deployment.yaml):
//     postgresql.maxConnections (-> POSTGRESQL_MAX_CONNECTIONS),
//     postgresql.replicaCount (default 3), pgpool.replicaCount (default 1),
//     pgpool.numInitChildren, pgpool.maxPool, pgpool.reservedConnections
//     (-> PGPOOL_*; unset, the image's defaults apply, see pgpool.go);
//     Services <fullname>-pgpool (what apps use) and <fullname>-postgresql.

// bitnamiModel returns manifests modelling a missing Bitnami Postgres
// dependency from the values the parent chart gives it, or nil when the
// dependency is not one of those charts.
func bitnamiModel(chartDir, name, alias, repo, release, ns string, top map[string]any) (Source, bool) {
	if !bitnamiRepo(repo) || (name != "postgresql" && name != "postgresql-ha") {
		return Source{}, false
	}
	key := name
	if alias != "" {
		key = alias
	}
	vals, _ := top[key].(map[string]any)
	full := release + "-" + name
	if strings.Contains(release, name) {
		full = release
	}
	if s, ok := lookup(vals, "fullnameOverride").(string); ok && s != "" {
		full = s
	}
	var docs []string
	src := fmt.Sprintf("values %s.", key)
	if name == "postgresql" {
		conf := fmt.Sprint(orEmpty(lookup(vals, "primary", "configuration"))) + "\n" + fmt.Sprint(orEmpty(lookup(vals, "primary", "extendedConfiguration")))
		if v := lookup(vals, "postgresqlMaxConnections"); v != nil {
			conf += fmt.Sprintf("\nmax_connections = %v", v) // the stable/ chart's key (Bitnami-maintained, before v10)
		}
		docs = append(docs,
			manifest("v1", "ConfigMap", full+"-configuration", ns, map[string]any{"data": map[string]any{"postgresql.conf": conf}}),
			manifest("apps/v1", "StatefulSet", full, ns, statefulSet(full, 1, map[string]any{
				"name": "postgresql", "image": "bitnami/postgresql",
			}, full+"-configuration")),
			service(full, ns, full), service(full+"-read", ns, full))
		src += "primary.configuration/extendedConfiguration"
	} else {
		pg := full + "-postgresql"
		env := []any{}
		if v := lookup(vals, "postgresql", "maxConnections"); v != nil {
			env = append(env, map[string]any{"name": "POSTGRESQL_MAX_CONNECTIONS", "value": fmt.Sprint(v)})
		}
		pgReplicas := intOr(lookup(vals, "postgresql", "replicaCount"), 3)
		docs = append(docs,
			manifest("apps/v1", "StatefulSet", pg, ns, statefulSet(pg, pgReplicas, map[string]any{
				"name": "postgresql", "image": "bitnami/postgresql-repmgr", "env": env,
			}, "")),
			service(pg, ns, pg), headless(pg+"-headless", ns, pg))
		penv := []any{map[string]any{"name": "PGPOOL_BACKEND_NODES", "value": "0:" + pg + "-0." + pg + "-headless:5432"}}
		for _, kv := range [][2]string{{"numInitChildren", "PGPOOL_NUM_INIT_CHILDREN"}, {"maxPool", "PGPOOL_MAX_POOL"}, {"reservedConnections", "PGPOOL_RESERVED_CONNECTIONS"}} {
			if v := lookup(vals, "pgpool", kv[0]); v != nil && fmt.Sprint(v) != "" {
				penv = append(penv, map[string]any{"name": kv[1], "value": fmt.Sprint(v)})
			}
		}
		pp := full + "-pgpool"
		docs = append(docs,
			manifest("apps/v1", "Deployment", pp, ns, statefulSet(pp, intOr(lookup(vals, "pgpool", "replicaCount"), 1), map[string]any{
				"name": "pgpool", "image": "bitnami/pgpool", "env": penv,
			}, "")),
			service(pp, ns, pp))
		src += "postgresql.maxConnections and pgpool.*"
	}
	docs[0] = "# " + key + ": modelled from " + src + "\n" + docs[0]
	return Source{Name: filepath.Join(chartDir, "Chart.yaml") + modelledSuffix, Data: []byte(strings.Join(docs, "---\n"))}, true
}

// bitnamiRepo reports whether a dependency's repository serves Bitnami's
// charts: Bitnami's own (https or OCI), or the retired stable repository,
// whose postgresql chart Bitnami maintained (postgresqlMaxConnections).
func bitnamiRepo(repo string) bool {
	r := strings.ToLower(repo)
	return strings.Contains(r, "bitnami") || strings.Contains(r, "charts.helm.sh/stable") || strings.Contains(r, "kubernetes-charts.storage.googleapis.com")
}

func lookup(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}

func orEmpty(v any) any {
	if v == nil {
		return ""
	}
	return v
}

// intOr reads a count from values (YAML numbers arrive as float64 or
// int64); anything else is left to the model as def.
func intOr(v any, def int) int {
	switch n := v.(type) {
	case float64:
		return int(n)
	case int64:
		return int(n)
	case int:
		return n
	}
	return def
}

func manifest(apiVersion, kind, name, ns string, body map[string]any) string {
	body["apiVersion"], body["kind"] = apiVersion, kind
	body["metadata"] = map[string]any{"name": name, "namespace": ns}
	out, _ := yaml.Marshal(body) // maps of strings, numbers and lists: cannot fail
	return string(out)
}

// statefulSet is the spec both workload kinds share here: replicas, a
// selector on app=<name>, one container, and optionally a mounted ConfigMap.
func statefulSet(name string, replicas int, container map[string]any, configMap string) map[string]any {
	pod := map[string]any{"containers": []any{container}}
	if configMap != "" {
		pod["volumes"] = []any{map[string]any{"name": "config", "configMap": map[string]any{"name": configMap}}}
	}
	return map[string]any{"spec": map[string]any{
		"replicas": replicas,
		"selector": map[string]any{"matchLabels": map[string]any{"app": name}},
		"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": name}}, "spec": pod},
	}}
}

func service(name, ns, app string) string {
	return manifest("v1", "Service", name, ns, map[string]any{"spec": map[string]any{"selector": map[string]any{"app": app}}})
}

func headless(name, ns, app string) string {
	return manifest("v1", "Service", name, ns, map[string]any{"spec": map[string]any{"clusterIP": "None", "selector": map[string]any{"app": app}}})
}

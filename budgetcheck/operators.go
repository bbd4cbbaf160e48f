package budgetcheck

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// What the Postgres operators create that is not in the manifests: the
// Secrets apps read their connection from, and the poolers they run. A
// client that names such a Secret (env secretKeyRef, envFrom, a mounted
// Secret) is linked to the cluster; an operator's pooler is a database for
// its clients and a client of the cluster. The generated Secrets are
// modelled with their non-secret keys only (host, port, dbname, uri
// without password): a password is never invented, and every value read
// from them is still printed as "<value from Secret ...>".

// operatorSecret adds a generated Secret unless the manifests define one
// of that name.
func (ix *index) operatorSecret(ns, name string, data map[string]string) {
	key := nsName(ns, name)
	if ix.secrets[key] != nil {
		return
	}
	ix.secrets[key] = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, StringData: data}
}

// connectionKeys are the keys of a generated Secret for one endpoint.
func connectionKeys(prefix, host, user, db string) map[string]string {
	return map[string]string{
		prefix + "host":     host,
		prefix + "port":     "5432",
		prefix + "uri":      fmt.Sprintf("postgresql://%s@%s:5432/%s", user, host, db),
		prefix + "jdbc-uri": fmt.Sprintf("jdbc:postgresql://%s:5432/%s", host, db),
	}
}

// operatorObjects adds the Secrets and poolers the operators create for the
// clusters of the manifests. It runs after findServers, before clients are
// resolved.
func (ix *index) operatorObjects() {
	for _, o := range ix.crds {
		switch v := o.obj.(type) {
		case *cnpgCluster:
			// CloudNativePG: the "<cluster>-app" Secret (username app,
			// database app; host <cluster>-rw): cloudnative-pg
			// pkg/specs/secrets.go CreateSecret, docs/src/applications.md.
			ns := namespace(v.Namespace)
			data := connectionKeys("", v.Name+"-rw", "app", "app")
			data["username"], data["dbname"] = "app", "app"
			ix.operatorSecret(ns, v.Name+"-app", data)
		case *crunchyCluster:
			ix.crunchyObjects(o, v)
		case *zalandoPostgresql:
			ix.zalandoPoolers(o, v)
		}
	}
}

// crunchyObjects: PGO creates "<cluster>-pguser-<user>" Secrets with
// host (<cluster>-primary.<ns>.svc), port, dbname, user, uri, jdbc-uri and,
// with a pgBouncer proxy, pgbouncer-host (<cluster>-pgbouncer.<ns>.svc),
// pgbouncer-uri...; without spec.users the user and database are named
// after the cluster (CrunchyData/postgres-operator
// docs/content/tutorial/user-management.md, internal/postgres/users.go).
// Its pgBouncer runs spec.proxy.pgBouncer.replicas pods (default 1) with
// PgBouncer's own pool defaults except what config.global sets, and a "*"
// database entry (internal/pgbouncer/config.go).
func (ix *index) crunchyObjects(o object, v *crunchyCluster) {
	ns := namespace(v.Namespace)
	users := []struct{ name, db string }{}
	for _, u := range v.Spec.Users {
		db := u.Name
		if len(u.Databases) > 0 {
			db = u.Databases[0]
		}
		users = append(users, struct{ name, db string }{u.Name, db})
	}
	if len(users) == 0 {
		users = append(users, struct{ name, db string }{v.Name, v.Name})
	}
	primary := fmt.Sprintf("%s-primary.%s.svc", v.Name, ns)
	bouncer := fmt.Sprintf("%s-pgbouncer.%s.svc", v.Name, ns)
	for _, u := range users {
		data := connectionKeys("", primary, u.name, u.db)
		data["user"], data["dbname"] = u.name, u.db
		if v.Spec.Proxy.PgBouncer != nil {
			for k, val := range connectionKeys("pgbouncer-", bouncer, u.name, u.db) {
				data[k] = val
			}
		}
		ix.operatorSecret(ns, fmt.Sprintf("%s-pguser-%s", v.Name, u.name), data)
	}
	pb := v.Spec.Proxy.PgBouncer
	if pb == nil {
		return
	}
	replicas := known(1, "spec.proxy.pgBouncer.replicas not set: 1 (PGO default)")
	if pb.Replicas != nil {
		replicas = known(int(*pb.Replicas), "spec.proxy.pgBouncer.replicas")
	}
	up := ix.databases[ns+"/PostgresCluster/"+v.Name]
	if up == nil {
		up = ix.unresolved()
	}
	w := &workload{loc: o.loc, kind: "PostgresCluster-pgbouncer", ns: ns, name: v.Name, pods: replicas}
	cfg := bouncerConfig{settings: settings(pb.Config.Global, "PostgresCluster spec.proxy.pgBouncer.config.global"), wildcard: true}
	ix.addPooler(w, cfg, up, "PGO pgBouncer of PostgresCluster "+v.Name, v.Name+"-pgbouncer")
}

// Zalando connection pooler defaults (zalando/postgres-operator
// pkg/util/constants/pooler.go: ConnectionPoolerMaxDBConnections 60,
// ConnectionPoolerMaxClientConnections 10000; operator configuration
// connection_pooler_number_of_instances default 2,
// docs/reference/operator_parameters.md).
const (
	zalandoPoolerInstances  = 2
	zalandoPoolerMaxDBConns = 60
	zalandoPoolerMaxClients = 10000
)

// zalandoPoolers: with enableConnectionPooler the operator runs
// "<cluster>-pooler" (and "<cluster>-pooler-repl" with
// enableReplicaConnectionPooler), each numberOfInstances PgBouncer pods
// whose max_db_connections is maxDBConnections / numberOfInstances
// (pkg/cluster/connection_pooler.go getConnectionPoolerEnvVars: MAX_DB_CONN
// caps all (db,user) pairs of a pod together) and max_client_conn 10000.
func (ix *index) zalandoPoolers(o object, v *zalandoPostgresql) {
	ns := namespace(v.Namespace)
	up := ix.databases[ns+"/postgresql/"+v.Name]
	if up == nil {
		up = ix.unresolved()
	}
	inst, instSrc := zalandoPoolerInstances, fmt.Sprintf("numberOfInstances not set: %d (operator default)", zalandoPoolerInstances)
	maxDB, maxSrc := zalandoPoolerMaxDBConns, fmt.Sprintf("maxDBConnections not set: %d (operator default)", zalandoPoolerMaxDBConns)
	if cp := v.Spec.ConnectionPooler; cp != nil {
		if cp.NumberOfInstances != nil {
			inst, instSrc = max(1, int(*cp.NumberOfInstances)), "spec.connectionPooler.numberOfInstances"
		}
		if cp.MaxDBConnections != nil {
			maxDB, maxSrc = int(*cp.MaxDBConnections), "spec.connectionPooler.maxDBConnections"
		}
	}
	for _, role := range []struct {
		suffix string
		on     *bool
	}{{"-pooler", v.Spec.EnableConnectionPooler}, {"-pooler-repl", v.Spec.EnableReplicaConnectionPooler}} {
		if role.on == nil || !*role.on {
			continue
		}
		name := v.Name + role.suffix
		w := &workload{loc: o.loc, kind: "Deployment", ns: ns, name: name, pods: known(inst, "%s", instSrc)}
		cfg := bouncerConfig{
			settings: map[string]setting{
				"max_client_conn":   {value: fmt.Sprint(zalandoPoolerMaxClients), source: "Zalando pooler MAX_CLIENT_CONN"},
				"default_pool_size": {value: fmt.Sprint(maxDB / inst), source: fmt.Sprintf("Zalando pooler MAX_DB_CONN = %s %d / instances %d", maxSrc, maxDB, inst)},
			},
			pairs: known(1, "MAX_DB_CONN caps all (db,user) pairs of a pod together"),
		}
		ix.addPooler(w, cfg, up, "Zalando connection pooler of postgresql "+v.Name, name)
	}
}

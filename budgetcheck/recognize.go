package budgetcheck

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// A Postgres server is recognised by what it runs, not only by an image
// named postgres: a custom image (FROM postgres) has a name of its own.
// In order, a container is a server when:
//  1. its image is Postgres or a known derivative: postgres, postgresql
//     (Bitnami, CloudNativePG's ghcr.io/cloudnative-pg/postgresql), postgis,
//     timescaledb(-ha), pgvector, supabase/postgres, spilo (Zalando),
//     postgresql-repmgr (Bitnami HA), crunchy-postgres (PGO); tools that
//     merely carry "postgres" in their name (exporters, backup agents,
//     operators, poolers) are not;
//  2. it runs postgres: command or args start with "postgres" or
//     "docker-entrypoint.sh postgres" (the official image's entrypoint);
//  3. it sets PGDATA (only a server uses its data directory: Harbor's
//     harbor-db declares no port), or it exposes port 5432 and has the
//     settings a Postgres image reads (POSTGRES_*, POSTGRESQL_* variables);
//  4. it mounts a ConfigMap holding postgresql.conf.
//
// Only that container is the server: the other containers of its pod are
// clients (a sidecar that connects to localhost reaches its own pod's
// server), and the server is never a client of itself even when it loads
// the same ConfigMap (PGHOST, DATABASE_URL) as its clients.

// serverImages are the last path element of an image, without tag,
// naming a Postgres server.
var serverImages = map[string]bool{
	"postgres": true, "postgresql": true, "postgis": true, "timescaledb": true, "timescaledb-ha": true,
	"pgvector": true, "postgresql-repmgr": true, "spilo": true, "crunchy-postgres": true,
	"crunchy-postgres-gis": true, "postgres-gis": true, "pgvecto-rs": true,
}

// notServer are words in an image name that make it a tool, not a server.
var notServer = []string{"exporter", "backup", "operator", "bouncer", "pgpool", "pgadmin", "admin", "migrat", "client", "cli", "wal-g", "barman", "pgbackrest", "proxy"}

func imageName(image string) string {
	img := strings.ToLower(image)
	img, _, _ = strings.Cut(img, "@")
	if i := strings.LastIndexByte(img, '/'); i >= 0 {
		img = img[i+1:]
	}
	name, _, _ := strings.Cut(img, ":")
	return name
}

// serverReason says why a container is a Postgres server, "" if it is not.
func (ix *index) serverReason(w *workload, c *corev1.Container) string {
	name := imageName(c.Image)
	for _, n := range notServer {
		if strings.Contains(name, n) {
			return ""
		}
	}
	switch {
	case serverImages[name], strings.HasPrefix(name, "spilo-"):
		return "image " + c.Image
	}
	args := append(append([]string{}, c.Command...), c.Args...)
	if len(args) > 0 {
		first := args[0]
		if i := strings.LastIndexByte(first, '/'); i >= 0 {
			first = first[i+1:]
		}
		if first == "postgres" || (first == "docker-entrypoint.sh" && len(args) > 1 && args[1] == "postgres") {
			return "command " + strings.Join(args[:min(2, len(args))], " ")
		}
	}
	for _, e := range c.Env {
		if e.Name == "PGDATA" {
			return "PGDATA set"
		}
	}
	exposes := false
	for _, p := range c.Ports {
		exposes = exposes || p.ContainerPort == 5432
	}
	if exposes {
		vars, _ := ix.containerEnv(w.ns, c)
		for k := range vars {
			if k == "PGDATA" || strings.HasPrefix(k, "POSTGRES_") || strings.HasPrefix(k, "POSTGRESQL_") {
				if k != "POSTGRES_HOST" && k != "POSTGRESQL_HOST" {
					return "port 5432 with " + k
				}
			}
		}
	}
	for _, m := range c.VolumeMounts {
		for _, vol := range w.pod.Volumes {
			if vol.Name != m.Name || vol.ConfigMap == nil {
				continue
			}
			if cm := ix.configMaps[nsName(w.ns, vol.ConfigMap.Name)]; cm != nil {
				if _, ok := cm.Data["postgresql.conf"]; ok {
					return "postgresql.conf mounted from ConfigMap " + cm.Name
				}
			}
		}
	}
	return ""
}

// isLocalhost reports whether a host is the pod itself.
func isLocalhost(host string) bool {
	switch strings.ToLower(strings.Trim(host, "[]")) {
	case "localhost", "127.0.0.1", "::1", "localhost.localdomain":
		return true
	}
	return false
}

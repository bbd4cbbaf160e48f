package budgetcheck_test

import (
	"fmt"
	"testing"

	"github.com/pgfleet/pgfleet/budgetcheck"
)

// Each container shape is a Postgres server or not, by what it runs (see
// recognize.go): derived images, postgres commands, port 5432 with
// Postgres settings, a mounted postgresql.conf; tools named after
// Postgres are not servers.
func TestServerRecognition(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, container string
		server          bool
	}{
		{"official", `image: postgres:17`, true},
		{"postgis", `image: postgis/postgis:16-3.4`, true},
		{"timescale", `image: timescale/timescaledb-ha:pg16`, true},
		{"pgvector", `image: pgvector/pgvector:pg16`, true},
		{"supabase", `image: supabase/postgres:15.6.1.146`, true},
		{"bitnami", `image: docker.io/bitnami/postgresql:16.4.0`, true},
		{"cnpg", `image: ghcr.io/cloudnative-pg/postgresql:16.4`, true},
		{"spilo", `image: ghcr.io/zalando/spilo-16:3.3-p1`, true},
		{"digest", `image: postgres@sha256:0123456789abcdef`, true},
		{"command", "image: acme/db:1\n          command: [postgres, -c, max_connections=50]", true},
		{"entrypoint", "image: acme/db:1\n          args: [docker-entrypoint.sh, postgres]", true},
		{"port-env", "image: acme/db:1\n          ports: [{containerPort: 5432}]\n          env: [{name: PGDATA, value: /data}]", true},
		{"pgdata-no-port", "image: goharbor/harbor-db:v2.11.1\n          env: [{name: PGDATA, value: /var/lib/postgresql/data/pgdata}]", true},
		{"conf-mount", "image: acme/db:1\n          volumeMounts: [{name: conf, mountPath: /etc/postgresql}]", true},
		{"exporter", `image: quay.io/prometheuscommunity/postgres-exporter:v0.15.0`, false},
		{"pgbouncer-is-pooler", `image: bitnami/pgbouncer:1.23.1`, false},
		{"client-with-postgres-env", "image: acme/api:1\n          env: [{name: POSTGRES_PASSWORD, value: x}, {name: POSTGRES_HOST, value: db}]", false},
		{"port-without-settings", "image: acme/proxy:1\n          ports: [{containerPort: 5432}]", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			manifest := fmt.Sprintf(`
apiVersion: v1
kind: ConfigMap
metadata: {name: conf}
data: {postgresql.conf: "max_connections = 50"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec:
  replicas: 1
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec:
      volumes: [{name: conf, configMap: {name: conf}}]
      containers:
        - name: c
          %s
`, tc.container)
			r := budgetcheck.Analyze([]budgetcheck.Source{{Name: "in.yaml", Data: []byte(manifest)}}, budgetcheck.Options{})
			found := false
			for _, d := range r.Databases {
				found = found || (d.ID == "default/Deployment/x" && d.Kind == budgetcheck.Postgres)
			}
			if found != tc.server {
				t.Fatalf("server %v, want %v", found, tc.server)
			}
		})
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// stockPostgres is a stock Postgres (usable 97) behind Service db.
func stockPostgres(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../testdata/budgetcheck-fixtures/stock-postgres.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// client is a Deployment reaching db with a stated pool: replicas, maxSurge
// and pool are spliced in as written.
func client(name, replicas, maxSurge, pool string) string {
	return `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ` + name + `}
spec:
  replicas: ` + replicas + `
  strategy: {rollingUpdate: {maxSurge: "` + maxSurge + `"}}
  template:
    metadata: {annotations: {pgfleet.dev/pool-max: "` + pool + `"}}
    spec:
      containers: [{name: app, image: x, env: [{name: PGHOST, value: db}]}]
`
}

func hpa(target, maxReplicas string) string {
	return `---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: ` + target + `}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: ` + target + `}
  maxReplicas: ` + maxReplicas + "\n"
}

// overBudget is 13 pods x 20 = 260 connections against 97: over on its own.
var overBudget = client("big", "10", "25%", "20")

// Regression (issue 8): negative and overflowing numbers made an over-budget
// fleet, or one that cannot be computed, check as OK with exit 0. Each must
// be a PGF007 finding, leave no database ok, and exit 1.
func TestBadNumbersNeverFit(t *testing.T) {
	t.Parallel()
	server := stockPostgres(t)
	bouncer := `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: bouncer}
spec:
  replicas: 1
  selector: {matchLabels: {app: bouncer}}
  template:
    metadata: {labels: {app: bouncer}}
    spec:
      containers:
        - name: pgbouncer
          image: bitnami/pgbouncer:1.22
          env:
            - {name: POSTGRESQL_HOST, value: db}
            - {name: PGBOUNCER_DEFAULT_POOL_SIZE, value: "9223372036854775807"}
            - {name: PGBOUNCER_RESERVE_POOL_SIZE, value: "5"}
`
	for _, tc := range []struct {
		name, input string
		args        []string
	}{
		{"negative replicas next to an over-budget client", server + overBudget + client("neg", "-100", "25%", "10"), nil},
		{"pool-max 2^62", server + client("huge", "1", "25%", "4611686018427387904"), nil},
		{"PgBouncer default_pool_size MaxInt64 plus a reserve pool", server + bouncer, nil},
		{"maxSurge 922337203685477580%", server + client("surge", "1000", "922337203685477580%", "1"), nil},
		{"HPA maxReplicas 0", server + client("small", "1", "25%", "10") + hpa("small", "0"), nil},
		{"HPA maxReplicas negative", server + client("small", "1", "25%", "10") + hpa("small", "-3"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			code := run(context.Background(), append([]string{"--format", "json", "-"}, tc.args...), strings.NewReader(tc.input), &out, &errOut)
			var r struct {
				Databases []struct {
					ID, Verdict string
				}
				Findings []struct{ Check, Message string }
			}
			if err := json.Unmarshal(out.Bytes(), &r); err != nil {
				t.Fatalf("exit %d, %v\n%s\n%s", code, err, out.String(), errOut.String())
			}
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			for _, d := range r.Databases {
				if d.Verdict == "ok" || d.Verdict == "warn" {
					t.Errorf("database %s: verdict %s", d.ID, d.Verdict)
				}
			}
			found := false
			for _, f := range r.Findings {
				found = found || f.Check == "PGF007"
			}
			if !found {
				t.Errorf("no PGF007 finding: %+v", r.Findings)
			}
		})
	}
}

// Regression (issue 8): --headroom 9223372036854775807 was accepted and the
// "raise max_connections to at least N" hint wrapped negative.
func TestHugeFlagsRefused(t *testing.T) {
	t.Parallel()
	server := stockPostgres(t)
	for _, flag := range []string{"--headroom", "--max-connections", "--nodes", "--superuser-reserved"} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), []string{flag, "9223372036854775807", "-"}, strings.NewReader(server), &out, &errOut)
		if code != 2 || !strings.Contains(errOut.String(), flag) {
			t.Errorf("%s MaxInt64: exit %d, stderr %q; want 2 naming the flag", flag, code, errOut.String())
		}
	}
}

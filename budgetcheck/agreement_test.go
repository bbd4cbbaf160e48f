package budgetcheck_test

import (
	"context"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/pgfleet/pgfleet/budgetcheck"
	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/dbx/budget"
	"github.com/pgfleet/pgfleet/dbx/dbxtest"
)

// Static and runtime agree by construction: for each manifest, budgetcheck's
// pool and worst case of every container that declares PGFLEET_* are what
// dbx chooses when it runs with that container's environment against a
// server with the manifest's max_connections.
func TestStaticAndRuntimeAgree(t *testing.T) {
	dbxtest.SkipShort(t)
	dir := "../testdata/agreement"
	for _, name := range []string{"hpa", "surge", "recreate", "statefulset", "processes", "two-services"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name+".yaml")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			r := budgetcheck.Analyze([]budgetcheck.Source{{Name: path, Data: data}}, budgetcheck.Options{})
			for _, f := range r.Findings {
				if f.Check == "PGF010" || f.Check == "PGF007" || f.Check == "PGF008" {
					t.Fatalf("%s: %s %s", name, f.Check, f.Message)
				}
			}
			if len(r.Databases) != 1 || r.Databases[0].MaxConnections.State != budgetcheck.Known {
				t.Fatalf("want one database with a known max_connections, got %+v", r.Databases)
			}
			db := r.Databases[0]
			if len(db.Clients) == 0 {
				t.Fatalf("%s: no clients to compare with dbx", name)
			}
			server := dbxtest.Start(t, dbxtest.Topology{Settings: map[string]string{"max_connections": db.MaxConnections.String()}})
			envs := containerEnvs(t, data)
			for _, cl := range db.Clients {
				env, ok := envs[cl.Workload]
				if !ok {
					t.Fatalf("no env for %s", cl.Workload)
				}
				pool, demand := runDBX(t, server.Primary.DSN(), env)
				t.Logf("%s: budgetcheck pool %s demand %s; dbx pool %d demand %d", cl.ID, cl.Pool, cl.Demand, pool, demand)
				if cl.Pool.State != budgetcheck.Known || cl.Pool.Value != pool {
					t.Errorf("%s: budgetcheck pool %s (%s), dbx chose %d", cl.ID, cl.Pool, cl.Pool.Source, pool)
				}
				if cl.Demand.State != budgetcheck.Known || cl.Demand.Value != demand {
					t.Errorf("%s: budgetcheck worst case %s (%s), dbx's %d", cl.ID, cl.Demand, cl.Explanation, demand)
				}
			}
		})
	}
}

// A declaration that disagrees with the manifest is flagged.
func TestDeclarationMismatchIsFlagged(t *testing.T) {
	t.Parallel()
	path := "../testdata/agreement/mismatch.yaml"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r := budgetcheck.Analyze([]budgetcheck.Source{{Name: path, Data: data}}, budgetcheck.Options{})
	for _, f := range r.Findings {
		if f.Check == "PGF010" && strings.Contains(f.Message, "the manifest allows 25 pods at worst") && strings.Contains(f.Message, "PGFLEET_* declares 13") {
			return
		}
	}
	t.Fatalf("no PGF010 for an HPA above the declared pods: %+v", r.Findings)
}

// containerEnvs reads the literal env of the first container of each
// workload, by budgetcheck's workload key.
func containerEnvs(t *testing.T, data []byte) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var head struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatal(err)
		}
		var name string
		var spec corev1.PodSpec
		switch head.Kind {
		case "Deployment":
			var d appsv1.Deployment
			if err := yaml.Unmarshal([]byte(doc), &d); err != nil {
				t.Fatal(err)
			}
			name, spec = d.Name, d.Spec.Template.Spec
		case "StatefulSet":
			var s appsv1.StatefulSet
			if err := yaml.Unmarshal([]byte(doc), &s); err != nil {
				t.Fatal(err)
			}
			name, spec = s.Name, s.Spec.Template.Spec
		default:
			continue
		}
		env := map[string]string{}
		for _, e := range spec.Containers[0].Env {
			env[e.Name] = e.Value
		}
		out["default/"+head.Kind+"/"+name] = env
	}
	return out
}

// runDBX opens a dbx Cluster with env as its process environment (the
// manifest DSN's pool_* parameters kept, its host replaced by the test
// server) and returns the pool dbx chose and the fleet's worst case it
// verified, capped at the quota as the quota caps it.
func runDBX(t *testing.T, serverDSN string, env map[string]string) (pool, demand int) {
	t.Helper()
	for _, name := range budget.EnvNames {
		t.Setenv(name, env[name]) // "" is unset for budget.ParseEnv
	}
	t.Setenv("POD_NAME", "agreement")
	dsn := serverDSN
	if u, err := url.Parse(env["DATABASE_URL"]); err == nil && u.RawQuery != "" {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		dsn += sep + u.RawQuery
	}
	cfg, err := dbx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := dbx.OpenConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := c.Report()
	if r == nil || r.Demand == nil {
		t.Fatalf("dbx verified no fleet: %v", r)
	}
	demand = r.Demand.Connections
	if q := c.Config().Quota; q > 0 {
		demand = min(demand, q)
	}
	return c.Config().MaxConns, demand
}

package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/dbx/dbxtest"
)

// budget status shows, per service and pod, the quota slots held and the
// backends, as dbx holds them on a real server.
func TestBudgetStatus(t *testing.T) {
	t.Parallel()
	topo := dbxtest.Start(t, dbxtest.Topology{})
	ctx := context.Background()
	open := func(pod string) *dbx.Cluster {
		cfg, err := dbx.ParseConfig(topo.Primary.DSN())
		if err != nil {
			t.Fatal(err)
		}
		cfg.Service, cfg.Pod, cfg.Quota, cfg.MaxConns, cfg.Logger = "orders", pod, 5, 3, slog.New(slog.DiscardHandler)
		c, err := dbx.OpenConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	for pod, n := range map[string]int{"pod-a": 3, "pod-b": 2} {
		c := open(pod)
		var conns []*dbx.Conn
		for range n {
			conn, err := c.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, conn)
		}
		for _, conn := range conns {
			conn.Release()
		}
	}
	r := pgfleet(t, nil, "budget", "status", "--dsn", topo.Primary.DSN(), "--quota", "orders=5:1", "--format", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var st status
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	var orders *serviceStatus
	for _, s := range st.Services {
		if s.Service == "orders" {
			orders = s
		}
	}
	if orders == nil || orders.SlotsHeld != 5 || orders.Quota != 5 || orders.Backends != 5 || len(orders.Pods) != 2 ||
		orders.Pods[0].SlotsHeld != 3 || orders.Pods[1].SlotsHeld != 2 || st.Server.Usable != 97 || st.Server.Headroom > 92 {
		t.Fatalf("status: %s", r.stdout)
	}
	text := pgfleet(t, map[string]string{"DATABASE_URL": topo.Primary.DSN()}, "budget", "status", "--quota", "orders=5:1")
	if text.code != 0 || !strings.Contains(text.stdout, "usable 97 = max_connections 100") || !strings.Contains(text.stdout, "pod-a") {
		t.Fatalf("text status (exit %d): %s%s", text.code, text.stdout, text.stderr)
	}
}

func TestBudgetRoles(t *testing.T) {
	t.Parallel()
	r := pgfleet(t, nil, "budget", "roles", "--quota", "orders=40", "--quota", "billing=20:2", "--role", "billing=Billing App")
	want := "ALTER ROLE \"Billing App\" CONNECTION LIMIT 20; -- service billing\nALTER ROLE \"orders\" CONNECTION LIMIT 40; -- service orders\n"
	if r.code != 0 || r.stdout != want {
		t.Fatalf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, bad := range [][]string{{"budget", "roles"}, {"budget", "roles", "--quota", "orders=0"}, {"budget", "status", "--format", "xml", "--dsn", "x"}, {"budget", "stats"}} {
		if r := pgfleet(t, nil, bad...); r.code != 2 || r.stderr == "" {
			t.Errorf("%v: exit %d, stderr %q", bad, r.code, r.stderr)
		}
	}
}

package dbx_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/dbx/dbxtest"
)

// gather registers c's Collector alone in a pedantic registry (which also
// checks that every series matches its description) and gathers it.
func gather(t *testing.T, c *dbx.Cluster) []*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c.Collector()); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return families
}

// Regression: the second Cluster's Collector was refused with "descriptor ...
// already exists", because every Cluster described the same package-level
// descriptors. A process with a shard or a second database must export both,
// and a dashboard must tell them apart.
func TestTwoClustersRegisterInOneRegistry(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	b := bundle{ctx: ctx, cluster: dbxtest.Start(t, dbxtest.Topology{Shards: 1})}
	// Same service on two servers, names by default from the DSNs.
	orders := b.open(t, func(cfg *dbx.Config) { cfg.MaxConns = 2 })
	shard := b.openDSN(t, b.cluster.Shards[0].DSN(), func(cfg *dbx.Config) { cfg.MaxConns = 3 })
	for _, c := range []*dbx.Cluster{orders, shard} {
		if _, err := c.Exec(ctx, `SELECT 1`); err != nil {
			t.Fatal(err)
		}
	}

	reg := prometheus.NewPedanticRegistry()
	for _, c := range []*dbx.Cluster{orders, shard} {
		if err := reg.Register(c.Collector()); err != nil {
			t.Fatalf("register %s: %v", c.Config().Name, err)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	// cluster label -> series of pgfleet_pool_max_connections and of the
	// query histogram (which is fed per query).
	maxConns, queries := map[string]float64{}, map[string]uint64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["service"] != "orders" || labels["node"] != "primary" {
				t.Errorf("%s series labels %v, want service orders, node primary", f.GetName(), labels)
			}
			switch f.GetName() {
			case "pgfleet_pool_max_connections":
				maxConns[labels["cluster"]] = m.GetGauge().GetValue()
			case "pgfleet_query_duration_seconds":
				queries[labels["cluster"]] = m.GetHistogram().GetSampleCount()
			}
		}
	}
	for _, want := range []struct {
		c    *dbx.Cluster
		node *dbxtest.Node
		max  float64
	}{{orders, b.cluster.Primary, 2}, {shard, b.cluster.Shards[0], 3}} {
		name := want.c.Config().Name
		cc, err := pgconn.ParseConfig(want.node.DSN())
		if err != nil {
			t.Fatal(err)
		}
		if server := cc.Database + "@" + net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port))); name != server {
			t.Errorf("default Name %q, want the server's %q", name, server)
		}
		if maxConns[name] != want.max || queries[name] < 1 {
			t.Errorf("cluster %q: max connections %v, queries %d; want %v and >= 1 (all series: %v %v)",
				name, maxConns[name], queries[name], want.max, maxConns, queries)
		}
	}
	if orders.Config().Name == shard.Config().Name {
		t.Fatalf("both clusters are named %q", orders.Config().Name)
	}
}

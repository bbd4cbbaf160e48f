package shard_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/pgfleet/pgfleet/shard"
)

func TestCollectorShowsImbalanceAndHotKeys(t *testing.T) {
	t.Parallel()
	c := newClock()
	r := testRouter(t, withClock(shard.Config{HotKeys: shard.HotKeyConfig{SampleEvery: 1}}, c))
	hot := shard.Int(99)
	for i := range 30000 {
		c.advance(100 * time.Microsecond)
		r.For(shard.Int(int64(i)))
		r.For(hot) // half of all traffic: its shard takes about 2/3 of the calls
	}
	mfs := gather(t, r)
	for _, mf := range mfs {
		if mf.GetName() == "pgfleet_shard_hot_key_rate" && len(mf.GetMetric()) != shard.MetricHotKeys {
			t.Fatalf("%d hot-key series, want %d", len(mf.GetMetric()), shard.MetricHotKeys)
		}
	}
	for _, mf := range mfs {
		if mf.GetName() == "pgfleet_shard_load_imbalance" {
			// Hot shard: 1/2 + 1/6 of the calls, the mean a third: 2.
			if v := mf.GetMetric()[0].GetGauge().GetValue(); v < 1.8 || v > 2.2 {
				t.Fatalf("imbalance %v, want about 2", v)
			}
			return
		}
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	t.Fatalf("no imbalance gauge among %s", strings.Join(names, ", "))
}

// counterOf returns the value of name{shard=shard} in r's collector, or -1.
func counterOf(t *testing.T, r *shard.Router, name, shardName string) float64 {
	t.Helper()
	mfs := gather(t, r)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "shard" && l.GetValue() == shardName {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return -1
}

func gather(t *testing.T, r *shard.Router) []*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(r.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

package shard_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/shard"
)

// lazyClusters opens Clusters that never connect (VerifyOff, no MinConns):
// enough for routing and detection, which never query.
func lazyClusters(tb testing.TB, names ...string) map[string]*dbx.Cluster {
	tb.Helper()
	out := map[string]*dbx.Cluster{}
	for i, n := range names {
		cfg, err := dbx.ParseConfig(fmt.Sprintf("postgres://u@127.0.0.1:%d/db?sslmode=disable", 1+i))
		if err != nil {
			tb.Fatal(err)
		}
		cfg.Verify, cfg.Name, cfg.Service = dbx.VerifyOff, n, "shardtest"
		c, err := dbx.OpenConfig(context.Background(), cfg)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(c.Close)
		out[n] = c
	}
	return out
}

// clock is a virtual time source for the detector.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }
func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func withClock(cfg shard.Config, c *clock) shard.Config { return shard.WithClock(cfg, c.now) }

// testRouter routes over three lazy shards with an even 1024-bucket map.
func testRouter(tb testing.TB, cfg shard.Config) *shard.Router {
	tb.Helper()
	names := []string{"s0", "s1", "s2"}
	r, err := shard.New(shard.EvenMap(1, 1024, names...), lazyClusters(tb, names...), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

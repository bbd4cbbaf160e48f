package shard

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/pgfleet/pgfleet/dbx"
)

// Router sends each key to the [dbx.Cluster] of the shard that owns the key's
// bucket in the current [Map], and feeds the hot-key detector. It is safe for
// concurrent use; [Router.SetMap] swaps the map atomically under running
// traffic.
type Router struct {
	state    atomic.Pointer[routeState]
	clusters map[string]*dbx.Cluster
	hot      *detector // nil when Config.HotKeys.Disabled

	scatters      atomic.Int64
	scatterMu     sync.Mutex
	scatterFailed map[string]int64 // by shard name: bounded by the shards
}

// routeState is one map version, resolved for the hot path.
type routeState struct {
	m        *Map
	owner    []int32 // bucket -> index in m.Shards
	clusters []*dbx.Cluster
}

// New builds a Router over m, with one open Cluster per shard that m lists
// (extra clusters are an error too: a typo in a name must not route nowhere).
// It validates m; [Router.Ping] checks that every shard answers.
func New(m *Map, clusters map[string]*dbx.Cluster, cfg Config) (*Router, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := &Router{clusters: clusters}
	st, err := r.resolve(m)
	if err != nil {
		return nil, err
	}
	for name := range clusters {
		if !slices.Contains(m.Shards, name) {
			return nil, fmt.Errorf("shard: a Cluster is given for %q, which the map does not list (shards %q)", name, m.Shards)
		}
	}
	r.state.Store(st)
	if !cfg.HotKeys.Disabled {
		r.hot = newDetector(cfg.HotKeys.withDefaults(), r)
	}
	return r, nil
}

func (r *Router) resolve(m *Map) (*routeState, error) {
	owner, err := m.owners()
	if err != nil {
		return nil, err
	}
	st := &routeState{m: m, owner: owner, clusters: make([]*dbx.Cluster, len(m.Shards))}
	for i, name := range m.Shards {
		c := r.clusters[name]
		if c == nil {
			return nil, fmt.Errorf("shard: map version %d lists shard %q but no Cluster is given for it: open one and pass it to New", m.Version, name)
		}
		st.clusters[i] = c
	}
	return st, nil
}

// For returns the Cluster of the shard that owns k's bucket and counts k for
// hot-key detection. It does not allocate for [Int] keys.
func (r *Router) For(k Key) *dbx.Cluster {
	c, _ := r.route(k)
	return c
}

// route resolves k once and counts it for hot-key detection: the shard's
// Cluster and k's bucket come from the same map version, so a declared
// write never declares one map's bucket to another map's shard.
func (r *Router) route(k Key) (*dbx.Cluster, int) {
	st := r.state.Load()
	b := bucketOf(k.h, len(st.owner))
	si := st.owner[b]
	if r.hot != nil {
		r.hot.observe(k, si)
	}
	return st.clusters[si], b
}

// Bucket returns k's logical bucket in the current map.
func (r *Router) Bucket(k Key) int { return bucketOf(k.h, len(r.state.Load().owner)) }

// BucketOf returns k's logical bucket among n buckets: what a Router with an
// n-bucket map computes, for tools that have no Router.
func BucketOf(k Key, n int) int { return bucketOf(k.h, n) }

// ShardOf names the shard that owns k in the current map, without counting
// k as traffic.
func (r *Router) ShardOf(k Key) string {
	st := r.state.Load()
	return st.m.Shards[st.owner[bucketOf(k.h, len(st.owner))]]
}

// Map returns the current map. Treat it as read-only.
func (r *Router) Map() *Map { return r.state.Load().m }

// Cluster returns the named shard's Cluster, or nil.
func (r *Router) Cluster(name string) *dbx.Cluster { return r.clusters[name] }

// Shards names every shard of the current map, in its order.
func (r *Router) Shards() []string { return slices.Clone(r.state.Load().m.Shards) }

// SetMap switches to m when it is valid, newer than the current map (a
// stale reload must never undo a move) and has the same bucket count. The
// switch is atomic: a call to For sees the old map or the new one.
func (r *Router) SetMap(m *Map) error {
	for {
		cur := r.state.Load()
		if m.Version <= cur.m.Version {
			return fmt.Errorf("shard: map version %d is not newer than the current %d", m.Version, cur.m.Version)
		}
		if m.Buckets != cur.m.Buckets {
			return fmt.Errorf("shard: map version %d has %d buckets, the current %d: the bucket count is fixed for a deployment", m.Version, m.Buckets, cur.m.Buckets)
		}
		st, err := r.resolve(m)
		if err != nil {
			return err
		}
		if r.state.CompareAndSwap(cur, st) {
			if r.hot != nil && !slices.Equal(cur.m.Shards, m.Shards) {
				r.hot.resetLoad() // per-shard totals are kept by shard index
			}
			return nil
		}
	}
}

// Ping checks that every shard of the current map answers; the error names
// each one that does not.
func (r *Router) Ping(ctx context.Context) error {
	var errs []error
	for i, c := range r.state.Load().clusters {
		if err := c.Ping(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shard: %s: %w", r.Map().Shards[i], err))
		}
	}
	return errors.Join(errs...)
}

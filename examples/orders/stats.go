package orders

import (
	"context"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"github.com/pgfleet/pgfleet/dbx"
)

// Stats is what /debug/stats serves: what a load test's report needs and
// cannot see from the client side.
type Stats struct {
	Nodes     []NodeStats              `json:"nodes"`
	Fallbacks map[string]int64         `json:"fallbacks"` // reads sent to the primary instead of a replica, by reason (no_replica, causal)
	Endpoints map[string]EndpointStats `json:"endpoints"` // by class name
	Shed      int64                    `json:"shed"`      // 503 answers, all endpoints
	// ServerFull counts 53300 refusals met by any request: the budget and
	// the quota exist to keep it at 0.
	ServerFull int64 `json:"server_full"`
	// NPlusOne counts N+1 patterns the loader detector reported in a
	// request (5 or more queries of one shape): 0 when loaders batch.
	NPlusOne int64       `json:"n_plus_one"`
	HotCache *CacheStats `json:"hot_cache,omitempty"` // nil when the hot cache is off
}

// NodeStats is one database node the service uses.
type NodeStats struct {
	Cluster string `json:"cluster"` // "primary" for the orders database (with its replicas), else the shard's name
	Node    string `json:"node"`    // primary, replica0, replica1, ...
	Role    string `json:"role"`    // primary, replica or shard
	// PoolSize is the node's connection budget now: the gate's limit (with
	// the fleet quota, the slots held plus the one being probed for).
	PoolSize  int   `json:"pool_size"`
	MaxConns  int   `json:"max_conns"` // the pool's ceiling
	InUse     int   `json:"in_use"`    // connections held by requests
	Waiters   int   `json:"waiters"`   // requests queued at the gate
	Open      int   `json:"open"`      // connections open to the server
	Reads     int64 `json:"reads"`     // reads routed here (profile lookups, on a shard)
	QuotaHeld int   `json:"quota_held,omitempty"`
	// Shed and Timeouts are the gate's refusals: requests refused at once
	// (queue full) and after waiting the whole AcquireTimeout.
	Shed     int64 `json:"shed"`
	Timeouts int64 `json:"timeouts"`
}

// EndpointStats counts one endpoint's requests and the database round
// trips made for them (statements and batches, BEGIN and COMMIT included).
type EndpointStats struct {
	Requests          int64            `json:"requests"`
	Queries           int64            `json:"queries"`
	QueriesPerRequest float64          `json:"queries_per_request"`
	Status            map[string]int64 `json:"status"`   // by HTTP status code
	Outcomes          map[string]int64 `json:"outcomes"` // error answers by kind (pool_exhausted, deadline, ...)
	Shed              int64            `json:"shed"`     // 503 answers
}

// CacheStats is the hot cache's work (shard.CacheStats).
type CacheStats struct {
	Hits      int64 `json:"hits"`
	Misses    int64 `json:"misses"`
	Coalesced int64 `json:"coalesced"`
	Loads     int64 `json:"loads"`
	Entries   int   `json:"entries"`
}

// endpointCounters is one endpoint's share of Stats.
type endpointCounters struct {
	requests, queries atomic.Int64
	mu                sync.Mutex
	status            map[int]int64
	outcomes          map[string]int64
}

func (c *endpointCounters) answered(status int, kind string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.status[status]++
	if kind != "" {
		c.outcomes[kind]++
	}
}

func (c *endpointCounters) snapshot() EndpointStats {
	s := EndpointStats{Requests: c.requests.Load(), Queries: c.queries.Load(), Status: map[string]int64{}}
	c.mu.Lock()
	for code, n := range c.status {
		s.Status[strconv.Itoa(code)] = n
	}
	s.Outcomes = maps.Clone(c.outcomes)
	s.Shed = c.status[503]
	c.mu.Unlock()
	if s.Requests > 0 {
		s.QueriesPerRequest = float64(s.Queries) / float64(s.Requests)
	}
	return s
}

// endpoints holds the counters of every class, made once: the maps are
// read without a lock.
type endpoints map[string]*endpointCounters

func newEndpoints() endpoints {
	e := endpoints{}
	for _, c := range Classes() {
		e[c.Name] = &endpointCounters{status: map[int]int64{}, outcomes: map[string]int64{}}
	}
	return e
}

// A pgx tracer (dbx.Config.Tracers) that counts round trips by the class
// their ctx names, which is the endpoint's: loaders' batches carry their
// first caller's values, so their queries count for its endpoint too.
func (e endpoints) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	e.count(ctx)
	return ctx
}

func (e endpoints) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (e endpoints) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	e.count(ctx)
	return ctx
}

func (e endpoints) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (e endpoints) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

func (e endpoints) count(ctx context.Context) {
	if c := e[dbx.ClassOf(ctx)]; c != nil {
		c.queries.Add(1)
	}
}

// Stats returns the service's counters and its nodes' state now.
func (s *Service) Stats() Stats {
	st := Stats{Endpoints: map[string]EndpointStats{}, NPlusOne: s.nPlusOne.Load()}
	for name, c := range s.endpoints {
		e := c.snapshot()
		st.Endpoints[name] = e
		st.Shed += e.Shed
		st.ServerFull += e.Outcomes[kindServerFull]
	}
	reads := s.primary.ReadStats()
	st.Fallbacks = reads.Fallbacks
	for _, n := range s.primary.Nodes() {
		role := "replica"
		if n == s.primary.Primary() {
			role = "primary"
		}
		st.Nodes = append(st.Nodes, nodeStats("primary", role, n, reads.Reads[n.Name()]))
	}
	for _, name := range s.router.Shards() {
		st.Nodes = append(st.Nodes, nodeStats(name, "shard", s.router.Cluster(name).Primary(), s.profiles.routed[name].Load()))
	}
	if s.profiles.cache != nil {
		cs := s.profiles.cache.Stats()
		st.HotCache = &CacheStats{Hits: cs.Hits, Misses: cs.Misses, Coalesced: cs.Coalesced, Loads: cs.Loads, Entries: cs.Entries}
	}
	return st
}

func nodeStats(cluster, role string, n *dbx.Node, reads int64) NodeStats {
	ns := n.Stat()
	q, _ := n.Quota()
	return NodeStats{Cluster: cluster, Node: n.Name(), Role: role, PoolSize: ns.Gate.Limit, MaxConns: ns.MaxConns,
		InUse: ns.Gate.InUse, Waiters: ns.Gate.Waiters, Open: ns.Total, Reads: reads, QuotaHeld: q.Held,
		Shed: ns.Gate.Shed, Timeouts: ns.Gate.Timeouts}
}

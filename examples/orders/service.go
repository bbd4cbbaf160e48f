package orders

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/dbx/budget"
	"github.com/pgfleet/pgfleet/loader"
	"github.com/pgfleet/pgfleet/shard"
)

// Defaults of [Options].
const (
	DefaultService        = "orders"
	DefaultMaxConns       = 4
	DefaultAcquireTimeout = 100 * time.Millisecond
	DefaultCausalWait     = 5 * time.Millisecond
)

// Options configure [Open]. Zero values mean the defaults each field states.
type Options struct {
	// PrimaryDSN is the orders database's primary. It is also the shard
	// catalog (the table of shard maps). Required.
	PrimaryDSN string
	// ReplicaDSNs are the primary's streaming replicas, where the list
	// endpoint reads. Default none: reads on the primary.
	ReplicaDSNs []string
	// Shards maps each shard's name to its DSN: the profile store. The
	// names must be those of the catalog's map; with no map yet, Open saves
	// one over them (InitShardMap). Required: at least one.
	Shards map[string]string

	// Service names the service: application_name "service/pod", the
	// metrics' service label, the fleet quota's lock space. Default "orders".
	Service string
	// Pod names this process in the fleet. Default $POD_NAME, else the host name.
	Pod string
	// Fleet declares the service's pods (replicas, HPA maximum, surge): every
	// pool and the quota are checked against the servers with it at Open.
	// Default {Replicas: 1}.
	Fleet budget.Service
	// MaxConns is this process's pool on each node (the primary, each
	// replica, each shard). Default 4.
	MaxConns int
	// Quota is the fleet quota, on the primary and on each shard: the
	// service's connections to that server across every pod, each holding
	// a slot (dbx Config.Quota); a request that finds none waits at the gate
	// and gets a 503, never a 53300. The server's role needs EXECUTE on
	// pg_try_advisory_lock(int, int) (the default) and, unless it is a
	// superuser, a CONNECTION LIMIT equal to the quota. Default MaxConns x
	// the fleet's worst case pods (replicas or HPA maximum, plus the
	// rollout's surge). Negative: no quota.
	Quota int
	// AcquireTimeout bounds the wait for a connection at each node's gate,
	// the part of a request's budget it may spend queued. Default 100ms.
	AcquireTimeout time.Duration
	// MaxWaiters bounds the requests queued at each gate; beyond it they get
	// a 503 at once. Default dbx's, 4 x the pool.
	MaxWaiters int
	// CausalWait is how long a read carrying a causal token waits for a
	// replica to replay it before reading on the primary. Default 5ms.
	CausalWait time.Duration
	// HotCache serves the profiles of hot customers (those the router's
	// detector marks hot) from memory: shard.Cache, 1s TTL, one shard query
	// per key however many requests miss together. Default off.
	HotCache bool
	// Slowdown makes every endpoint also hold its database connection this
	// long (SELECT pg_sleep): a load test's "the database got slow" switch.
	// Default 0.
	Slowdown time.Duration
	// Logger receives the service's and dbx's events. Default slog.Default().
	Logger *slog.Logger
}

func (o Options) withDefaults() (Options, error) {
	var errs []error
	bad := func(field string, v any, fix string) {
		errs = append(errs, fmt.Errorf("orders: Options.%s = %v: %s", field, v, fix))
	}
	if o.PrimaryDSN == "" {
		bad("PrimaryDSN", `""`, "give the orders database's primary")
	}
	if len(o.Shards) == 0 {
		bad("Shards", "{}", `give every shard's name and DSN, e.g. {"s0": dsn0, "s1": dsn1}`)
	}
	for name, dsn := range o.Shards {
		if name == "" || dsn == "" {
			bad("Shards", fmt.Sprintf("%q: <dsn>", name), "every shard needs a name and a DSN")
		}
	}
	if o.MaxConns < 0 || o.AcquireTimeout < 0 || o.CausalWait < 0 || o.Slowdown < 0 {
		bad("MaxConns/AcquireTimeout/CausalWait/Slowdown", fmt.Sprintf("%d/%v/%v/%v", o.MaxConns, o.AcquireTimeout, o.CausalWait, o.Slowdown), "must be >= 0 (0: the default)")
	}
	if o.Service == "" {
		o.Service = DefaultService
	}
	if o.Fleet == (budget.Service{}) {
		o.Fleet = budget.Service{Replicas: 1}
	}
	if o.MaxConns == 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.Quota == 0 {
		d, err := o.Fleet.Demand()
		if err != nil {
			bad("Fleet", fmt.Sprintf("%+v", o.Fleet), err.Error())
		}
		o.Quota = o.MaxConns * d.Slots()
	}
	if o.AcquireTimeout == 0 {
		o.AcquireTimeout = DefaultAcquireTimeout
	}
	if o.CausalWait == 0 {
		o.CausalWait = DefaultCausalWait
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, errors.Join(errs...)
}

// Service is the orders service: its database clusters, the shard router,
// the repository and its counters. Open one per process; serve
// [Service.Handler]; Close it last.
type Service struct {
	opts     Options
	log      *slog.Logger
	primary  *dbx.Cluster // the orders database: primary and replicas
	router   *shard.Router
	shards   []*dbx.Cluster
	repo     *Repo
	profiles *profiles

	registry  *prometheus.Registry
	http      *httpMetrics
	endpoints endpoints
	nPlusOne  atomic.Int64
}

// Open connects to every database (checking each pool against its server's
// budget, and opening one connection per node), loads the shard map from the catalog on the primary, and
// registers every collector on a registry of the service's own.
func Open(ctx context.Context, opts Options) (_ *Service, err error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Service{opts: o, log: o.Logger, registry: prometheus.NewRegistry(), http: newHTTPMetrics(), endpoints: newEndpoints()}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	loaderMetrics := loader.NewMetrics()
	detector, err := loader.NewDetector(loader.DetectorConfig{Logger: o.Logger, Metrics: loaderMetrics,
		OnDetect: func(context.Context, loader.Detection) { s.nPlusOne.Add(1) }})
	if err != nil {
		return nil, err
	}
	cfg, err := s.clusterConfig(o.PrimaryDSN, "primary", detector)
	if err != nil {
		return nil, err
	}
	cfg.ReadReplicas = dbx.ReplicaConfig{DSNs: o.ReplicaDSNs, CausalWait: o.CausalWait}
	if s.primary, err = dbx.OpenConfig(ctx, cfg); err != nil {
		return nil, err
	}
	clusters := map[string]*dbx.Cluster{}
	for _, name := range slices.Sorted(maps.Keys(o.Shards)) {
		cfg, err := s.clusterConfig(o.Shards[name], name, detector)
		if err != nil {
			return nil, err
		}
		c, err := dbx.OpenConfig(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("orders: shard %s: %w", name, err)
		}
		s.shards = append(s.shards, c)
		clusters[name] = c
	}
	m, err := InitShardMap(ctx, s.primary, slices.Collect(maps.Keys(o.Shards)))
	if err != nil {
		return nil, err
	}
	onHot := func(k shard.HotKey) {
		s.log.Info("orders: hot customer", "customer_id", k.Key.String(), "shard", k.Shard, "share", k.Share)
	}
	if s.router, err = shard.New(m, clusters, shard.Config{HotKeys: shard.HotKeyConfig{OnHot: onHot}}); err != nil {
		return nil, err
	}
	if s.repo, err = NewRepo(s.primary, loader.Config{Metrics: loaderMetrics}, o.Slowdown); err != nil {
		return nil, err
	}
	s.profiles = &profiles{router: s.router, slowdown: o.Slowdown, routed: map[string]*atomic.Int64{}}
	for _, name := range m.Shards {
		s.profiles.routed[name] = new(atomic.Int64)
	}
	collectors := []prometheus.Collector{s.primary.Collector(), s.router.Collector(), loaderMetrics}
	for _, c := range s.shards {
		collectors = append(collectors, c.Collector())
	}
	if o.HotCache {
		if s.profiles.cache, err = shard.NewCache(s.router, s.profiles.cacheLoad, shard.CacheConfig{}); err != nil {
			return nil, err
		}
		collectors = append(collectors, s.profiles.cache.Collector("profiles"))
	}
	for _, c := range collectors {
		if err := s.registry.Register(c); err != nil {
			return nil, fmt.Errorf("orders: register metrics: %w", err)
		}
	}
	if err := s.http.register(s.registry); err != nil {
		return nil, err
	}
	return s, s.warm(ctx)
}

// warm opens a connection on the primary and on every shard (taking its
// fleet-quota slot), so that the first requests, whose budgets are a few
// hundred milliseconds, do not pay for connecting. Replicas need none: Open
// polled each through its pool, and a replica that is down must not keep
// the service from starting (reads fall back until it answers).
func (s *Service) warm(ctx context.Context) error {
	if err := errors.Join(s.primary.Ping(ctx), s.router.Ping(ctx)); err != nil {
		return fmt.Errorf("orders: warm up: %w", err)
	}
	return nil
}

// clusterConfig is the dbx configuration every node shares: the declared
// fleet, a fixed pool under the fleet quota, the latency classes, the
// gate's bounds, and the query tracers (the per-endpoint counter and the
// N+1 detector). name tells the Clusters apart in metrics.
func (s *Service) clusterConfig(dsn, name string, detector *loader.Detector) (*dbx.Config, error) {
	o := s.opts
	cfg, err := dbx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("orders: %s: %w", name, err)
	}
	cfg.Service, cfg.Pod, cfg.Name = o.Service, o.Pod, name
	cfg.Fleet, cfg.MaxConns = o.Fleet, o.MaxConns
	cfg.Quota = max(o.Quota, 0)
	cfg.AcquireTimeout, cfg.MaxWaiters = o.AcquireTimeout, o.MaxWaiters
	cfg.Classes = Classes()
	cfg.Tracers = []pgx.QueryTracer{s.endpoints, detector}
	cfg.Logger = o.Logger
	return cfg, nil
}

// Router is the profile store's shard router (for its map, hot keys and
// clusters).
func (s *Service) Router() *shard.Router { return s.router }

// Primary is the orders database's Cluster (primary and replicas).
func (s *Service) Primary() *dbx.Cluster { return s.primary }

// Close closes the hot cache and every pool. Call it after the HTTP
// server has shut down.
func (s *Service) Close() {
	if s.profiles != nil && s.profiles.cache != nil {
		s.profiles.cache.Close()
	}
	for _, c := range s.shards {
		c.Close()
	}
	if s.primary != nil {
		s.primary.Close()
	}
}

package dbx

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgfleet/pgfleet/dbx/budget"
)

// Defaults. Each is documented on the Config field it fills.
const (
	DefaultMaxConns            = budget.DefaultPoolMax
	DefaultAcquireTimeout      = time.Second
	DefaultMaxConnLifetime     = 30 * time.Minute
	DefaultMaxConnIdleTime     = 5 * time.Minute
	DefaultHealthCheckPeriod   = 30 * time.Second
	DefaultConnectTimeout      = 5 * time.Second
	DefaultStatementTimeout    = 30 * time.Second
	DefaultIdleInTxTimeout     = 60 * time.Second
	DefaultOperationMargin     = 5 * time.Second
	defaultWaitersPerConn      = 4
	defaultLifetimeJitterRatio = 10 // jitter = lifetime / 10
)

// Config configures a [Cluster]. Build it with [ParseConfig] so that pgx
// parses the DSN (its pool_* keys included), then adjust fields. Zero values
// mean "the default", which each field documents.
//
// Two layers, one owner per setting: the fields below are what dbx decides
// (pool size and lifetimes, waits, session timeouts, the fleet); Pool is
// pgxpool's own configuration, for everything else. Where both could say
// something, this Config wins and Pool's value is overwritten at Open.
type Config struct {
	// DSN of the primary, a URL or key=value string. Never logged or put in
	// an error as is: passwords are redacted. Ignored when Pool is set (it
	// then only names the server in messages; default Pool.ConnString()).
	DSN string

	// Pool is the pgxpool configuration pgx parsed from DSN. Reach pgx's
	// hooks and connection settings here: AfterConnect (register custom
	// types, enums, pgvector), PrepareConn, AfterRelease, BeforeClose,
	// BeforeConnect, ShouldPing, MinIdleConns, PingTimeout, and on
	// Pool.ConnConfig TLSConfig, Tracer, DialFunc, DefaultQueryExecMode,
	// RuntimeParams. dbx calls your hooks as pgxpool would and composes your
	// ConnConfig.Tracer with its own (yours runs after dbx's timer, before
	// Tracers).
	//
	// Overwritten from this Config at Open, so set them here instead:
	// MaxConns, MinConns, MaxConnLifetime, MaxConnLifetimeJitter,
	// MaxConnIdleTime, HealthCheckPeriod, ConnConfig.ConnectTimeout and
	// RuntimeParams["application_name"]. statement_timeout and
	// idle_in_transaction_session_timeout in RuntimeParams win over
	// StatementTimeout and IdleInTxTimeout. PingTimeout, when zero, is set to
	// OperationTimeout.
	//
	// Default: parsed from DSN at Open. When you set it, build it with
	// pgxpool.ParseConfig (pgxpool refuses any other); dbx never modifies it,
	// it works on a copy.
	Pool *pgxpool.Config

	// Service names the application in application_name ("service/pod") and
	// in metrics, and its fleet quota's lock space. Default:
	// $PGFLEET_SERVICE, else the executable's name.
	Service string
	// Pod is the instance within the fleet. Default: $POD_NAME (set it from
	// the Downward API), else the host name.
	Pod string

	// MaxConns is this process's pool size: the ceiling of the pgxpool and the
	// gate's initial effective limit (with Quota: the process's cap, at most
	// Quota). Precedence: Share (when set) > MaxConns > the DSN's
	// pool_max_conns > $PGFLEET_POOL_MAX > DefaultMaxConns (5). Never pgx's
	// max(4, NumCPU), which counts the node's cores, not the pod's. At most
	// math.MaxInt32 (pgxpool's limit), and at Open (unless Verify is
	// VerifyOff) at most the server's usable connections.
	MaxConns int
	// MinConns is kept open even when idle. Default: the DSN's pool_min_conns, else 0.
	MinConns int
	// Fleet declares the service's pods (Replicas, MaxReplicas of the HPA,
	// MaxSurge, NoSurge, Processes) for the budget and the startup check.
	// Default: from $PGFLEET_REPLICAS, $PGFLEET_MAX_REPLICAS,
	// $PGFLEET_MAX_SURGE, $PGFLEET_NO_SURGE and $PGFLEET_PROCESSES when the
	// Config declares no Fleet at all (budgetcheck reads the same variables
	// from the manifest); none set: not declared, and the check looks at
	// this process alone.
	Fleet budget.Service
	// Share, when > 0, sizes MaxConns from the live server: per process =
	// floor(usable x Share / (worst-case pods x processes)), with usable read
	// from the server at Open (see package budget). It needs Fleet. In
	// (0, 1]; default $PGFLEET_SHARE, else 0: MaxConns is taken as given.
	Share float64
	// Headroom is left free on the server for operators, migrations and
	// replication when computing usable connections. Default
	// $PGFLEET_HEADROOM, else 0.
	Headroom int

	// AcquireTimeout bounds the wait for a connection when all are in use.
	// Default 1s. After it the call fails with a *SaturationError. Behind a
	// pooler a statement may also wait inside the pooler for a server
	// connection (PgBouncer's query_wait_timeout, 120s by default): that
	// wait is bounded by the caller's deadline and by StatementTimeout,
	// which dbx turns into a per-statement deadline there (see [Pooler]).
	AcquireTimeout time.Duration
	// MaxWaiters bounds the callers queued for a connection; beyond it calls
	// fail at once (load shedding). Default 4 x MaxConns (the final MaxConns,
	// after Share). Negative: never queue, fail at once whenever every
	// connection is in use.
	MaxWaiters int

	// MaxConnLifetime recycles connections (so they move after failovers and
	// DNS changes). Default: the DSN's pool_max_conn_lifetime, else 30m.
	MaxConnLifetime time.Duration
	// MaxConnLifetimeJitter spreads recycling so that a fleet started at once
	// does not reconnect at once. Default: the DSN's value, else lifetime/10.
	MaxConnLifetimeJitter time.Duration
	// MaxConnIdleTime closes idle connections. Default: the DSN's
	// pool_max_conn_idle_time, else 5m.
	MaxConnIdleTime time.Duration
	// HealthCheckPeriod is how often idle connections are checked. Default:
	// the DSN's pool_health_check_period, else 30s.
	HealthCheckPeriod time.Duration
	// ConnectTimeout bounds dialing plus authentication. Default: the DSN's
	// connect_timeout, else 5s.
	ConnectTimeout time.Duration

	// StatementTimeout is set as the session's statement_timeout. Default
	// 30s; negative leaves the server's setting. A DSN or RuntimeParams value
	// wins. Behind a pooler, where a session setting would be refused at
	// connect or leak to other clients, it is a per-statement deadline
	// (a cancel request to the server when it passes).
	StatementTimeout time.Duration
	// IdleInTxTimeout is set as idle_in_transaction_session_timeout, so a
	// forgotten transaction cannot pin a connection forever. Default 60s;
	// negative leaves the server's setting. A DSN value wins. Behind a
	// pooler it is SET LOCAL in dbx's transactions.
	IdleInTxTimeout time.Duration
	// OperationTimeout bounds how long a query, batch or copy whose ctx has
	// no deadline waits for the server's next message. The server ends a
	// statement at statement_timeout, but a server that is stopped, hung or
	// cut off by the network never answers, and without a deadline pgx would
	// wait for as long as that lasts. When the bound passes, the connection
	// is closed and the call fails with an error for which pgconn.Timeout is
	// true and errors.As finds a *[SilenceError]. It limits the silence between two messages, not the whole call,
	// so a long result that keeps streaming is not cut; a silence is cut
	// after at least OperationTimeout and at most 1/32 more (the socket is
	// checked for movement every OperationTimeout/32 while it waits). A ctx
	// with a deadline is never bounded here: its deadline rules.
	//
	// Default: the session's statement timeout (StatementTimeout, or the
	// DSN's statement_timeout) plus DefaultOperationMargin: 35s with the
	// defaults. When the session has no statement timeout (StatementTimeout
	// negative, or statement_timeout=0 in the DSN) there is no default
	// bound. Negative: never bound. Only what pgx traces is bounded
	// (queries, Exec, batches, copies, and the transactions made of them):
	// WaitForNotification (LISTEN) and Ping on [Conn.Conn] wait as long as
	// their ctx allows, as in pgx.
	OperationTimeout time.Duration

	// Pooler declares a connection pooler (PgBouncer) in front of the
	// server; see [Pooler] for its fields, their PGFLEET_POOLER_*
	// variables and what dbx does behind one. Default: none declared, and
	// Open detects one (unless Verify is VerifyOff).
	Pooler Pooler

	// Verify checks the declared fleet against the live server at Open
	// (see [Report]). Default VerifyWarn.
	Verify VerifyPolicy

	// Logger receives events (budget, verification, saturation). Default
	// slog.Default().
	Logger *slog.Logger
	// Tracers are extra pgx query tracers (for example loader's N+1
	// detector), called after dbx's own and after Pool.ConnConfig.Tracer.
	Tracers []pgx.QueryTracer

	// Name tells this Cluster apart from the others of the process (a shard,
	// a second database) in metrics: it is the cluster label of every series,
	// next to service and node. Default: "<database>@<host>:<port>" of the
	// DSN. Two Clusters with the same Service and Name cannot register in one
	// Prometheus registry: give them distinct Names.
	Name string

	// --- Fleet quota (issue 9): see quota.go and package doc ---

	// Quota is the service's connections across its whole fleet, enforced
	// by Postgres: every connection of every pod holds one slot (a session
	// advisory lock in the service's space, [QuotaSpace]) and a connection
	// that finds none is closed before use while callers wait at the gate.
	// MaxConns is then each process's cap. At Open it must fit the server's
	// usable connections. Exclusive with Share. Needs session pooling or
	// direct connections (not PgBouncer transaction mode). Default:
	// $PGFLEET_QUOTA, else 0: no quota.
	Quota int
	// QuotaMin is each process's guaranteed minimum of the quota: with Fleet
	// declared, QuotaMin x worst-case processes slots are reserved for
	// minimums, so a pod that starts while the rest of the quota is taken
	// still gets its minimum at once. Without Fleet the minimum is only the
	// gate's starting limit. Default: $PGFLEET_QUOTA_MIN, else 1 when Quota
	// is set.
	QuotaMin int

	// --- Latency budgets per query class, capacity, fan-out (issue 13:
	// class.go, capacity.go, fanout.go) ---

	// Classes declares the query classes that callers name with WithClass,
	// each with its timeout, P95/P99 targets and objective (see [Class]).
	// Work whose ctx names no class, or an undeclared one, falls in
	// DefaultClass ("default": no timeout, no target, unless declared here).
	// At most 64 (each costs ~70 KB per node). When any class is declared,
	// a ctx that ends during a statement sends the server a cancel request
	// (repeated until the call returns, see class_watch.go) instead of
	// closing the connection, so the server stops the statement and the
	// connection stays in the pool. Default: none.
	Classes []Class

	// CapacityWindow is how often each node reads its load with Little's
	// law (arrival rate x mean hold time) and warns when its pool is too
	// small for the traffic (see [Node.Capacity]). Default 30s; negative:
	// off.
	CapacityWindow time.Duration

	// FanOutLimit bounds the branches of one Cluster.FanOut running at
	// once, so that one request cannot hold the whole pool. Default 4.
	FanOutLimit int

	// Read replicas: the servers [Cluster.Reader] routes to, and how. See
	// [ReplicaConfig]; zero means no replicas, every read on the primary.
	ReadReplicas ReplicaConfig
}

// VerifyPolicy says what Open does when the declared fleet does not fit the
// live server.
type VerifyPolicy int

const (
	VerifyWarn VerifyPolicy = iota // log a warning and go on (default)
	VerifyFail                     // Open fails with a *BudgetError
	VerifyOff                      // do not query the server at Open
)

func (p VerifyPolicy) String() string {
	switch p {
	case VerifyWarn:
		return "warn"
	case VerifyFail:
		return "fail"
	case VerifyOff:
		return "off"
	}
	return fmt.Sprintf("VerifyPolicy(%d)", int(p))
}

// ParseConfig parses a DSN (URL or key=value, with pgx's pool_* keys) into a
// Config: pgx parses it into Pool, and what the DSN states for a field dbx
// owns (pool_max_conns, pool_min_conns, pool_max_conn_lifetime,
// pool_max_conn_lifetime_jitter, pool_max_conn_idle_time,
// pool_health_check_period, connect_timeout) is copied into that field. Other
// fields stay zero ("the default") until Open.
func ParseConfig(connString string) (*Config, error) {
	pc, err := parsePool(connString)
	if err != nil {
		return nil, err
	}
	cfg := &Config{DSN: connString, Pool: pc}
	cfg.adoptDSN()
	return cfg, nil
}

// adoptDSN fills the zero fields dbx owns from what Pool's DSN states. pgxpool
// fills the keys the DSN leaves out with its own defaults (MaxConns
// max(4, NumCPU) among them), so a key counts only when the DSN names it;
// that is read from pgx's parse, never from a parser of dbx's own.
func (c *Config) adoptDSN() {
	pc := c.Pool
	given := map[string]string{}
	if cc, err := pgconn.ParseConfig(pc.ConnString()); err == nil {
		given = cc.RuntimeParams // pgx leaves the pool_* keys there
	}
	has := func(key string) bool { _, ok := given[key]; return ok }
	if has("pool_max_conns") {
		orDefault(&c.MaxConns, int(pc.MaxConns))
	}
	if has("pool_min_conns") {
		orDefault(&c.MinConns, int(pc.MinConns))
	}
	if has("pool_max_conn_lifetime") {
		orDefault(&c.MaxConnLifetime, pc.MaxConnLifetime)
	}
	if has("pool_max_conn_idle_time") {
		orDefault(&c.MaxConnIdleTime, pc.MaxConnIdleTime)
	}
	if has("pool_health_check_period") {
		orDefault(&c.HealthCheckPeriod, pc.HealthCheckPeriod)
	}
	// pgxpool has no default jitter and pgconn no default connect timeout:
	// any value is the DSN's (or PGCONNECT_TIMEOUT's).
	orDefault(&c.MaxConnLifetimeJitter, pc.MaxConnLifetimeJitter)
	orDefault(&c.ConnectTimeout, pc.ConnConfig.ConnectTimeout)
}

// withDefaults returns a copy with every zero field filled, or an error that
// names the field and the fix. A Config literal (not from ParseConfig) gets
// its DSN parsed here; the fields it set win over the DSN's.
func (c Config) withDefaults() (Config, error) {
	if c.Pool == nil {
		pc, err := parsePool(c.DSN)
		if err != nil {
			return c, err
		}
		c.Pool = pc
	}
	if c.Pool.ConnConfig == nil {
		return c, errors.New("dbx: Config.Pool has no ConnConfig: build it with pgxpool.ParseConfig, or leave Pool nil and set DSN")
	}
	if c.DSN == "" {
		c.DSN = c.Pool.ConnString()
	}
	c.adoptDSN()
	exe, _ := os.Executable()
	host, _ := os.Hostname()
	if err := c.fromEnv(); err != nil {
		return c, err
	}
	orDefault(&c.Service, baseName(exe))
	orDefault(&c.Pod, os.Getenv("POD_NAME"))
	orDefault(&c.Pod, host)
	orDefault(&c.MaxConns, DefaultMaxConns)
	orDefault(&c.AcquireTimeout, DefaultAcquireTimeout)
	orDefault(&c.MaxConnLifetime, DefaultMaxConnLifetime)
	orDefault(&c.MaxConnLifetimeJitter, c.MaxConnLifetime/defaultLifetimeJitterRatio)
	orDefault(&c.MaxConnIdleTime, DefaultMaxConnIdleTime)
	orDefault(&c.HealthCheckPeriod, DefaultHealthCheckPeriod)
	orDefault(&c.ConnectTimeout, DefaultConnectTimeout)
	orDefault(&c.StatementTimeout, DefaultStatementTimeout)
	orDefault(&c.IdleInTxTimeout, DefaultIdleInTxTimeout)
	orDefault(&c.OperationTimeout, c.defaultOperationTimeout())
	orDefault(&c.CapacityWindow, DefaultCapacityWindow)
	orDefault(&c.FanOutLimit, DefaultFanOutLimit)
	orDefault(&c.Logger, slog.Default())
	orDefault(&c.Name, defaultName(&c.Pool.ConnConfig.Config))
	c.ReadReplicas = c.ReadReplicas.withDefaults()
	if err := c.Pooler.fromEnv(); err != nil {
		return c, err
	}
	if c.Pooler.active() {
		c.Pooler = c.Pooler.withDefaults()
	}
	return c, c.validate()
}

// orDefault sets *v to d when *v is the zero value.
func orDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		p = p[i+1:]
	}
	if p == "" {
		return "pgfleet"
	}
	return p
}

func (c Config) validate() error {
	var errs []error
	bad := func(field string, v any, fix string) {
		errs = append(errs, fmt.Errorf("dbx: Config.%s = %v: %s", field, v, fix))
	}
	if c.MaxConns < 1 {
		bad("MaxConns", c.MaxConns, "must be >= 1 (or leave 0 for the default, 5)")
	}
	if c.MaxConns > math.MaxInt32 {
		bad("MaxConns", c.MaxConns, "must be at most 2147483647 (pgxpool's MaxConns is an int32), and no server has that many slots: size it from the server's max_connections, or set Share")
	}
	if c.MinConns < 0 || c.MinConns > c.MaxConns {
		bad("MinConns", c.MinConns, fmt.Sprintf("must be between 0 and MaxConns (%d)", c.MaxConns))
	}
	if c.AcquireTimeout < 0 {
		bad("AcquireTimeout", c.AcquireTimeout, "must be > 0 (or 0 for the default, 1s)")
	}
	if c.MaxWaiters > maxWaitersLimit {
		bad("MaxWaiters", c.MaxWaiters, fmt.Sprintf("must be at most %d: a queue that long never drains within AcquireTimeout; shed load instead", maxWaitersLimit))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"MaxConnLifetime", c.MaxConnLifetime}, {"MaxConnLifetimeJitter", c.MaxConnLifetimeJitter}, {"MaxConnIdleTime", c.MaxConnIdleTime}, {"HealthCheckPeriod", c.HealthCheckPeriod}, {"ConnectTimeout", c.ConnectTimeout}} {
		if d.v < 0 {
			bad(d.name, d.v, "must be >= 0")
		}
	}
	if c.Verify < VerifyWarn || c.Verify > VerifyOff {
		bad("Verify", int(c.Verify), "use VerifyWarn, VerifyFail or VerifyOff")
	}
	if c.Share < 0 || c.Share > 1 {
		bad("Share", c.Share, "must be in (0, 1], e.g. 0.25 for a quarter of the server, or 0 to take MaxConns as given")
	}
	if c.Headroom < 0 {
		bad("Headroom", c.Headroom, "must be >= 0")
	}
	if c.Quota < 0 || c.QuotaMin < 0 {
		bad("Quota", fmt.Sprintf("%d (QuotaMin %d)", c.Quota, c.QuotaMin), "must be >= 0 (0: no fleet quota)")
	} else if err := c.checkQuota(); err != nil {
		errs = append(errs, err)
	}
	if c.Share > 0 && c.Fleet.Pods() < 1 {
		bad("Fleet", fmt.Sprintf("{Replicas: %d, MaxReplicas: %d}", c.Fleet.Replicas, c.Fleet.MaxReplicas), "a Share needs the fleet's size: declare Fleet.Replicas or Fleet.MaxReplicas (the HPA ceiling)")
	}
	errs = append(errs, validateClasses(c.Classes))
	if c.FanOutLimit < 0 || c.FanOutLimit > MaxFanOutBranches {
		bad("FanOutLimit", c.FanOutLimit, fmt.Sprintf("must be between 1 and %d (or 0 for the default, %d)", MaxFanOutBranches, DefaultFanOutLimit))
	}
	if c.Share > 0 && c.Verify == VerifyOff {
		bad("Verify", "VerifyOff", "a Share is sized from the server's live max_connections: use VerifyWarn or VerifyFail")
	}
	errs = append(errs, c.ReadReplicas.validate()...)
	errs = append(errs, c.Pooler.validate()...)
	return errors.Join(errs...)
}

// maxWaitersLimit caps MaxWaiters (and its default, 4 x MaxConns) so that
// the arithmetic on it cannot overflow an int on any platform.
const maxWaitersLimit = 1 << 30

// resolveWaiters fills MaxWaiters from the final pool size (after Share), so
// that Cluster.Config reports what the gate uses.
func (c *Config) resolveWaiters() {
	if c.MaxWaiters == 0 {
		c.MaxWaiters = min(defaultWaitersPerConn*c.MaxConns, maxWaitersLimit)
	}
}

// maxWaiters is the gate's queue bound: MaxWaiters, 0 when negative.
func (c Config) maxWaiters() int { return max(c.MaxWaiters, 0) }

// appName is "service/pod", cut to Postgres's 63-byte limit.
func (c Config) appName() string {
	s := c.Service + "/" + c.Pod
	if len(s) > 63 {
		s = s[:63]
	}
	return s
}

// fromEnv fills the zero fields of the fleet declaration from the PGFLEET_*
// variables (package budget's ParseEnv, which budgetcheck reads from the
// manifest too). Fields set in the Config win; the Fleet is taken from the
// environment only when the Config declares none.
func (c *Config) fromEnv() error {
	d, err := budget.ParseEnv(os.LookupEnv)
	if err != nil {
		return fmt.Errorf("dbx: the environment's fleet declaration: %w", err)
	}
	orDefault(&c.Service, d.Service)
	orDefault(&c.MaxConns, d.PoolMax)
	orDefault(&c.Share, d.Share)
	orDefault(&c.Quota, d.Quota)
	orDefault(&c.QuotaMin, d.QuotaMin)
	orDefault(&c.Headroom, d.Headroom)
	if c.Fleet == (budget.Service{}) {
		c.Fleet = d.Fleet
		c.Fleet.Name = ""
	}
	if c.Quota > 0 {
		orDefault(&c.QuotaMin, 1)
	}
	return nil
}

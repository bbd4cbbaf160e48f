package dbx

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgfleet/pgfleet/dbx/budget"
	"github.com/pgfleet/pgfleet/internal/dsn"
)

// Defaults. Each is documented on the Config field it fills.
const (
	DefaultMaxConns            = 5
	DefaultAcquireTimeout      = time.Second
	DefaultMaxConnLifetime     = 30 * time.Minute
	DefaultMaxConnIdleTime     = 5 * time.Minute
	DefaultHealthCheckPeriod   = 30 * time.Second
	DefaultConnectTimeout      = 5 * time.Second
	DefaultStatementTimeout    = 30 * time.Second
	DefaultIdleInTxTimeout     = 60 * time.Second
	defaultWaitersPerConn      = 4
	defaultLifetimeJitterRatio = 10 // jitter = lifetime / 10
)

// Config configures a [Cluster]. Build it with [ParseConfig] so that the DSN's
// pool_* keys are read, then adjust fields. Zero values mean "the default",
// which each field documents.
type Config struct {
	// DSN of the primary, a URL or key=value string. Never logged or put in
	// an error as is: passwords are redacted.
	DSN string

	// Service names the application in application_name ("service/pod") and
	// in metrics. Default: $PGFLEET_SERVICE, else the executable's name.
	Service string
	// Pod is the instance within the fleet. Default: $POD_NAME (set it from
	// the Downward API), else the host name.
	Pod string

	// MaxConns is this process's pool size: the ceiling of the pgxpool and the
	// gate's initial effective limit. Precedence: Share (when set) >
	// MaxConns > the DSN's pool_max_conns > DefaultMaxConns (5). Never pgx's
	// max(4, NumCPU), which counts the node's cores, not the pod's.
	MaxConns int
	// MinConns is kept open even when idle. Default: the DSN's pool_min_conns, else 0.
	MinConns int
	// Fleet declares the service's pods (Replicas, MaxReplicas of the HPA,
	// MaxSurge, NoSurge, Processes) for the budget and the startup check.
	// Zero: not declared, and the check looks at this process alone.
	Fleet budget.Service
	// Share, when > 0, sizes MaxConns from the live server: per process =
	// floor(usable x Share / (worst-case pods x processes)), with usable read
	// from the server at Open (see package budget). It needs Fleet. In
	// (0, 1]; 0 means MaxConns is taken as given.
	Share float64
	// Headroom is left free on the server for operators, migrations and
	// replication when computing usable connections. Default 0.
	Headroom int

	// AcquireTimeout bounds the wait for a connection when all are in use.
	// Default 1s. After it the call fails with a *SaturationError.
	AcquireTimeout time.Duration
	// MaxWaiters bounds the callers queued for a connection; beyond it calls
	// fail at once (load shedding). Default 4 x MaxConns. Negative: never
	// queue, fail at once whenever every connection is in use.
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
	// wins.
	StatementTimeout time.Duration
	// IdleInTxTimeout is set as idle_in_transaction_session_timeout, so a
	// forgotten transaction cannot pin a connection forever. Default 60s;
	// negative leaves the server's setting. A DSN value wins.
	IdleInTxTimeout time.Duration

	// Verify checks the declared fleet against the live server at Open
	// (see [Report]). Default VerifyWarn.
	Verify VerifyPolicy

	// Logger receives events (budget, verification, saturation). Default
	// slog.Default().
	Logger *slog.Logger
	// Tracers are extra pgx query tracers (for example loader's N+1
	// detector), called after dbx's own.
	Tracers []pgx.QueryTracer

	// Name tells this Cluster apart from the others of the process (a shard,
	// a second database) in metrics: it is the cluster label of every series,
	// next to service and node. Default: "<database>@<host>:<port>" of the
	// DSN. Two Clusters with the same Service and Name cannot register in one
	// Prometheus registry: give them distinct Names.
	Name string

	pool *pgxpool.Config // parsed DSN
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
// Config with defaults filled in.
func ParseConfig(connString string) (*Config, error) {
	pc, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("dbx: parse DSN %s: %w", dsn.Redact(connString), err)
	}
	cfg := &Config{DSN: connString, pool: pc}
	// pgxpool fills MaxConns with max(4, NumCPU) when the DSN says nothing;
	// take only what the DSN states.
	keys := dsnKeys(connString)
	if _, ok := keys["pool_max_conns"]; ok {
		cfg.MaxConns = int(pc.MaxConns)
	}
	if _, ok := keys["pool_min_conns"]; ok {
		cfg.MinConns = int(pc.MinConns)
	}
	if _, ok := keys["pool_max_conn_lifetime"]; ok {
		cfg.MaxConnLifetime = pc.MaxConnLifetime
	}
	if _, ok := keys["pool_max_conn_lifetime_jitter"]; ok {
		cfg.MaxConnLifetimeJitter = pc.MaxConnLifetimeJitter
	}
	if _, ok := keys["pool_max_conn_idle_time"]; ok {
		cfg.MaxConnIdleTime = pc.MaxConnIdleTime
	}
	if _, ok := keys["pool_health_check_period"]; ok {
		cfg.HealthCheckPeriod = pc.HealthCheckPeriod
	}
	if _, ok := keys["connect_timeout"]; ok {
		cfg.ConnectTimeout = pc.ConnConfig.ConnectTimeout
	}
	return cfg, nil
}

// dsnKeys lists the keys present in a URL's query or a key=value string.
func dsnKeys(s string) map[string]struct{} {
	keys := map[string]struct{}{}
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		_, query, _ := strings.Cut(s, "?")
		for _, kv := range strings.Split(query, "&") {
			k, _, _ := strings.Cut(kv, "=")
			keys[k] = struct{}{}
		}
		return keys
	}
	for _, f := range strings.Fields(s) {
		if k, _, ok := strings.Cut(f, "="); ok {
			keys[strings.TrimSpace(k)] = struct{}{}
		}
	}
	return keys
}

// withDefaults returns a copy with every zero field filled, or an error that
// names the field and the fix. A Config literal (not from ParseConfig) gets
// its DSN parsed here; the fields it set win over the DSN's.
func (c Config) withDefaults() (Config, error) {
	if c.pool == nil {
		parsed, err := ParseConfig(c.DSN)
		if err != nil {
			return c, err
		}
		c.pool = parsed.pool
		orDefault(&c.MaxConns, parsed.MaxConns)
		orDefault(&c.MinConns, parsed.MinConns)
		orDefault(&c.MaxConnLifetime, parsed.MaxConnLifetime)
		orDefault(&c.MaxConnLifetimeJitter, parsed.MaxConnLifetimeJitter)
		orDefault(&c.MaxConnIdleTime, parsed.MaxConnIdleTime)
		orDefault(&c.HealthCheckPeriod, parsed.HealthCheckPeriod)
		orDefault(&c.ConnectTimeout, parsed.ConnectTimeout)
	}
	exe, _ := os.Executable()
	host, _ := os.Hostname()
	orDefault(&c.Service, os.Getenv("PGFLEET_SERVICE"))
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
	orDefault(&c.Logger, slog.Default())
	orDefault(&c.Name, defaultName(&c.pool.ConnConfig.Config))
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
	if c.MinConns < 0 || c.MinConns > c.MaxConns {
		bad("MinConns", c.MinConns, fmt.Sprintf("must be between 0 and MaxConns (%d)", c.MaxConns))
	}
	if c.AcquireTimeout < 0 {
		bad("AcquireTimeout", c.AcquireTimeout, "must be > 0 (or 0 for the default, 1s)")
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
	if c.Share > 0 && c.Fleet.Pods() < 1 {
		bad("Fleet", fmt.Sprintf("{Replicas: %d, MaxReplicas: %d}", c.Fleet.Replicas, c.Fleet.MaxReplicas), "a Share needs the fleet's size: declare Fleet.Replicas or Fleet.MaxReplicas (the HPA ceiling)")
	}
	if c.Share > 0 && c.Verify == VerifyOff {
		bad("Verify", "VerifyOff", "a Share is sized from the server's live max_connections: use VerifyWarn or VerifyFail")
	}
	return errors.Join(errs...)
}

// maxWaiters resolves MaxWaiters against the pool size.
func (c Config) maxWaiters() int {
	switch {
	case c.MaxWaiters < 0:
		return 0
	case c.MaxWaiters == 0:
		return defaultWaitersPerConn * c.MaxConns
	}
	return c.MaxWaiters
}

// appName is "service/pod", cut to Postgres's 63-byte limit.
func (c Config) appName() string {
	s := c.Service + "/" + c.Pod
	if len(s) > 63 {
		s = s[:63]
	}
	return s
}

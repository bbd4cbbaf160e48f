package dbx

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgfleet/pgfleet/internal/dsn"
)

// Cluster is a budgeted data layer over a Postgres primary and its read
// replicas (Config.ReadReplicas). Its methods run on the primary and have
// pgx's signatures, so code written for *pgxpool.Pool moves over with small
// changes; reads meant for the replicas go through [Cluster.Reader]. Every
// call passes its node's gate first (bounded wait, bounded queue, runtime
// limit).
type Cluster struct {
	cfg     Config
	primary *Node
	metrics *metrics
	report  *Report
	secrets []string // what no error may show: see scrub
	classes *classRecord
	capMet  *capacityMetrics

	replicas *replicaSet // read replicas and the read router (replica.go)
}

// Open opens a Cluster from a DSN (URL or key=value; pgx's pool_* keys are
// honoured) with every other setting at its default.
func Open(ctx context.Context, connString string) (*Cluster, error) {
	cfg, err := ParseConfig(connString)
	if err != nil {
		return nil, err
	}
	return OpenConfig(ctx, cfg)
}

// OpenConfig opens a Cluster. Unless cfg.Verify is VerifyOff it first reads
// the server's limits over one connection, sizes the pool from cfg.Share when
// set, and checks the declared fleet (see [Report]). Connections are opened
// lazily after that (cfg.MinConns eagerly).
func OpenConfig(ctx context.Context, cfg *Config) (*Cluster, error) {
	if cfg == nil {
		return nil, errors.New("dbx: OpenConfig: nil Config")
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	cl := &Cluster{cfg: c, metrics: newMetrics(c.Service, c.Name), secrets: secretsOf(c), classes: newClassRecord(c.Classes, c.Service, c.Name), capMet: newCapacityMetrics(c.Service, c.Name)}
	if c.Verify != VerifyOff {
		if err := cl.verify(ctx); err != nil {
			return nil, scrub(err, cl.secrets)
		}
	}
	cl.cfg.resolveWaiters()
	if err := cl.checkExecMode(); err != nil {
		return nil, err
	}
	cl.primary, err = cl.openNode(ctx, "primary", c.DSN, c.Pool, cl.cfg.MaxConns)
	if err != nil {
		return nil, scrub(err, cl.secrets)
	}
	if err := cl.openReplicas(ctx); err != nil {
		cl.Close()
		return nil, scrub(err, cl.secrets)
	}
	return cl, nil
}

// verify inspects the primary and applies the verification policy.
func (cl *Cluster) verify(ctx context.Context) error {
	c := &cl.cfg
	if _, ok := ctx.Deadline(); !ok && c.OperationTimeout > 0 {
		// The probe has no tracer to arm its bound: bound the whole of it.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.ConnectTimeout+c.OperationTimeout)
		defer cancel()
	}
	// The probe sends no session settings: a pooler would refuse them
	// before dbx could find out that it is one.
	probe, err := connectProbe(ctx, cl.probeConnConfig(c.Pool.ConnConfig))
	if err != nil {
		return fmt.Errorf("dbx: connect to primary (%s) to verify the budget: %w", dsn.Redact(c.DSN), classify("primary", err))
	}
	defer probe.Close(context.WithoutCancel(ctx))
	announced, backend, err := detectPooler(ctx, probe)
	if err != nil {
		return err
	}
	r, err := inspect(ctx, probe, "primary", c.Service, c.Headroom)
	if err != nil {
		return err
	}
	cl.notePooler(r, announced, backend)
	if err := r.assess(*c); err != nil {
		return err
	}
	if err := quotaPlan(ctx, probe, *c, r); err != nil {
		return err
	}
	if usable := r.Server.Usable(); r.Pooler == nil && c.Share == 0 && c.MaxConns > usable {
		return &BudgetError{Report: r, Err: fmt.Errorf("Config.MaxConns = %d exceeds the %d connections the server can give (%s): lower MaxConns, or set Share and Fleet to size the pool from the server", c.MaxConns, max(usable, 0), r.Server.Explain())}
	}
	c.MaxConns = r.PerProcess
	if c.Quota > 0 {
		c.MaxConns = min(c.MaxConns, c.Quota) // no process can hold more than the quota
	}
	if c.MinConns > c.MaxConns {
		c.MinConns = c.MaxConns
	}
	cl.report = r
	switch {
	case r.OK():
		// Debug: a fleet opens clusters at every start and on every
		// shard; a line each would be noise. Report() keeps it.
		c.Logger.Debug("dbx: budget verified", "report", r.String())
	case c.Verify == VerifyFail:
		return &BudgetError{Report: r}
	default:
		c.Logger.Warn("dbx: the fleet does not fit the server", "report", r.String())
	}
	return nil
}

// connConfig applies dbx's session settings to a pgx connection config:
// the probe's, plus the timeouts as startup parameters unless behind a
// pooler (see Cluster.adaptConnConfig).
func (cl *Cluster) connConfig(base *pgx.ConnConfig) *pgx.ConnConfig {
	cc := cl.probeConnConfig(base)
	if !cl.cfg.Pooler.active() {
		rp := cc.RuntimeParams
		setIfAbsent := func(key string, d interface{ Milliseconds() int64 }) {
			if _, ok := rp[key]; !ok && d.Milliseconds() > 0 {
				rp[key] = strconv.FormatInt(d.Milliseconds(), 10)
			}
		}
		setIfAbsent("statement_timeout", cl.cfg.StatementTimeout)
		setIfAbsent("idle_in_transaction_session_timeout", cl.cfg.IdleInTxTimeout)
	}
	cl.watchClasses(cc)
	return cc
}

// probeConnConfig is the verification probe's config: application_name and
// the bounds, no session settings.
func (cl *Cluster) probeConnConfig(base *pgx.ConnConfig) *pgx.ConnConfig {
	cc := base.Copy()
	cc.ConnectTimeout = cl.cfg.ConnectTimeout
	if cl.cfg.OperationTimeout > 0 && cc.DialFunc != nil {
		cc.DialFunc = boundDial(cc.DialFunc, cl.cfg.OperationTimeout)
	}
	if cc.RuntimeParams == nil {
		cc.RuntimeParams = map[string]string{}
	}
	cc.RuntimeParams["application_name"] = cl.cfg.appName()
	return cc
}

func (cl *Cluster) openNode(ctx context.Context, name, dsnText string, base *pgxpool.Config, maxConns int) (*Node, error) {
	c := cl.cfg
	pc := base.Copy()
	pc.ConnConfig = cl.connConfig(base.ConnConfig)
	extra := c.Tracers
	if user := base.ConnConfig.Tracer; user != nil {
		extra = append([]pgx.QueryTracer{user}, extra...)
	}
	pc.ConnConfig.Tracer = tracerFor(cl.metrics, name, cl.statementDeadline(), extra)
	cl.adaptConnConfig(pc.ConnConfig)
	if pc.PingTimeout == 0 && c.OperationTimeout > 0 {
		// pgxpool pings a connection idle for over a second before handing it
		// out, with the acquirer's ctx: without this, unbounded.
		pc.PingTimeout = c.OperationTimeout
	}
	pc.MaxConns = int32(maxConns)
	pc.MinConns = int32(c.MinConns)
	pc.MaxConnLifetime = c.MaxConnLifetime
	pc.MaxConnLifetimeJitter = c.MaxConnLifetimeJitter
	pc.MaxConnIdleTime = c.MaxConnIdleTime
	pc.HealthCheckPeriod = c.HealthCheckPeriod
	g := newGate(name, maxConns, c.maxWaiters(), c.AcquireTimeout, cl.metrics.observeAcquire(name))
	var q *quota
	// The fleet quota is the primary's; replicas are budgeted by their own
	// server (Share or MaxConns), not yet by a quota of their own.
	if c.Quota > 0 && name == "primary" {
		q = newQuota(name, c, g)
		q.hook(pc)
	}
	pool, err := newPool(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("dbx: open %s pool (%s): %w", name, dsn.Redact(dsnText), err)
	}
	if q != nil {
		go q.run(pool)
	}
	stats := cl.classes.forNode(name)
	return &Node{name: name, pool: pool, log: c.Logger, secrets: cl.secrets, gate: g, quota: q,
		classes: cl.classes.set, stats: stats, defStats: stats[cl.classes.set.def], capacity: newCapacityState(c.CapacityWindow)}, nil
}

// newPool is pgxpool.NewWithConfig, which panics on a Config that
// pgxpool.ParseConfig did not build; bad input gets an error instead.
func newPool(ctx context.Context, pc *pgxpool.Config) (pool *pgxpool.Pool, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("dbx: Config.Pool: %v: build it with pgxpool.ParseConfig, or leave Pool nil and set DSN", r)
		}
	}()
	return pgxpool.NewWithConfig(ctx, pc)
}

// connectProbe is pgx.ConnectConfig, which panics on a ConnConfig that
// pgx.ParseConfig did not build.
func connectProbe(ctx context.Context, cc *pgx.ConnConfig) (conn *pgx.Conn, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("dbx: Config.Pool.ConnConfig: %v: build Pool with pgxpool.ParseConfig, or leave Pool nil and set DSN", r)
		}
	}()
	return pgx.ConnectConfig(ctx, cc)
}

// Close closes every pool, waiting for acquired connections to be released.
// It is safe to call more than once (as pgxpool's Close is).
func (cl *Cluster) Close() {
	if cl.replicas != nil {
		cl.replicas.close()
	}
	for _, n := range cl.Nodes() {
		n.pool.Close()
		if n.quota != nil {
			n.quota.close()
		}
	}
}

// Primary is the primary's node.
func (cl *Cluster) Primary() *Node { return cl.primary }

// Nodes lists every node, primary first, then the read replicas.
func (cl *Cluster) Nodes() []*Node {
	nodes := []*Node{cl.primary}
	if cl.replicas != nil {
		for _, r := range cl.replicas.replicas {
			nodes = append(nodes, r.node)
		}
	}
	return nodes
}

// Report is what Open learned from the server; nil with VerifyOff.
func (cl *Cluster) Report() *Report { return cl.report }

// Config returns the effective configuration: every default filled in with
// the value in force (MaxConns after Share, MaxWaiters as the gate uses it,
// OperationTimeout -1 when unbounded). Pool is the one given (or parsed),
// not the copy dbx adjusted.
func (cl *Cluster) Config() Config { return cl.cfg }

// AppName is the application_name this process's connections carry.
func (cl *Cluster) AppName() string { return cl.cfg.appName() }

// Collector exports the cluster's metrics; register it on your registry.
// Every series carries the labels service (Config.Service), cluster
// (Config.Name) and node, so the Collectors of several Clusters register
// side by side.
func (cl *Cluster) Collector() prometheus.Collector { return collector{cl} }

// Exec runs sql on the primary.
func (cl *Cluster) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return cl.primary.exec(ctx, sql, args...)
}

// Query runs sql on the primary. The rows hold a connection until closed
// or read to the end.
func (cl *Cluster) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return cl.primary.query(ctx, sql, args...)
}

// QueryRow runs sql on the primary; errors are deferred to Scan.
func (cl *Cluster) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return cl.primary.queryRow(ctx, sql, args...)
}

// SendBatch sends a batch to the primary. Close the results.
func (cl *Cluster) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return cl.primary.sendBatch(ctx, b)
}

// Begin starts a transaction on the primary. It holds a connection until
// Commit or Rollback; prefer [Cluster.Tx].
func (cl *Cluster) Begin(ctx context.Context) (pgx.Tx, error) {
	return cl.primary.beginTx(ctx, cl.txOptions(pgx.TxOptions{}))
}

// BeginTx is Begin with options.
func (cl *Cluster) BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error) {
	return cl.primary.beginTx(ctx, cl.txOptions(opts))
}

// CopyFrom bulk-loads rows into the primary.
func (cl *Cluster) CopyFrom(ctx context.Context, table pgx.Identifier, cols []string, src pgx.CopyFromSource) (int64, error) {
	return cl.primary.copyFrom(ctx, table, cols, src)
}

// Acquire takes a connection of the primary for several statements. Release
// it. Behind a transaction-mode pooler it is not a session (see [Pooler]).
func (cl *Cluster) Acquire(ctx context.Context) (*Conn, error) {
	return cl.primary.acquire(ctx)
}

// Ping checks that the primary answers.
func (cl *Cluster) Ping(ctx context.Context) error {
	_, err := cl.primary.exec(ctx, "-- ping")
	return err
}

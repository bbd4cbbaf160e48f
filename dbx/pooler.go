package dbx

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgfleet/pgfleet/dbx/budget"
)

// Pooler modes (PgBouncer's pool_mode).
const (
	PoolerSession     = "session"
	PoolerTransaction = "transaction"
)

// Pooler declares a connection pooler (PgBouncer or a managed equivalent)
// between this process and Postgres. Every field may also come from the
// environment (PGFLEET_POOLER_MODE, PGFLEET_POOLER_POOL_SIZE,
// PGFLEET_POOLER_PAIRS, PGFLEET_POOLER_MAX_CLIENT_CONN,
// PGFLEET_POOLER_REPLICAS, PGFLEET_POOLER_PREPARED_STATEMENTS); a field set
// in Config wins.
//
// Behind a pooler dbx sends no startup parameters the pooler would refuse
// (PgBouncer answers "unsupported startup parameter"), enforces
// StatementTimeout as a per-statement deadline (sent to the server as a
// cancel request, so it also bounds the time a statement waits inside the
// pooler for a server connection), and IdleInTxTimeout as SET LOCAL
// idle_in_transaction_session_timeout in dbx's own transactions, which can
// never leak to another client; it runs verification with the simple
// protocol and uses a query mode that is correct when consecutive
// statements land on different server connections. The per-statement
// deadline covers Exec, Query and QueryRow (in and out of transactions);
// SendBatch and CopyFrom keep Config.OperationTimeout's bound. dbx sets
// Pool.ConnConfig.BuildContextWatcherHandler on its copy behind a pooler,
// as it does for latency classes: a statement's deadline sends cancel
// requests, each run to its end (PgBouncer 1.18 exits, "bad client
// state", when a cancel client hangs up while it forwards the request, as
// pgx's own handler does when the statement returns first).
//
// In transaction mode a [Conn] from [Cluster.Acquire] is not a session:
// each statement outside a transaction may run on another server
// connection, so SET, temporary tables, advisory session locks, LISTEN and
// prepared statements do not carry over. Use a transaction ([Cluster.Tx])
// for statements that must share a connection.
type Pooler struct {
	// Mode is the pooler's pool_mode: PoolerSession or PoolerTransaction.
	// Default: $PGFLEET_POOLER_MODE, else none declared. When none is
	// declared and Open finds a pooler (the backend pid announced at
	// connect differs from pg_backend_pid()), dbx logs a warning and runs as
	// for PoolerTransaction, which is correct in both modes.
	Mode string
	// PoolSize is the pooler's server connections per (database, user) pair
	// per pooler process: PgBouncer's default_pool_size + reserve_pool_size.
	// Default: $PGFLEET_POOLER_POOL_SIZE, else 20 (PgBouncer's default).
	PoolSize int
	// Pairs is the number of (database, user) pairs the pooler keeps pools
	// for. Default: $PGFLEET_POOLER_PAIRS, else 1.
	Pairs int
	// MaxClientConn is the pooler's max_client_conn per pooler process.
	// Default: $PGFLEET_POOLER_MAX_CLIENT_CONN, else 100 (PgBouncer's).
	MaxClientConn int
	// Replicas is the number of pooler processes (pods x processes) the
	// fleet connects through. Default: $PGFLEET_POOLER_REPLICAS, else 1.
	// One number serves both sides; budgetcheck, which sees the pooler's
	// manifest, is stricter: clients count only the pooler pods that surely
	// run (the autoscaler's minimum), server connections its worst case
	// with rollout surge.
	Replicas int
	// PreparedStatements declares that the pooler keeps protocol-level
	// prepared statements (PgBouncer >= 1.21 with max_prepared_statements >
	// 0): dbx then keeps pgx's statement cache in transaction mode. Default:
	// $PGFLEET_POOLER_PREPARED_STATEMENTS ("true"), else false.
	PreparedStatements bool

	detected bool // found at Open, not declared
}

// PoolerQueryExecMode is the query mode dbx uses behind a transaction-mode
// pooler that keeps no prepared statements, unless the DSN's
// default_query_exec_mode says otherwise. Exec sends each statement as one
// unnamed Parse/Bind/Execute in a single round trip with the argument
// types taken from their Go types: nothing is left on the server
// connection, and no description is cached that a schema change could
// invalidate. Its limit: an argument whose Go type maps to no single
// Postgres type (a map[string]string may be json or hstore) is refused;
// put default_query_exec_mode=cache_describe in the DSN for such queries
// (one round trip too, once described). Measured against cache_describe
// in BENCHMARKS.md. A mode the user chose (the DSN's
// default_query_exec_mode, or Config.Pool.ConnConfig) is kept, except
// describe_exec, which Open refuses behind a transaction-mode pooler;
// cache_statement, pgx's default, is replaced unless
// Pooler.PreparedStatements is declared.
const PoolerQueryExecMode = pgx.QueryExecModeExec

// active reports whether dbx runs in pooler mode.
func (p Pooler) active() bool { return p.Mode != "" }

// transaction reports whether statements may move between server
// connections: transaction mode, or a detected pooler of unknown mode.
func (p Pooler) transaction() bool { return p.Mode == PoolerTransaction }

// fromEnv fills the zero fields from PGFLEET_POOLER_*; a malformed value
// is an error that names the variable.
func (p *Pooler) fromEnv() error {
	if p.Mode == "" {
		p.Mode = strings.ToLower(strings.TrimSpace(os.Getenv("PGFLEET_POOLER_MODE")))
	}
	for _, f := range []struct {
		env string
		v   *int
	}{{"PGFLEET_POOLER_POOL_SIZE", &p.PoolSize}, {"PGFLEET_POOLER_PAIRS", &p.Pairs}, {"PGFLEET_POOLER_MAX_CLIENT_CONN", &p.MaxClientConn}, {"PGFLEET_POOLER_REPLICAS", &p.Replicas}} {
		s, ok := os.LookupEnv(f.env)
		if !ok || *f.v != 0 {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("dbx: %s=%q: want a positive integer", f.env, s)
		}
		*f.v = n
	}
	if s, ok := os.LookupEnv("PGFLEET_POOLER_PREPARED_STATEMENTS"); ok && !p.PreparedStatements {
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("dbx: PGFLEET_POOLER_PREPARED_STATEMENTS=%q: want true or false", s)
		}
		p.PreparedStatements = b
	}
	return nil
}

// withDefaults fills the pooler's limits with PgBouncer's defaults.
func (p Pooler) withDefaults() Pooler {
	orDefault(&p.PoolSize, budget.PgBouncerDefaultPoolSize)
	orDefault(&p.Pairs, 1)
	orDefault(&p.MaxClientConn, budget.PgBouncerMaxClientConn)
	orDefault(&p.Replicas, 1)
	return p
}

func (p Pooler) validate() []error {
	var errs []error
	if p.Mode != "" && p.Mode != PoolerSession && p.Mode != PoolerTransaction {
		errs = append(errs, fmt.Errorf("dbx: Config.Pooler.Mode = %q: use %q or %q (PgBouncer's pool_mode), or leave it empty when there is no pooler", p.Mode, PoolerSession, PoolerTransaction))
	}
	if p.Mode == "statement" {
		errs[len(errs)-1] = fmt.Errorf("dbx: Config.Pooler.Mode = %q: statement mode forbids transactions, which dbx needs; use transaction mode", p.Mode)
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"PoolSize", p.PoolSize}, {"Pairs", p.Pairs}, {"MaxClientConn", p.MaxClientConn}, {"Replicas", p.Replicas}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("dbx: Config.Pooler.%s = %d: must be >= 0 (0: the default)", f.name, f.v))
		}
	}
	return errs
}

// budget is the pooler's limits for the budget arithmetic.
func (p Pooler) budget() budget.Pooler {
	p = p.withDefaults()
	return budget.Pooler{MaxClientConn: p.MaxClientConn, PoolSize: p.PoolSize, Pairs: p.Pairs, Replicas: p.Replicas}
}

// detectPooler compares the backend pid the server announced at connect
// with the pid of the backend that runs a statement: PgBouncer announces a
// key of its own to every client, so they differ behind it. One simple
// protocol round trip; nothing is left on the connection.
func detectPooler(ctx context.Context, conn *pgx.Conn) (announced, backend uint32, err error) {
	err = conn.QueryRow(ctx, "SELECT pg_backend_pid()", pgx.QueryExecModeSimpleProtocol).Scan(&backend)
	if err != nil {
		return 0, 0, fmt.Errorf("dbx: read pg_backend_pid() to detect a pooler: %w", err)
	}
	return conn.PgConn().PID(), backend, nil
}

// notePooler records what detection found and settles the mode: a pooler
// found but not declared runs as transaction mode.
func (cl *Cluster) notePooler(r *Report, announced, backend uint32) {
	c := &cl.cfg
	found := announced != backend
	switch {
	case found && !c.Pooler.active():
		c.Pooler.Mode, c.Pooler.detected = PoolerTransaction, true
		c.Pooler = c.Pooler.withDefaults()
		c.Logger.Warn("dbx: a connection pooler answers for the primary but none is declared: running in transaction-pooler mode and budgeting against PgBouncer's defaults; declare Config.Pooler (or PGFLEET_POOLER_MODE and its limits) so that the budget counts its real limits",
			"announced_pid", announced, "backend_pid", backend)
	case !found && c.Pooler.active():
		c.Logger.Warn("dbx: a pooler is declared but the primary answered directly (the backend pid announced at connect is the backend's): check the DSN's host and port", "mode", c.Pooler.Mode)
	}
	if c.Pooler.active() {
		r.Pooler = &PoolerReport{Pooler: c.Pooler, Detected: found, Declared: !c.Pooler.detected}
	}
}

// PoolerReport is what Open knows of the pooler in front of the server.
type PoolerReport struct {
	Pooler          // the declared settings with defaults, or PgBouncer's defaults when only detected
	Detected bool   // the backend pid announced at connect differed from pg_backend_pid()
	Declared bool   // Config.Pooler or PGFLEET_POOLER_* named it
	Clients  string // the client side's arithmetic
	Server   string // the server side's arithmetic
	Demand   *budget.Demand
}

func (p *PoolerReport) String() string {
	s := "pooler " + p.Mode
	switch {
	case p.Declared && p.Detected:
		s += " (declared, detected)"
	case p.Declared:
		s += " (declared, not detected)"
	default:
		s += " (detected, not declared: PgBouncer defaults assumed)"
	}
	return s + ": " + p.Clients + "; " + p.Server
}

// adaptConnConfig gives a pool's connections the query mode a pooler
// needs. (A statement whose deadline passes is cancelled on the server by
// the classes' cancelWatcher, which watchClasses installs behind a pooler
// too.)
func (cl *Cluster) adaptConnConfig(cc *pgx.ConnConfig) {
	p := cl.cfg.Pooler
	if !p.active() {
		return
	}
	if p.transaction() && !p.PreparedStatements && !cl.explicitExecMode() {
		cc.DefaultQueryExecMode = PoolerQueryExecMode
	}
}

// statementDeadline is the per-statement deadline dbx's tracer sets:
// StatementTimeout behind a pooler (where it cannot be a session setting),
// else 0 (the server enforces the session's statement_timeout).
func (cl *Cluster) statementDeadline() time.Duration {
	if !cl.cfg.Pooler.active() || cl.cfg.StatementTimeout < 0 {
		return 0
	}
	return cl.cfg.StatementTimeout
}

// explicitExecMode reports whether the user chose a query mode (in the
// DSN's default_query_exec_mode or on Config.Pool.ConnConfig): any other
// than pgx's default, cache_statement, which cannot be told from unset
// and is replaced behind a transaction-mode pooler.
func (cl *Cluster) explicitExecMode() bool {
	return cl.cfg.Pool.ConnConfig.DefaultQueryExecMode != pgx.QueryExecModeCacheStatement
}

// checkExecMode refuses describe_exec behind a transaction-mode pooler: it
// takes two round trips that the pooler may send to two server
// connections, and through PgBouncer it returned other clients' results
// without an error.
func (cl *Cluster) checkExecMode() error {
	if cl.cfg.Pooler.transaction() && cl.cfg.Pool.ConnConfig.DefaultQueryExecMode == pgx.QueryExecModeDescribeExec {
		return fmt.Errorf("dbx: default_query_exec_mode=describe_exec behind a transaction-mode pooler can return another client's results without an error: use exec or cache_describe (or leave it unset: dbx picks %s)", PoolerQueryExecMode)
	}
	return nil
}

// txOptions adds idle_in_transaction_session_timeout to dbx's transactions
// behind a pooler, as SET LOCAL in the BEGIN round trip: it ends with the
// transaction, so it can never reach another client of the pooler, and a
// forgotten transaction cannot pin one of the pooler's few server
// connections. statement_timeout is not set there: the per-statement
// deadline enforces it in and out of transactions alike (with a cancel
// request). What a SET LOCAL costs could not be told from the noise of the
// shared machine it was measured on (at most ~20% of a one-statement
// transaction's throughput; BENCHMARKS.md).
func (cl *Cluster) txOptions(opts pgx.TxOptions) pgx.TxOptions {
	c := cl.cfg
	ms := c.IdleInTxTimeout.Milliseconds()
	if !c.Pooler.active() || ms <= 0 {
		return opts
	}
	begin := opts.BeginQuery
	if begin == "" {
		begin = beginSQL(opts)
	}
	opts.BeginQuery = fmt.Sprintf("%s; SET LOCAL idle_in_transaction_session_timeout = %d", begin, ms)
	return opts
}

// beginSQL is the BEGIN statement for opts, as pgx writes it.
func beginSQL(opts pgx.TxOptions) string {
	var b strings.Builder
	b.WriteString("BEGIN")
	if opts.IsoLevel != "" {
		b.WriteString(" ISOLATION LEVEL " + string(opts.IsoLevel))
	}
	if opts.AccessMode != "" {
		b.WriteString(" " + string(opts.AccessMode))
	}
	if opts.DeferrableMode != "" {
		b.WriteString(" " + string(opts.DeferrableMode))
	}
	return b.String()
}

// Package dbx is pgfleet's data layer: a [Cluster] over a Postgres primary
// and its read replicas, each a pgxpool whose size comes from a fleet-wide
// budget, behind a gate that bounds every wait. Its methods have pgx's
// signatures.
//
//	cfg, err := dbx.ParseConfig(os.Getenv("DATABASE_URL"))
//	cfg.Service = "orders" // application_name "orders/<pod>"
//	cfg.Fleet = budget.Service{Replicas: 3, MaxReplicas: 8}
//	cfg.Share = 0.25                         // a quarter of the server's usable slots
//	cluster, err := dbx.OpenConfig(ctx, cfg) // reads max_connections, sizes the pool (2 on a stock server), verifies
//	defer cluster.Close()
//	registry.MustRegister(cluster.Collector())
//
//	rows, _ := cluster.Query(ctx, `SELECT id, email FROM customers WHERE region = $1`, "eu")
//	customers, err := pgx.CollectRows(rows, pgx.RowToStructByName[Customer])
//	if errors.Is(err, dbx.ErrPoolExhausted) { /* answer 503 with Retry-After */ }
//
// The repository's README shows the same code with its error handling; a
// test runs it on a stock server.
//
// # Why a gate in front of pgxpool
//
// pgxpool queues callers in an unbounded FIFO that waits until the context
// ends, and its MaxConns is fixed for the pool's life. Under overload that
// turns every request into a slow one. The gate gives each node:
//   - an acquire timeout (Config.AcquireTimeout, default 1s) after which the
//     call fails with a *[SaturationError];
//   - a bounded queue (Config.MaxWaiters, default 4 x MaxConns) beyond which
//     calls fail at once (load shedding), matched by [ErrPoolExhausted];
//   - an effective limit that can change at runtime ([Node.SetLimit]), which
//     fleet-wide quotas use;
//   - the metrics pgxpool lacks: waiters now, shed and timeout counts, a wait
//     histogram ([Cluster.Collector]).
//
// # Pool size
//
// Never pgx's max(4, NumCPU): NumCPU is the node's, so a pod on a 48-core node
// would open 48 connections. The size is Config.Share of the server's usable
// connections (read live at Open) divided by the fleet's worst case, or
// Config.MaxConns, or the DSN's pool_max_conns, or 5. Open verifies the
// declared fleet against the live server ([Report]) and warns or fails
// (Config.Verify).
//
// # Fleet quotas
//
// Config.Quota (or $PGFLEET_QUOTA) makes a service's connection budget a
// property of the fleet, enforced by Postgres: every connection of every pod
// holds one slot, a session advisory lock in the service's lock space
// ([QuotaSpace]) taken when the connection opens (one statement; ordinary
// queries pay nothing). The server releases the lock when the session ends,
// so a pod that is SIGKILLed, a backend ended by pg_terminate_backend or a
// server restart leaks no slot and no row. A connection that finds no free
// slot is closed before use and the gate's limit drops to the slots held:
// callers wait (AcquireTimeout, then [ErrPoolExhausted]), never meet a 53300.
//
// Fairness: with Config.Fleet declared, QuotaMin x worst-case processes
// slots are reserved for minimums, so a pod that starts while the quota is
// full still gets QuotaMin at once; the rest are shared first come, first
// served, up to MaxConns per process, and return when their connection has
// been idle MaxConnIdleTime (work-conserving: busy pods keep theirs, idle
// pods give theirs back). The gate's limit follows the slots held (never
// below QuotaMin): while callers wait, a pod grows it by probing for a free
// slot one connect at a time, with backoff after a refusal (50 ms doubling
// to 2 s), so a full quota, a burst after a lull or a restarted server does
// not cause a herd of connects. Leave room
// on the server for those probes: Quota at most usable minus a few per
// concurrent prober. [Node.Quota] and the pgfleet_quota_* metrics show the
// slots held; `pgfleet budget status` shows them per service and pod from
// the server.
//
// The fleet declaration (Quota, QuotaMin, Share, MaxConns, Fleet, Headroom,
// Service) is read from the PGFLEET_* variables when the Config leaves them
// zero (package budget's ParseEnv), the same variables budgetcheck reads from
// the manifest, so the pool a pod runs with and the one the checker computes
// are the same number.
//
// # Metrics
//
// [Cluster.Collector] exports the gate's and the pool's state and the
// budget read at Open. Every series carries the labels service
// (Config.Service), cluster (Config.Name, by default the DSN's
// database@host:port) and node, so a process that opens several Clusters
// (one per database or server) registers all their Collectors in one
// registry and a dashboard tells them apart.
//
// # Latency classes
//
// [WithClass] names an operation's class; Config.Classes gives each a
// timeout, P95/P99 targets and an objective ([Class]). The deadline is the
// earlier of the caller's and the class's, counted from the call, so the
// gate wait spends it; a budget spent before a connection is taken fails
// with a *[BudgetSpentError] and sends nothing, and a statement still
// running at the deadline is cancelled on the server (a cancel request,
// which keeps the connection). [Cluster.ClassStats] and the collector give
// per-class latency, percentiles and error-budget burn rates; [Rules]
// writes the Prometheus rules for them. [Cluster.FanOut] runs a request's
// independent reads concurrently under one deadline, each in its class.
//
// # Capacity
//
// Each node applies Little's law online ([Node.Capacity]): arrival rate x
// mean hold time is the concurrency the load needs; when the pool is the
// bottleneck it says so in a metric and a rate-limited log line, with the
// size that would serve the load and whether the budget allows it.
//
// # Read replicas
//
// Config.ReadReplicas lists the primary's streaming replicas; each is a
// [Node] with its own pool, sized from its own server's budget, and its own
// gate. The Cluster's methods write and read on the primary; [Cluster.Reader]
// reads on the replicas (sqlc's DBTX and loader's Querier, READ ONLY
// transactions pinned to one node). A background poller reads each
// replica's recovery state, replay position and lag (0 when it has replayed
// everything: an idle primary is not lag) and keeps only the fit ones in
// the rotation ([Cluster.Replicas]); reads balance over them by power of two
// choices, and fall back to the primary or fail with [ErrNoReplica]
// (ReplicaConfig.Fallback).
//
// Read-your-writes: [Cluster.TxToken] commits and returns a causal [Token]
// (the primary's WAL position after COMMIT, read in the same round trip).
// A read whose context carries it ([WithToken]) runs only where that commit
// is visible. [Cluster.Middleware] carries the token between a client's
// HTTP requests in a cookie; tokens that do not parse or belong to another
// cluster are ignored and counted ([Cluster.AcceptToken]).
//
//	tok, err := cluster.TxToken(ctx, dbx.TxOptions{}, func(tx pgx.Tx) error { ... })
//	err = cluster.Reader().QueryRow(dbx.WithToken(ctx, tok), `SELECT ...`).Scan(&v)
//
// [ReadOptions] opt into retrying a read once on another node after a
// connection-level failure, and into hedged reads.
//
// # Behind PgBouncer
//
// Point the DSN at the pooler and dbx works with its defaults: Open finds
// the pooler (the backend pid announced at connect is not the backend's),
// sends no startup parameters the pooler would refuse, applies the
// statement timeout per statement and the idle-in-transaction one with SET
// LOCAL (never a session SET another client could inherit), uses a query
// mode that is correct when statements move between server connections,
// and warns until the pooler is declared ([Config].Pooler or
// PGFLEET_POOLER_*), after which the budget counts the pooler's limits:
// clients against max_client_conn x pooler replicas (a Share divides
// those), the server against pool size x (db,user) pairs x pooler replicas.
// See [Pooler].
//
// # Errors
//
// [SaturationError] (the gate said no: nothing was sent), [ServerFullError]
// (the server said 53300, with a hint for the limit that was hit),
// [PoolerFullError] (a pooler's max_client_conn; [IsServerFull] is true for
// both), [StartupParameterError] (a pooler refused a startup parameter),
// [BudgetError] (the fleet does not fit), [IsRetryable] (40001, 40P01, or a
// failure before anything was sent). [Cluster.TxWith] retries a transaction
// marked safe to rerun with bounded, jittered backoff.
package dbx

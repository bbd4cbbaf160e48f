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
// # Metrics
//
// [Cluster.Collector] exports the gate's and the pool's state and the
// budget read at Open. Every series carries the labels service
// (Config.Service), cluster (Config.Name, by default the DSN's
// database@host:port) and node, so a process that opens several Clusters
// (one per database or server) registers all their Collectors in one
// registry and a dashboard tells them apart.
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
// # Errors
//
// [SaturationError] (the gate said no: nothing was sent), [ServerFullError]
// (the server said 53300, with a hint for the limit that was hit),
// [BudgetError] (the fleet does not fit), [IsRetryable] (40001, 40P01, or a
// failure before anything was sent). [Cluster.TxWith] retries a transaction
// marked safe to rerun with bounded, jittered backoff.
package dbx

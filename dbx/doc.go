// Package dbx is pgfleet's data layer: a [Cluster] of Postgres servers, each
// behind a pgxpool whose size comes from a fleet-wide budget and a gate that
// bounds every wait.
//
//	cfg, err := dbx.ParseConfig(os.Getenv("DATABASE_URL"))
//	cfg.Service = "orders"                                // application_name "orders/<pod>"
//	cfg.Fleet = budget.Service{Replicas: 3, MaxReplicas: 20}
//	cfg.Share = 0.25                                     // a quarter of the server's usable slots
//	cluster, err := dbx.OpenConfig(ctx, cfg)             // reads max_connections, sizes the pool, verifies
//	defer cluster.Close()
//	prometheus.MustRegister(cluster.Collector())
//
//	rows, err := cluster.Query(ctx, `SELECT id, email FROM customers WHERE region = $1`, "eu")
//	customers, err := pgx.CollectRows(rows, pgx.RowToStructByName[Customer])
//	if errors.Is(err, dbx.ErrPoolExhausted) { /* answer 503 with Retry-After */ }
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
// # Errors
//
// [SaturationError] (the gate said no: nothing was sent), [ServerFullError]
// (the server said 53300, with a hint for the limit that was hit),
// [BudgetError] (the fleet does not fit), [IsRetryable] (40001, 40P01, or a
// failure before anything was sent). [Cluster.TxWith] retries a transaction
// marked safe to rerun with bounded, jittered backoff.
package dbx

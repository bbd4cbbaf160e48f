// Package loader removes N+1 queries: SQL batch loaders on
// github.com/graph-gophers/dataloader/v7, scoped to one request, and a pgx
// tracer that reports the N+1 queries that remain.
//
// A list page of 100 orders that looks up each order's customer and items
// one by one runs 201 queries; with loaders it runs 3 (see BENCHMARKS.md).
//
//	customers, err := loader.NewOne(pool, loader.Query[int64, Customer]{
//		Name: "customers",
//		SQL:  `SELECT id, email, name, region, created_at FROM customers WHERE id = ANY($1)`,
//		Key:  func(c Customer) int64 { return c.ID },
//	}, loader.Config{})
//	...
//	http.ListenAndServe(addr, loader.Middleware(mux)) // one scope per request
//	...
//	c, err := customers.Load(r.Context(), order.CustomerID) // in a handler or resolver
//
// Three kinds share one batching core ([Loader]): one-to-one ([NewOne]:
// results in key order, [ErrNotFound] per missing key), one-to-many
// ([NewMany]: an empty slice for a parent without children) and composite
// keys (either kind, with [Columns2] and unnest(...) WITH ORDINALITY). Rows
// are scanned with pgx (RowToStructByName by default) and queries go through
// [Querier], which *pgxpool.Pool and *dbx.Cluster satisfy; a batch carries
// the values (not the cancellation) of its first caller's context, so what
// the Querier or its pgx tracers read from the context reaches them.
//
// # When a batch is sent
//
// The JavaScript DataLoader sends a batch at the end of the event-loop tick;
// the Go ports wait a fixed window, 16 ms by default, which every lone Load
// pays. pgfleet's batch is sent when the first of these happens:
//
//   - it holds [Config].MaxBatch keys (default 1000); more keys go to the
//     next query;
//   - [Loader.LoadMany] has queued all its keys: it knows the set is
//     complete and sends at once (the rules below wait until it has);
//   - no new key has joined for [Config].Wait (default 200µs);
//   - [Config].MaxWait (default 1 ms) has passed since the first key.
//
// A timer watches each batch; nothing spins. An earlier design sent the
// batch the moment the process went idle (the Go analogue of the end of the
// tick) by spinning on runtime.Gosched and runtime/metrics for up to
// MaxWait: a lone Load then cost ~130µs instead of ~1.1 ms, but on a busy
// server the spinning took CPU from the requests (up to ~10% more per page,
// measured in BENCHMARKS.md, "loader on a busy server"), and when a batch
// was sent depended on what else the process was doing, so no test could
// count its queries. A Go timer under 1 ms fires after
// ~1.1 ms on an idle Linux process (the netpoller sleeps in whole
// milliseconds) and close to time on a busy one. Use LoadMany where the keys
// are known together: it never waits.
//
// # Bounds and contexts
//
// The cache lives in the scope ([WithScope], [Middleware]) and dies with the
// request: no cross-request staleness, no growth beyond one request. A failed
// batch is never cached, not even within the request. A batch runs with its
// first caller's values but without its cancellation, so one caller giving
// up cannot fail the others; each caller waits only until its own context is
// done, and the scope's end cancels batches still running.
//
// # N+1 detection
//
// [Detector] is a pgx.QueryTracer (and BatchTracer) that counts the queries
// of each normalised shape ([Shape]) per scope and, when the scope ends,
// reports the shapes run [DetectorConfig].Threshold (default 5) times or
// more: a slog warning with the shape and count, a metric, and a hook that
// package loadertest uses to fail tests.
//
// Metrics ([Metrics]) are Prometheus collectors for you to register.
package loader

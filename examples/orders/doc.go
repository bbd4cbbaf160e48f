// Package orders is an example service on pgfleet, written to be copied: an
// HTTP API over the demo shop's schema (internal/demo/seed) with every
// pgfleet piece where a real service would put it. It is not part of the
// product; no product package imports it.
//
//	svc, err := orders.Open(ctx, orders.Options{
//		PrimaryDSN:  os.Getenv("DATABASE_URL"),
//		ReplicaDSNs: []string{os.Getenv("REPLICA_0_URL"), os.Getenv("REPLICA_1_URL")},
//		Shards:      map[string]string{"s0": os.Getenv("SHARD_0_URL"), "s1": os.Getenv("SHARD_1_URL")},
//		Fleet:       budget.Service{Replicas: 3, MaxReplicas: 8},
//	})
//	if err != nil {
//		return err
//	}
//	defer svc.Close()
//	return http.ListenAndServe(addr, svc.Handler())
//
// # Endpoints
//
//   - GET /customers/{id}/orders?limit=N (default 20, at most 100): the
//     customer's newest orders with their customer, items and products, read
//     on a replica that has the caller's last write (class "list"). 4 queries
//     whatever N is: the order page's related rows come from loaders.
//   - POST /orders {"customer_id":N,"items":[{"product_id":N,"quantity":N}]}:
//     201 with the order; one transaction on the primary, retried on
//     serialization failures and deadlocks; the response carries the causal
//     token (header Pgfleet-Causal-Token and cookie pgfleet_causal) that the
//     client sends back so its next read sees the order (class "create").
//   - GET /profiles/{customer_id}: the customer's profile from the shard that
//     owns its bucket; every lookup feeds the hot-key detector, and with
//     Options.HotCache the hot customers are served from memory (class
//     "profile").
//   - GET /debug/hotkeys, GET /debug/stats ([Stats]), GET /metrics
//     (Prometheus: dbx, loader, shard and the service's HTTP metrics).
//
// Errors are JSON {"error": ..., "kind": ...}: 400 for bad input (the
// message names the field), 404 for an unknown customer, 503 with
// Retry-After when the database is the bottleneck (a gate refused a
// connection, or the class's budget ran out), 500 otherwise, never with
// the error's text.
//
// # Budgets end to end
//
// Each endpoint runs under a dbx latency class ([Classes]): the class's
// Timeout is the request's deadline, the gate wait included, and dbx
// cancels a statement on the server when it passes. Each node's pool is
// fixed (Options.MaxConns) and checked at Open against the server and the
// declared fleet; the primary and the shards hold a fleet quota (slots as
// advisory locks) so that the whole fleet never opens more than its share.
// Beyond the pool, at most MaxWaiters requests queue, each for at most
// AcquireTimeout; the rest get a 503 at once. What is admitted has bounded
// latency, and nothing reaches the server's max_connections (53300).
//
// # Why hand-written pgx, not sqlc
//
// The repository (repo.go) is hand-written SQL with pgx's generic row
// scanning: seven statements and the row types they fill, some 200 lines.
// sqlc would work as well (its generated code takes *dbx.Cluster,
// *dbx.Reader and pgx.Tx as its DBTX; see the README), but here it would
// add a generator to the build for a handful of statements, and the
// loaders' batch queries (loader.Query: SQL plus the key of a row) are not
// something sqlc generates: a third of the SQL would stay hand-written
// anyway. One file with every statement next to the structs it fills is
// what a reader of the example wants to see. Reach for sqlc when the
// statements number in the dozens.
package orders

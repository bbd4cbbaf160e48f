// Package shard spreads keys over physical shards through a fixed number of
// logical buckets, moves buckets between shards while the application
// writes, queries every shard at once, and finds the hot keys that a
// balanced hash cannot.
//
//	m, err := shard.LoadMap(ctx, catalog) // or shard.ReadMapFile("shards.json")
//	router, err := shard.New(m, map[string]*dbx.Cluster{"s0": c0, "s1": c1}, shard.Config{})
//	registry.MustRegister(router.Collector())
//
//	k := shard.Int(userID)
//	_, err = router.Exec(ctx, k, // a declared write of k's bucket
//		`INSERT INTO events (id, user_id, bucket, body) VALUES ($1, $2, $3, $4)`,
//		id, userID, router.Bucket(k), body)
//	if shard.IsBucketMoved(err) { // the bucket moved away: reload the map, retry
//		router.Reload(ctx, catalog)
//	}
//	rows, err := router.For(k).Query(ctx, `SELECT ... WHERE user_id = $1`, userID) // reads
//
//	newest, err := shard.Gather(ctx, router, shard.ScatterOptions{}, 20, byTimeDesc,
//		func(ctx context.Context, _ string, c *dbx.Cluster) ([]Event, error) {
//			return queryEvents(ctx, c, `... ORDER BY created_at DESC LIMIT 20`)
//		})
//
// # Buckets, not modulo
//
// key mod N moves almost every key when N changes. Here a key hashes to one
// of Map.Buckets logical buckets (say 1024, fixed for the life of the
// deployment), and a versioned [Map] gives bucket ranges to shards. Adding a
// shard moves whole buckets, and only those [Moves] lists. The hash is
// stable and documented so that other languages can compute it: an integer
// is mixed with the SplitMix64 finalizer; text, bytes and UUIDs are hashed
// with 64-bit FNV-1a, then mixed the same way; the bucket is the high word
// of hash x Buckets. A test pins key -> bucket for every key kind: a change
// that would reshard deployments cannot pass it. [Router.For] costs one
// atomic load and a table lookup, and never allocates for [Int] keys.
//
// The map lives in a catalog database (table pgfleet_shard_maps; [SaveMap],
// [LoadMap], [Router.Reload]) or a JSON file, and is validated before use:
// every bucket owned exactly once, every shard listed and given a Cluster.
//
// # Moving a bucket
//
// [Move] (and `pgfleet shard move`) copies one bucket's rows to their new
// shard while writes go on, replays the writes that happened meanwhile from
// a trigger-fed change log, fences the bucket on the old shard, flips the
// map version and only then deletes the old copy. Each step is idempotent
// and its state is in the databases: a run killed at any point is finished
// by running it again. Each row must store its bucket in a column (default
// "bucket"), and writers must use READ COMMITTED (the default).
//
// # Writes during and after a move
//
// A process learns of a move only when it reloads the map, so for a while
// it sends the bucket's writes to the old shard. The old shard fences the
// bucket: from the fence on it refuses them with [IsBucketMoved], and the
// process reloads and retries. Which writes the fence sees:
//
//   - Declared writes, always: [Router.Exec] (one statement) and
//     [Router.Tx] (a transaction) tell the shard which bucket they write,
//     in the same round trip, and a statement-level trigger refuses them
//     even when they match no row.
//   - Undeclared writes (router.For(k).Exec, or any other connection) only
//     when they touch a row of the bucket: an INSERT always, an UPDATE or
//     DELETE only until the move has deleted the old copy. After that, a
//     stale UPDATE or DELETE matches 0 rows and succeeds: the write is
//     silently lost. Use the declared API for every write of sharded rows.
//
// # Scatter-gather
//
// [Scatter] runs a query on every shard (or some) with at most
// ScatterOptions.Concurrency at once (default 8) and a per-shard timeout
// (default 5s). [Gather] merges the shards' sorted rows into the first N
// ([MergeSorted]). What a failure does is chosen per call: FailFast (the
// default) cancels the rest and returns a *[PartialError]; AllowPartial
// returns what came together with the *PartialError naming each failed
// shard.
//
// # Hot keys
//
// A hash balances key counts, not traffic. Every call to For feeds an
// online top-k detector: Space-Saving (Metwally et al.) over a random 1 in
// HotKeyConfig.SampleEvery (16) of the calls, with forward exponential
// decay (Cormode et al.) of half-life HotKeyConfig.HalfLife (1m). It was
// chosen over Count-Min + heap and HeavyKeeper because its guarantee is
// deterministic and simple to state: with m counters (Counters, 1024), any
// key above 1/m of the sampled traffic is tracked, and each count
// overestimates by at most its reported error. Memory is fixed: at most 128
// bytes per counter plus the bytes of string keys (about 90 KiB for 1024
// integer keys, measured). Unsampled calls take no lock, so detection stays
// on: For costs 35-90 ns with it on 2 cores (BENCHMARKS.md). A key that
// stops being requested leaves the top-k within about log2(its old rate /
// the new k-th rate) half-lives. On a Zipf(1.1) stream of 10 million keys
// over a million, the default finds all of the true top 10 (a test checks
// >= 9).
//
// [Router.HotKeys] reports the top keys with estimated rates and their
// share of their shard; HotKeyConfig.OnHot fires when a key crosses
// HotKeyConfig.Share (5%) of its shard; [Router.Collector] exports per-shard
// rates, the load imbalance (max/mean) and the top 10 keys' rates by rank.
//
// # Caching hot keys (opt-in)
//
// [Cache] is a small read-through cache for the keys the detector marks
// hot: concurrent misses of a key make one origin load (1,000 misses, one
// query, in a test), TTLs are jittered, the hottest entries are refreshed
// ahead of expiry, [ErrNotFound] answers are cached too, writes through
// [Cache.Write] invalidate, and MaxEntries bounds its memory.
package shard

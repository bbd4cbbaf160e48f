// Command pgfleet is the operator CLI for a pgfleet deployment.
//
//	pgfleet migrate up --dir db/migrations --dsn "$PRIMARY_URL" --dsn "$SHARD0_URL" --dsn "$SHARD1_URL"
//	pgfleet migrate status --dir db/migrations   # DATABASE_URL when no --dsn is given
//	pgfleet shard diff old.json new.json         # the buckets a new map moves
//	pgfleet shard move --catalog "$CATALOG_URL" --shard s0="$S0" --shard s1="$S1" --bucket 346 --to s1 --table events
//	pgfleet help migrate
//
// Each subcommand lives in its own file and is listed once in [commands];
// `pgfleet help` is generated from that list. Exit status: 0 on success, 1
// when the work failed, 2 on a usage error. Passwords in DSNs are never
// printed: every DSN in output and errors goes through internal/dsn.Redact.
package main

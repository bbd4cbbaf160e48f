package orders

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/migrations"
	"github.com/pgfleet/pgfleet/shard"
)

// Customer profiles live on the shards, by customer id: the router hashes
// the id to a logical bucket and the map gives the bucket's shard. Every
// lookup goes through Router.For, which also feeds the hot-key detector;
// with the hot cache on, the detector's hot keys are served from memory.

// Profile is a customer's profile row on its shard.
type Profile struct {
	CustomerID  int64     `db:"customer_id" json:"customer_id"`
	Bucket      int       `db:"bucket" json:"bucket"`
	DisplayName string    `db:"display_name" json:"display_name"`
	Tier        string    `db:"tier" json:"tier"`
	Locale      string    `db:"locale" json:"locale"`
	UpdatedAt   time.Time `db:"updated_at" json:"updated_at"`
	Shard       string    `db:"-" json:"shard"`
}

const profileSQL = `SELECT customer_id, bucket, display_name, tier, locale, updated_at
	FROM customer_profiles WHERE customer_id = $1`

// profiles reads profiles from the shards.
type profiles struct {
	router   *shard.Router
	cache    *shard.Cache[Profile] // nil: the hot cache is off
	slowdown time.Duration
	routed   map[string]*atomic.Int64 // lookups per shard, for Stats
}

// get returns customer id's profile. The detector counts the key once per
// call (For), whether the answer then comes from the cache or the shard.
func (p *profiles) get(ctx context.Context, id int64) (Profile, error) {
	k := shard.Int(id)
	cl := p.router.For(k)
	if p.cache != nil {
		pr, err := p.cache.Get(ctx, k)
		if errors.Is(err, shard.ErrNotFound) { // the cache's negative answer
			err = ErrNotFound
		}
		return pr, err
	}
	return p.load(ctx, cl, id)
}

// load reads the profile from cl, the shard that owns it.
func (p *profiles) load(ctx context.Context, cl *dbx.Cluster, id int64) (Profile, error) {
	name := p.router.ShardOf(shard.Int(id))
	p.routed[name].Add(1)
	if err := slow(ctx, cl, p.slowdown); err != nil {
		return Profile{}, err
	}
	rows, _ := cl.Query(ctx, profileSQL, id)
	pr, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Profile])
	if errors.Is(err, pgx.ErrNoRows) {
		return Profile{}, ErrNotFound
	}
	pr.Shard = name
	return pr, err
}

// cacheLoad is the hot cache's origin: the load runs detached from the
// request (its answer serves every waiting caller), so it names the class
// itself and goes to the shard without counting the key again.
func (p *profiles) cacheLoad(ctx context.Context, k shard.Key) (Profile, error) {
	id, err := strconv.ParseInt(k.String(), 10, 64) // an Int key prints as its integer
	if err != nil {
		return Profile{}, err
	}
	pr, err := p.load(dbx.WithClass(ctx, ClassProfile), p.router.Cluster(p.router.ShardOf(k)), id)
	if errors.Is(err, ErrNotFound) {
		return pr, shard.ErrNotFound // cached as a negative answer
	}
	return pr, err
}

//go:embed schema_shards/*.sql
var shardSchema embed.FS

// ShardSchema returns the goose migrations of the shards (the
// customer_profiles table).
func ShardSchema() fs.FS {
	sub, err := fs.Sub(shardSchema, "schema_shards")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}

// ShardMigrationsTable records the shard schema's versions, apart from any
// other migration set on the same servers (the demo applies its shop
// schema to the shards too).
const ShardMigrationsTable = "orders_shard_migrations"

// MigrateShards applies [ShardSchema] to every shard.
func MigrateShards(ctx context.Context, dsns ...string) error {
	m, err := migrations.New(ShardSchema(), migrations.Options{TableName: ShardMigrationsTable})
	if err != nil {
		return err
	}
	return m.UpAll(ctx, dsns...)
}

// Buckets is the number of logical buckets of the map InitShardMap saves.
const Buckets = 1024

// InitShardMap returns the catalog's newest shard map, after saving the
// first one (the shards' names, sorted, in even ranges of [Buckets]) when
// the catalog holds none. Several processes may race to save it: the loser
// reads the winner's. The catalog's tables are created only when no map
// loads: a start with a saved map runs no DDL.
func InitShardMap(ctx context.Context, catalog shard.DB, shards []string) (*shard.Map, error) {
	if m, err := shard.LoadMap(ctx, catalog); err == nil {
		return m, nil
	}
	if err := shard.EnsureCatalog(ctx, catalog); err != nil {
		return nil, err
	}
	names := slices.Sorted(slices.Values(shards))
	if err := shard.SaveMap(ctx, catalog, shard.EvenMap(1, Buckets, names...)); err != nil {
		if m, lerr := shard.LoadMap(ctx, catalog); lerr == nil {
			return m, nil
		}
		return nil, err
	}
	return shard.LoadMap(ctx, catalog)
}

// SeedProfiles writes the profiles of customers 1..customers, each to the
// shard that owns its bucket in m (what Router.For picks), replacing those
// already there. shards maps m's shard names to their databases. The
// profiles are deterministic: the same on every run.
func SeedProfiles(ctx context.Context, m *shard.Map, shards map[string]shard.DB, customers int) error {
	if customers < 0 {
		return fmt.Errorf("orders: SeedProfiles: customers %d: must be >= 0", customers)
	}
	if err := m.Validate(); err != nil {
		return err
	}
	rows := map[string][][]any{}
	ids := map[string][]int64{}
	tiers := []string{"standard", "standard", "silver", "gold"}
	locales := []string{"en-GB", "de-DE", "en-US", "fr-FR", "hi-IN"}
	for id := int64(1); id <= int64(customers); id++ {
		b := shard.BucketOf(shard.Int(id), m.Buckets)
		s := m.Owner(b)
		ids[s] = append(ids[s], id)
		rows[s] = append(rows[s], []any{id, b, fmt.Sprintf("Customer %d", id), tiers[id%4], locales[id%5]})
	}
	for _, name := range m.Shards {
		db, ok := shards[name]
		if !ok {
			return fmt.Errorf("orders: SeedProfiles: no database given for shard %q", name)
		}
		err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `DELETE FROM customer_profiles WHERE customer_id = ANY($1)`, ids[name]); err != nil {
				return err
			}
			_, err := tx.CopyFrom(ctx, pgx.Identifier{"customer_profiles"},
				[]string{"customer_id", "bucket", "display_name", "tier", "locale"}, pgx.CopyFromRows(rows[name]))
			return err
		})
		if err != nil {
			return fmt.Errorf("orders: seed the profiles of shard %s: %w", name, err)
		}
	}
	return nil
}

// Package stack starts the orders example (examples/orders) on this
// machine for the demo and the load test: a throwaway Postgres topology (a
// primary, streaming replicas, shard servers), the demo shop's schema and
// data, the profiles on the shards, and the service on a loopback port. It
// is demo tooling, not the product.
//
//	st, err := stack.Launch(ctx, stack.Options{Replicas: 2, Shards: 2})
//	if err != nil {
//		return err
//	}
//	defer st.Close()
//	resp, err := http.Get(st.BaseURL + "/customers/1/orders")
//
// [StartDatabases] and [Serve] are the two halves, for callers (tests) that
// run several services, with different options, on one set of servers.
package stack

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgfleet/pgfleet/dbx/dbxtest/topology"
	"github.com/pgfleet/pgfleet/examples/orders"
	"github.com/pgfleet/pgfleet/internal/demo/seed"
	"github.com/pgfleet/pgfleet/shard"
)

// DefaultMaxConnections is every server's max_connections when
// Options.MaxConnections is 0: small on purpose, so that the budget is
// visible (3 superuser-reserved, the rest for the service's pools).
const DefaultMaxConnections = 40

// Options size the stack. The zero value is one primary, no replica, one
// shard, the default data set, the service's defaults.
type Options struct {
	// Replicas is the number of streaming replicas of the primary (0: none,
	// every read on the primary).
	Replicas int
	// Shards is the number of shard servers for the profiles. Default 1;
	// at most 16.
	Shards int
	// MaxConnections is every server's max_connections. Default 40; at
	// least 10.
	MaxConnections int
	// Seed sizes the demo data (seed.Options; zero: 1000 customers, 200
	// products, 10000 orders). Every customer gets a profile.
	Seed seed.Options
	// Service configures the service. Launch fills its DSN fields
	// (PrimaryDSN, ReplicaDSNs, Shards); the rest is passed on as given.
	Service orders.Options
}

// Timings says where a launch spent its time.
type Timings struct {
	Topology, Migrate, Seed, Open time.Duration
}

// Total is the whole launch.
func (t Timings) Total() time.Duration { return t.Topology + t.Migrate + t.Seed + t.Open }

func (t Timings) String() string {
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	return fmt.Sprintf("%v (servers %v, migrations %v, data %v, service %v)", r(t.Total()), r(t.Topology), r(t.Migrate), r(t.Seed), r(t.Open))
}

// Databases is a running topology with the schema and data in place.
type Databases struct {
	Topology  *topology.Cluster
	Customers int // seeded customer ids: 1..Customers, each with a profile
	Products  int // seeded product ids: 1..Products
	Timings   Timings
}

// StartDatabases starts the servers, applies the shop's schema to the
// primary and the profile schema to the shards, seeds both and saves the
// shard map in the catalog (the primary). When it returns, the replicas
// have replayed all of it. On error nothing is left running.
func StartDatabases(ctx context.Context, opts Options) (_ *Databases, err error) {
	if opts.Shards == 0 {
		opts.Shards = 1
	}
	if opts.MaxConnections == 0 {
		opts.MaxConnections = DefaultMaxConnections
	}
	if opts.Replicas < 0 || opts.Shards < 1 || opts.Shards > 16 || opts.MaxConnections < 10 {
		return nil, fmt.Errorf("stack: Options{Replicas: %d, Shards: %d, MaxConnections: %d}: want Replicas >= 0, Shards 1 to 16, MaxConnections >= 10",
			opts.Replicas, opts.Shards, opts.MaxConnections)
	}
	d := &Databases{}
	start := time.Now()
	d.Topology, err = topology.Launch(ctx, topology.Topology{Replicas: opts.Replicas, Shards: opts.Shards,
		Settings: map[string]string{"max_connections": fmt.Sprint(opts.MaxConnections)}})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, d.Topology.Close())
		}
	}()
	d.Timings.Topology = time.Since(start)

	start = time.Now()
	shards := d.shardDSNs()
	var shardErr error
	var wg sync.WaitGroup
	wg.Go(func() { shardErr = orders.MigrateShards(ctx, slices.Collect(maps.Values(shards))...) })
	err = seed.Migrate(ctx, d.Topology.Primary.DSN())
	wg.Wait()
	if err = errors.Join(err, shardErr); err != nil {
		return nil, err
	}
	d.Timings.Migrate = time.Since(start)

	start = time.Now()
	if err := d.seed(ctx, opts.Seed, shards); err != nil {
		return nil, err
	}
	d.Timings.Seed = time.Since(start)
	return d, nil
}

// seed fills the primary and the shards, and waits for the replicas.
func (d *Databases) seed(ctx context.Context, opts seed.Options, shards map[string]string) error {
	primary, err := d.Topology.Primary.Connect(ctx)
	if err != nil {
		return err
	}
	defer primary.Close(context.WithoutCancel(ctx))
	res, err := seed.Run(ctx, primary, opts)
	if err != nil {
		return err
	}
	d.Customers, d.Products = int(res.Customers), int(res.Products)
	m, err := orders.InitShardMap(ctx, primary, slices.Collect(maps.Keys(shards)))
	if err != nil {
		return err
	}
	dbs := map[string]shard.DB{}
	for name, dsn := range shards {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		dbs[name] = conn
	}
	if err := orders.SeedProfiles(ctx, m, dbs, d.Customers); err != nil {
		return err
	}
	var lsn string
	if err := primary.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&lsn); err != nil {
		return err
	}
	return topology.Parallel(d.Topology.Replicas, func(n *topology.Node) error { return n.WaitReplay(ctx, lsn) })
}

// shardDSNs names the shard servers s0, s1, ... as the service knows them.
func (d *Databases) shardDSNs() map[string]string {
	out := map[string]string{}
	for i, n := range d.Topology.Shards {
		out[fmt.Sprintf("s%d", i)] = n.DSN()
	}
	return out
}

// ServiceOptions returns opts with the DSN fields set to these databases.
func (d *Databases) ServiceOptions(opts orders.Options) orders.Options {
	opts.PrimaryDSN = d.Topology.Primary.DSN()
	opts.ReplicaDSNs = nil
	for _, n := range d.Topology.Replicas {
		opts.ReplicaDSNs = append(opts.ReplicaDSNs, n.DSN())
	}
	opts.Shards = d.shardDSNs()
	return opts
}

// Close stops every server and removes its data.
func (d *Databases) Close() error { return d.Topology.Close() }

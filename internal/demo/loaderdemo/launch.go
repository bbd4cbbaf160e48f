package loaderdemo

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/pgfleet/pgfleet/dbx/dbxtest/topology"
	"github.com/pgfleet/pgfleet/internal/demo/seed"
)

// Launch starts a throwaway single-node server ([topology.Launch]) with the
// demo schema and the seed's data (default options). The caller must Close
// it. When no backend can start one, the error is a
// [*topology.UnavailableError]; on any error nothing is left running.
func Launch(ctx context.Context) (*topology.Cluster, error) {
	c, err := topology.Launch(ctx, topology.Topology{})
	if err != nil {
		return nil, err
	}
	if err := migrateAndSeed(ctx, c.Primary.DSN()); err != nil {
		return nil, errors.Join(err, c.Close())
	}
	return c, nil
}

func migrateAndSeed(ctx context.Context, dsn string) error {
	if err := seed.Migrate(ctx, dsn); err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = seed.Run(ctx, conn, seed.Options{})
	return err
}

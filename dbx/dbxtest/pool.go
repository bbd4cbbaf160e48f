package dbxtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultPoolMaxConns is the size of a [Pool] unless an option sets
// MaxConns: small and fixed, never pgx's max(4, NumCPU) of the machine, so
// that parallel tests stay far below a test server's max_connections.
const DefaultPoolMaxConns = 4

// Pool opens a pgxpool on n (MaxConns [DefaultPoolMaxConns]; each option may
// change the config, e.g. MaxConns or ConnConfig.Tracer) and closes it when
// the test ends. It fails the test when the pool cannot be opened.
func Pool(tb testing.TB, n *Node, opts ...func(*pgxpool.Config)) *pgxpool.Pool {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(n.DSN())
	if err != nil {
		tb.Fatalf("dbxtest: pool on %s: %v", n.Name, err)
	}
	cfg.MaxConns = DefaultPoolMaxConns
	for _, opt := range opts {
		opt(cfg)
	}
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("dbxtest: pool on %s: %v", n.Name, err)
	}
	tb.Cleanup(p.Close)
	return p
}

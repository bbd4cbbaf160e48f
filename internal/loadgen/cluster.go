package loadgen

import (
	"log/slog"
	"strconv"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgfleet/pgfleet/dbx"
)

// ClusterConfig is a benchmark's dbx config for dsn: the pool fixed at
// clients connections (opened before the first round, like the raw pool it
// is compared with) and the logs discarded.
func ClusterConfig(dsn, service string, clients int) (*dbx.Config, error) {
	cfg, err := dbx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	cfg.Service, cfg.MaxConns, cfg.MinConns = service, clients, clients
	cfg.Logger = slog.New(slog.DiscardHandler)
	return cfg, nil
}

// PoolConfig is the raw pgxpool config a benchmark compares dbx with: the
// pool fixed at clients connections, like ClusterConfig's.
func PoolConfig(dsn string, clients int) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns, cfg.MinConns = int32(clients), int32(clients)
	return cfg, nil
}

// DBXSessionTimeouts gives cfg's connections the session dbx gives its own
// by default (statement_timeout and idle_in_transaction_session_timeout), so
// that a raw pool pays the same server-side timers as the dbx it is compared
// with.
func DBXSessionTimeouts(cfg *pgxpool.Config) {
	cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(dbx.DefaultStatementTimeout.Milliseconds(), 10)
	cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = strconv.FormatInt(dbx.DefaultIdleInTxTimeout.Milliseconds(), 10)
}

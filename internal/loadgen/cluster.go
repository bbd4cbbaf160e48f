package loadgen

import (
	"log/slog"

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

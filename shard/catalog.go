package shard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DB is what the map table and the move procedure need of a database:
// *dbx.Cluster, *pgxpool.Pool and *pgx.Conn all have it.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

// The catalog is the database that holds the map (every version) and the
// state of bucket moves: one place every process reads the map from.
const catalogSchema = `
CREATE TABLE IF NOT EXISTS pgfleet_shard_maps (
	version    bigint PRIMARY KEY,
	map        jsonb NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS pgfleet_shard_moves (
	bucket     int PRIMARY KEY,
	from_shard text NOT NULL,
	to_shard   text NOT NULL,
	state      text NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now()
);`

// EnsureCatalog creates the catalog tables (pgfleet_shard_maps,
// pgfleet_shard_moves) when they do not exist.
func EnsureCatalog(ctx context.Context, db DB) error {
	if _, err := db.Exec(ctx, catalogSchema); err != nil {
		return fmt.Errorf("shard: create the catalog tables: %w", err)
	}
	return nil
}

// SaveMap stores m as a new version in the catalog. It fails when that
// version exists (another process saved first): reload and decide again.
func SaveMap(ctx context.Context, db DB, m *Map) error {
	if err := m.Validate(); err != nil {
		return err
	}
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("shard: %w", err)
	}
	if _, err := db.Exec(ctx, `INSERT INTO pgfleet_shard_maps (version, map) VALUES ($1, $2)`, m.Version, data); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" {
			return fmt.Errorf("shard: map version %d is already in the catalog: another process changed the map; reload it", m.Version)
		}
		return fmt.Errorf("shard: save map version %d: %w", m.Version, err)
	}
	return nil
}

// LoadMap reads the newest map version from the catalog.
func LoadMap(ctx context.Context, db DB) (*Map, error) {
	var data []byte
	err := db.QueryRow(ctx, `SELECT map FROM pgfleet_shard_maps ORDER BY version DESC LIMIT 1`).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errors.New("shard: the catalog holds no map: store the first one with SaveMap (pgfleet shard init)")
	}
	if err != nil {
		return nil, fmt.Errorf("shard: load the map: %w", err)
	}
	return ParseMap(data)
}

// Reload reads the catalog's newest map and switches to it when it is newer
// than the current one. It reports whether the map changed. Call it
// periodically, and when a write fails with [IsBucketMoved].
func (r *Router) Reload(ctx context.Context, catalog DB) (bool, error) {
	m, err := LoadMap(ctx, catalog)
	if err != nil {
		return false, err
	}
	if m.Version <= r.Map().Version {
		return false, nil
	}
	if err := r.SetMap(m); err != nil {
		if r.Map().Version >= m.Version { // a concurrent Reload got there first
			return false, nil
		}
		return false, err
	}
	return true, nil
}

package migrations

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3/database"
)

// store is goose's Postgres store with the version table's name quoted as
// an identifier. goose pastes the name into its SQL as given, and into a
// string literal to check that the table exists, so a name that needs
// quoting (upper case, a dash) or carries a quote would break both; here the
// statements get the quoted form and the existence check takes it as a
// parameter.
type store struct {
	database.Store
	quoted string
}

func newStore(table string) (*store, error) {
	quoted := pgx.Identifier{table}.Sanitize()
	s, err := database.NewStore(database.DialectPostgres, quoted)
	if err != nil {
		return nil, err
	}
	return &store{Store: s, quoted: quoted}, nil
}

// TableExists resolves the name as CREATE TABLE would: through the
// search_path.
func (s *store) TableExists(ctx context.Context, db database.DBTxConn) (bool, error) {
	var exists bool
	if err := db.QueryRowContext(ctx, `SELECT to_regclass($1) IS NOT NULL`, s.quoted).Scan(&exists); err != nil {
		return false, fmt.Errorf("check that the version table exists: %w", err)
	}
	return exists, nil
}

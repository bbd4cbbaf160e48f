// Package migrations runs your goose SQL migrations on the primary and every
// shard of a fleet: the servers carry the same schema. It ships no schema of
// its own: you give it an fs.FS of NNNNN_name.sql files (an embed.FS, or
// os.DirFS for a directory, as `pgfleet migrate --dir` does).
//
//	//go:embed db/migrations/*.sql
//	var files embed.FS
//
//	sub, _ := fs.Sub(files, "db/migrations")
//	m, err := migrations.New(sub, migrations.Options{}) // version table "pgfleet_migrations"
//	if err != nil {
//		log.Fatal(err)
//	}
//	if err := m.UpAll(ctx, primaryDSN, shard0DSN, shard1DSN); err != nil {
//		log.Fatal(err)
//	}
//
// Callers that already hold a *sql.DB use [Migrator.Provider] and goose's
// [goose.Provider] API directly:
//
//	p, err := m.Provider(db)
//	...
//	results, err := p.Up(ctx)
//
// # Safe to run from every replica at once
//
// Every pod of a fleet may run migrations on start. Each provider takes a
// Postgres session advisory lock ([Options.LockID]) before it reads or
// changes the version table, so concurrent migrators apply each migration
// exactly once; the lock dies with the connection, so a killed migrator never
// leaves the database locked.
//
// # Its own version table
//
// Versions are kept in [Options.TableName] (default "pgfleet_migrations", not
// goose's goose_db_version; quoted as an identifier) and the advisory lock
// has its own id, so these migrations can share a database with another
// goose set.
package migrations

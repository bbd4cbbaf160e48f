package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/pgfleet/pgfleet/internal/dsn"
)

//go:embed sql/*.sql
var embedded embed.FS

// TableName is the table in which applied versions are recorded.
const TableName = "pgfleet_migrations"

// LockID is the key of the session advisory lock that serialises migrators.
// It differs from goose's default so that pgfleet and an application's own
// goose migrations do not wait for each other. (It is "pgfleet" in ASCII.)
const LockID int64 = 0x7067666c656574

// lockWait is how long a migrator waits for another one to finish: goose
// probes the lock once per lockProbe, so a waiting pod starts at most one
// probe after the lock is released. Five minutes covers a slow migration on
// a busy server; past that the operator is told the lock is held.
const (
	lockProbe = 1   // seconds
	lockTries = 300 // * lockProbe = 5 minutes
)

// FS returns the embedded migration files (NNNNN_name.sql at its root), for
// tools that want to list or print them.
func FS() fs.FS {
	sub, err := fs.Sub(embedded, "sql")
	if err != nil {
		panic(err) // the embed pattern above guarantees the directory
	}
	return sub
}

// NewProvider returns a goose provider for pgfleet's migrations on db, with
// the session locker and version table described in the package doc. db must
// use a Postgres driver (pgx's stdlib driver, "pgx"). The caller keeps
// ownership of db: do not call the provider's Close unless the provider may
// close db.
func NewProvider(db *sql.DB) (*goose.Provider, error) {
	return newProvider(db, FS())
}

// newProvider is NewProvider over any set of migration files, so that tests
// can feed it edge cases from an in-memory file system.
func newProvider(db *sql.DB, fsys fs.FS) (*goose.Provider, error) {
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(LockID),
		lock.WithLockTimeout(lockProbe, lockTries),
	)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithTableName(TableName),
		goose.WithSessionLocker(locker),
		// Go migrations registered globally by some other package of the
		// binary are not ours to run.
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return p, nil
}

// Up applies every pending migration to the server at url (a URL or
// key=value DSN) and returns what it applied, empty when the schema was
// already current.
func Up(ctx context.Context, url string) ([]*goose.MigrationResult, error) {
	return withProvider(ctx, url, "up", (*goose.Provider).Up)
}

// UpTo applies pending migrations up to and including version.
func UpTo(ctx context.Context, url string, version int64) ([]*goose.MigrationResult, error) {
	return withProvider(ctx, url, "up", func(p *goose.Provider, ctx context.Context) ([]*goose.MigrationResult, error) {
		return p.UpTo(ctx, version)
	})
}

// Down rolls back the most recently applied migration. When nothing is
// applied it returns an error for which [IsNothingToDo] is true.
func Down(ctx context.Context, url string) (*goose.MigrationResult, error) {
	return withProvider(ctx, url, "down", (*goose.Provider).Down)
}

// DownTo rolls back every migration newer than version; version 0 removes
// the whole schema.
func DownTo(ctx context.Context, url string, version int64) ([]*goose.MigrationResult, error) {
	return withProvider(ctx, url, "down", func(p *goose.Provider, ctx context.Context) ([]*goose.MigrationResult, error) {
		return p.DownTo(ctx, version)
	})
}

// Status reports every known migration and whether the server at url has
// applied it, oldest first.
func Status(ctx context.Context, url string) ([]*goose.MigrationStatus, error) {
	return withProvider(ctx, url, "status", (*goose.Provider).Status)
}

// UpAll applies pending migrations to each server in turn, in the order
// given (primary first, then the shards), and stops at the first failure so
// that shards never run ahead of the primary.
func UpAll(ctx context.Context, urls ...string) error {
	for _, u := range urls {
		if _, err := Up(ctx, u); err != nil {
			return err
		}
	}
	return nil
}

// withProvider opens a short-lived *sql.DB on url, runs fn with a provider
// on it, and closes it. Every error names the server by its redacted DSN,
// since the same command runs against several of them.
func withProvider[T any](ctx context.Context, url, op string, fn func(*goose.Provider, context.Context) (T, error)) (T, error) {
	res, err := func() (T, error) {
		db, err := open(url)
		if err != nil {
			var zero T
			return zero, err
		}
		defer db.Close()
		p, err := NewProvider(db)
		if err != nil {
			var zero T
			return zero, err
		}
		return fn(p, ctx)
	}()
	if err != nil {
		return res, &Error{Op: op, DSN: dsn.Redact(url), Err: err}
	}
	return res, nil
}

// open opens a database/sql handle on url with pgx's stdlib driver, the way
// goose needs it. Parse errors from pgx already hide the password.
func open(url string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	return stdlib.OpenDB(*cfg), nil
}

// Error is returned by the DSN-taking functions ([Up], [Down], [Status], ...).
// It says which operation failed on which server; DSN is already redacted.
type Error struct {
	Op  string // "up", "down" or "status"
	DSN string // redacted with dsn.Redact
	Err error
}

func (e *Error) Error() string {
	return fmt.Sprintf("migrations: %s on %s: %v", e.Op, e.DSN, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// IsNothingToDo reports whether err only says there was nothing to roll back
// or apply, which a CLI reports as a no-op rather than a failure.
func IsNothingToDo(err error) bool {
	return errors.Is(err, goose.ErrNoNextVersion) || errors.Is(err, goose.ErrNoCurrentVersion)
}

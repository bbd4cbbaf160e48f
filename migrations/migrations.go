package migrations

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/pgfleet/pgfleet/internal/dsn"
)

// DefaultTableName is the version table when [Options.TableName] is empty.
// It is not goose's default (goose_db_version), so that these migrations can
// share a database with an application that runs goose for other tables.
const DefaultTableName = "pgfleet_migrations"

// DefaultLockID is the key of the session advisory lock that serialises
// migrators when [Options.LockID] is 0. It differs from goose's default so
// that these migrations and another goose set do not wait for each other.
// (It is "pgfleet" in ASCII.)
const DefaultLockID int64 = 0x7067666c656574

// lockWait is how long a migrator waits for another one to finish: goose
// probes the lock once per lockProbe, so a waiting pod starts at most one
// probe after the lock is released. Five minutes covers a slow migration on
// a busy server; past that the operator is told the lock is held.
const (
	lockProbe = 1   // seconds
	lockTries = 300 // * lockProbe = 5 minutes
)

// Options are the choices of a [Migrator]. The zero value is the defaults.
type Options struct {
	// TableName is the table in which applied versions are recorded, one
	// identifier (quoted, so any name works; it is found through the
	// search_path, like an unqualified table). Default: [DefaultTableName],
	// "pgfleet_migrations".
	TableName string
	// LockID is the key of the Postgres session advisory lock taken while
	// migrating. Default (0): [DefaultLockID]. Give two migration sets that
	// share a database the same LockID to run them one after the other.
	LockID int64
}

// Migrator applies one set of goose SQL migrations (the user's) to servers
// given by DSN: the primary and every shard carry the same schema.
type Migrator struct {
	fsys fs.FS
	opts Options
}

// New returns a migrator for the goose SQL migrations at the root of fsys
// (files named NNNNN_name.sql; for an embed.FS whose files are in a
// directory, pass fs.Sub(files, "dir"); for a directory, os.DirFS(dir)).
// Go migrations are not run: goose's global registry belongs to whoever
// else the binary links.
func New(fsys fs.FS, opts Options) (*Migrator, error) {
	if fsys == nil {
		return nil, errors.New("migrations: New: nil fs.FS: pass os.DirFS(dir) or an embed.FS holding the .sql files")
	}
	files, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("migrations: New: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("migrations: New: %w: no .sql files at the root of the file system (for files in a subdirectory of an embed.FS use fs.Sub(files, \"dir\"))", goose.ErrNoMigrations)
	}
	if opts.TableName == "" {
		opts.TableName = DefaultTableName
	}
	if len(opts.TableName) > 63 || strings.ContainsRune(opts.TableName, 0) {
		return nil, fmt.Errorf("migrations: Options.TableName %q: want at most 63 bytes and no NUL (Postgres' identifier limit)", opts.TableName)
	}
	if opts.LockID == 0 {
		opts.LockID = DefaultLockID
	}
	return &Migrator{fsys: fsys, opts: opts}, nil
}

// Options returns the migrator's options with the defaults filled in.
func (m *Migrator) Options() Options { return m.opts }

// Provider returns a goose provider for the migrations on db, with the
// session locker and version table of [Options], for callers that already
// hold a *sql.DB (a Postgres driver: pgx's stdlib driver, "pgx") and want
// goose's whole API. The caller keeps ownership of db: do not call the
// provider's Close unless the provider may close db.
func (m *Migrator) Provider(db *sql.DB) (*goose.Provider, error) {
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(m.opts.LockID),
		lock.WithLockTimeout(lockProbe, lockTries),
	)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	st, err := newStore(m.opts.TableName)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider("", db, m.fsys,
		goose.WithStore(st),
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
func (m *Migrator) Up(ctx context.Context, url string) ([]*goose.MigrationResult, error) {
	return withProvider(ctx, m, url, "up", (*goose.Provider).Up)
}

// UpTo applies pending migrations up to and including version.
func (m *Migrator) UpTo(ctx context.Context, url string, version int64) ([]*goose.MigrationResult, error) {
	return withProvider(ctx, m, url, "up", func(p *goose.Provider, ctx context.Context) ([]*goose.MigrationResult, error) {
		return p.UpTo(ctx, version)
	})
}

// Down rolls back the most recently applied migration. When nothing is
// applied it returns an error for which [IsNothingToDo] is true.
func (m *Migrator) Down(ctx context.Context, url string) (*goose.MigrationResult, error) {
	return withProvider(ctx, m, url, "down", (*goose.Provider).Down)
}

// DownTo rolls back every migration newer than version; version 0 removes
// the whole schema.
func (m *Migrator) DownTo(ctx context.Context, url string, version int64) ([]*goose.MigrationResult, error) {
	return withProvider(ctx, m, url, "down", func(p *goose.Provider, ctx context.Context) ([]*goose.MigrationResult, error) {
		return p.DownTo(ctx, version)
	})
}

// Status reports every known migration and whether the server at url has
// applied it, oldest first.
func (m *Migrator) Status(ctx context.Context, url string) ([]*goose.MigrationStatus, error) {
	return withProvider(ctx, m, url, "status", (*goose.Provider).Status)
}

// UpAll applies pending migrations to each server in turn, in the order
// given (primary first, then the shards), and stops at the first failure so
// that shards never run ahead of the primary.
func (m *Migrator) UpAll(ctx context.Context, urls ...string) error {
	for _, u := range urls {
		if _, err := m.Up(ctx, u); err != nil {
			return err
		}
	}
	return nil
}

// withProvider opens a short-lived *sql.DB on url, runs fn with a provider
// on it, and closes it. Every error names the server by its redacted DSN,
// since the same command runs against several of them.
func withProvider[T any](ctx context.Context, m *Migrator, url, op string, fn func(*goose.Provider, context.Context) (T, error)) (T, error) {
	res, err := func() (T, error) {
		db, err := open(url)
		if err != nil {
			var zero T
			return zero, err
		}
		defer db.Close()
		p, err := m.Provider(db)
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

// Error is returned by the DSN-taking methods ([Migrator.Up], [Migrator.Down], [Migrator.Status], ...).
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

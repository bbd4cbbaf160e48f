package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pressly/goose/v3"

	"github.com/pgfleet/pgfleet/internal/dsn"
	"github.com/pgfleet/pgfleet/migrations"
)

var migrateCommand = &command{
	Name:    "migrate",
	Summary: "apply, roll back or list schema migrations on the primary and every shard",
	Usage:   migrateUsage,
	Run:     runMigrate,
}

const migrateUsage = `usage: pgfleet migrate up|down|status --dir DIR [--dsn DSN]... [--to VERSION] [--table NAME]

Runs your goose SQL migrations (the NNNNN_name.sql files in DIR) against each
server given, in turn. Every server carries the same schema: pass the primary
and every shard.

  up      apply pending migrations, primary first; stops at the first failure,
          so shards never run ahead of the primary
  down    roll back the newest migration, shards first, then the primary
  status  list each migration and whether each server has applied it

flags:
  --dir DIR     the directory of your migrations (required)
  --table NAME  the version table (default pgfleet_migrations)
  --dsn DSN     a server, as a URL or key=value string; repeat it for each
                shard. Default: $DATABASE_URL
  --to VERSION  up: apply only up to VERSION; down: roll back every migration
                newer than VERSION (0 removes the whole schema)

Running it from several machines at once is safe: migrators wait for each
other on a Postgres advisory lock (up to 5 minutes).
`

// dsnList collects repeated --dsn flags. String must not show them: flag
// prints defaults, and a DSN can hold a password.
type dsnList []string

func (l *dsnList) String() string     { return fmt.Sprintf("%d DSNs", len(*l)) }
func (l *dsnList) Set(s string) error { *l = append(*l, s); return nil }

func runMigrate(ctx context.Context, e *env, args []string) error {
	const cmd = "migrate"
	action, rest, err := takeAction(cmd, args, "up", "down", "status")
	if err != nil {
		return err
	}

	fs := flag.NewFlagSet("migrate "+action, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by run, with the usage text
	var dsns dsnList
	fs.Var(&dsns, "dsn", "")
	to := fs.Int64("to", -1, "")
	dir := fs.String("dir", "", "")
	table := fs.String("table", migrations.DefaultTableName, "")
	if err := parseFlags(fs, rest, cmd, "migrate "+action); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef(cmd, "migrate %s: unexpected argument %q: servers are given with --dsn", action, fs.Arg(0))
	}
	if len(dsns) == 0 {
		if u := e.Getenv("DATABASE_URL"); u != "" {
			dsns = dsnList{u}
		} else {
			return usagef(cmd, "migrate %s: no server given: pass --dsn postgres://user@host:5432/db (once per shard) or set DATABASE_URL", action)
		}
	}
	toSet := false
	fs.Visit(func(f *flag.Flag) { toSet = toSet || f.Name == "to" })
	switch {
	case toSet && action == "status":
		return usagef(cmd, "migrate status: --to only applies to up and down")
	case toSet && *to < 0, toSet && action == "up" && *to == 0:
		return usagef(cmd, "migrate %s: --to %d is not a version: versions start at 1 (down --to 0 removes everything)", action, *to)
	}
	if *dir == "" {
		return usagef(cmd, "migrate %s: no migrations given: pass --dir DIR, the directory of your goose migrations (NNNNN_name.sql)", action)
	}
	if st, err := os.Stat(*dir); err != nil || !st.IsDir() {
		return usagef(cmd, "migrate %s: --dir %s is not a directory: pass the directory of your goose migrations (NNNNN_name.sql)", action, *dir)
	}
	m, err := migrations.New(os.DirFS(*dir), migrations.Options{TableName: *table})
	if err != nil {
		return usagef(cmd, "migrate %s: --dir %s: %v", action, *dir, err)
	}

	switch action {
	case "up":
		return migrateUp(ctx, e, m, dsns, *to)
	case "down":
		return migrateDown(ctx, e, m, dsns, *to)
	default:
		return migrateStatus(ctx, e, m, dsns)
	}
}

func migrateUp(ctx context.Context, e *env, m *migrations.Migrator, dsns []string, to int64) error {
	for i, url := range dsns {
		var res []*goose.MigrationResult
		var err error
		if to > 0 {
			res, err = m.UpTo(ctx, url, to)
		} else {
			res, err = m.Up(ctx, url)
		}
		printResults(e.Stdout, url, res)
		if err != nil {
			return withHint(err, m, dsns[i+1:], "not migrated")
		}
		if len(res) == 0 {
			fmt.Fprintf(e.Stdout, "%s: up to date\n", dsn.Redact(url))
		}
	}
	return nil
}

func migrateDown(ctx context.Context, e *env, m *migrations.Migrator, dsns []string, to int64) error {
	order := slices.Clone(dsns)
	slices.Reverse(order)
	for i, url := range order {
		var res []*goose.MigrationResult
		var err error
		if to >= 0 {
			res, err = m.DownTo(ctx, url, to)
		} else {
			var r *goose.MigrationResult
			r, err = m.Down(ctx, url)
			if r != nil {
				res = append(res, r)
			}
		}
		printResults(e.Stdout, url, res)
		switch {
		case migrations.IsNothingToDo(err) || err == nil && len(res) == 0:
			fmt.Fprintf(e.Stdout, "%s: nothing to roll back\n", dsn.Redact(url))
		case err != nil:
			return withHint(err, m, order[i+1:], "not rolled back")
		}
	}
	return nil
}

func migrateStatus(ctx context.Context, e *env, m *migrations.Migrator, dsns []string) error {
	var errs []error
	for _, url := range dsns {
		st, err := m.Status(ctx, url)
		if err != nil {
			errs = append(errs, withHint(err, m, nil, ""))
			continue
		}
		fmt.Fprintf(e.Stdout, "%s\n", dsn.Redact(url))
		for _, s := range st {
			applied := ""
			if s.State == goose.StateApplied {
				applied = s.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
			}
			fmt.Fprintf(e.Stdout, "  %-8s %-20s %s\n", s.State, applied, path.Base(s.Source.Path))
		}
	}
	return errors.Join(errs...)
}

func printResults(w io.Writer, url string, res []*goose.MigrationResult) {
	for _, r := range res {
		fmt.Fprintf(w, "%s: %s\n", dsn.Redact(url), r)
	}
}

// withHint adds to err what to do about it, and which servers the failure
// left untouched, so the operator knows where the fleet stands.
func withHint(err error, m *migrations.Migrator, untouched []string, what string) error {
	var (
		partial *goose.PartialError
		conn    *pgconn.ConnectError
		parse   *pgconn.ParseConfigError
		hint    string
	)
	switch {
	case errors.As(err, &partial):
		hint = fmt.Sprintf("migration %s failed and was rolled back; the ones before it are applied. Fix the migration or the data it trips on, then rerun",
			path.Base(partial.Failed.Source.Path))
	case errors.As(err, &conn):
		hint = "cannot reach the server: check that it is running and that the DSN's host, port, user and password are right"
	case strings.Contains(err.Error(), "failed to acquire lock"):
		hint = fmt.Sprintf("another migrator held the advisory lock for 5 minutes: find it with SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND (classid::bigint << 32 | objid::bigint) = %d, wait for it or end it, then rerun", m.Options().LockID)
	case strings.Contains(err.Error(), "missing (out-of-order)"):
		hint = "the server has a newer migration applied than one in this binary: an older migration was added after a newer one shipped. Renumber it above the newest applied version"
	case errors.As(err, &parse):
		hint = "the DSN is malformed: use postgres://user:password@host:5432/db?sslmode=disable or host=... user=... dbname=..."
	}
	msg := err.Error()
	if hint != "" {
		msg += "\n  fix: " + hint
	}
	if len(untouched) > 0 {
		red := make([]string, len(untouched))
		for i, u := range untouched {
			red[i] = dsn.Redact(u)
		}
		msg += fmt.Sprintf("\n  %s (stopped before them): %s", what, strings.Join(red, ", "))
	}
	return &hinted{msg: msg, err: err}
}

type hinted struct {
	msg string
	err error
}

func (h *hinted) Error() string { return h.msg }
func (h *hinted) Unwrap() error { return h.err }

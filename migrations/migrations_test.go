package migrations

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/pressly/goose/v3"
)

// shop is a small migration set, in memory: two versions, each with an Up
// and a Down section.
var shop = fstest.MapFS{
	"00001_customers.sql": sqlFile(`CREATE TABLE customers (id bigint PRIMARY KEY, email text NOT NULL UNIQUE);`, `DROP TABLE customers;`),
	"00002_orders.sql":    sqlFile(`CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL);`, `DROP TABLE orders;`),
}

// newMigrator returns a migrator for fsys with default options.
func newMigrator(t *testing.T, fsys fs.FS) *Migrator {
	t.Helper()
	m, err := New(fsys, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// newProvider is a goose provider for fsys on db, default options.
func newProvider(db *sql.DB, fsys fs.FS) (*goose.Provider, error) {
	m, err := New(fsys, Options{})
	if err != nil {
		return nil, err
	}
	return m.Provider(db)
}

func TestUpStatusDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := newDatabase(t, server(t))
	m := newMigrator(t, shop)
	total := len(shop)

	st, err := m.Status(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != total || st[0].State != goose.StatePending {
		t.Fatalf("fresh database: status %v, want %d pending", st, total)
	}

	res, err := m.Up(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != total {
		t.Fatalf("Up applied %d, want %d", len(res), total)
	}
	res, err = m.Up(ctx, url)
	if err != nil || len(res) != 0 {
		t.Fatalf("second Up = %v, %v; want nothing applied", res, err)
	}
	st = must(m.Status(ctx, url))
	for _, s := range st {
		if s.State != goose.StateApplied || s.AppliedAt.IsZero() {
			t.Errorf("after Up: %s is %s", s.Source.Path, s.State)
		}
	}

	db := openDB(t, url)
	var goose, ours bool
	if err := db.QueryRowContext(ctx, `SELECT to_regclass('goose_db_version') IS NOT NULL, to_regclass($1) IS NOT NULL`, DefaultTableName).Scan(&goose, &ours); err != nil {
		t.Fatal(err)
	}
	if goose || !ours {
		t.Errorf("version table: goose_db_version exists=%v, %s exists=%v; want only ours", goose, DefaultTableName, ours)
	}

	down, err := m.Down(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if down.Source.Version != int64(total) || down.Direction != "down" {
		t.Errorf("Down rolled back %+v, want version %d", down.Source, total)
	}
	if _, err := m.DownTo(ctx, url, 0); err != nil {
		t.Fatal(err)
	}
	var tables int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> $1`, DefaultTableName).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("after DownTo(0): %d tables left, want 0", tables)
	}
	_, err = m.Down(ctx, url)
	if !IsNothingToDo(err) {
		t.Errorf("Down on an empty schema = %v, want a nothing-to-do error", err)
	}
	if _, err := m.UpTo(ctx, url, 1); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentMigrators is the reason for the session locker: every pod of
// a fleet runs `migrate up` on start. The migration here is deliberately slow
// and not idempotent (a CREATE TABLE plus an INSERT into a counter), so two
// migrators applying it would either fail or count 2.
func TestConcurrentMigrators(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := server(t)

	t.Run("slow non-idempotent migration", func(t *testing.T) {
		t.Parallel()
		url := newDatabase(t, c)
		fsys := fstest.MapFS{
			"00001_counter.sql": sqlFile(`CREATE TABLE applied (n int NOT NULL); INSERT INTO applied VALUES (1);`,
				`DROP TABLE applied;`),
			"00002_slow.sql": sqlFile(`SELECT pg_sleep(0.3); CREATE TABLE slow (); INSERT INTO applied VALUES (2);`,
				`DROP TABLE slow;`),
		}
		const migrators = 6
		applied := runConcurrently(t, migrators, func() ([]*goose.MigrationResult, error) {
			p, err := newProvider(openDB(t, url), fsys)
			if err != nil {
				return nil, err
			}
			return p.Up(ctx)
		})
		if applied[1] != 1 || applied[2] != 1 {
			t.Errorf("across %d migrators: version 1 applied %d times, version 2 %d times; want once each", migrators, applied[1], applied[2])
		}
		var n, sum int
		if err := openDB(t, url).QueryRowContext(ctx, `SELECT count(*), sum(n) FROM applied`).Scan(&n, &sum); err != nil {
			t.Fatal(err)
		}
		if n != 2 || sum != 3 {
			t.Errorf("applied table has %d rows summing to %d; want rows 1 and 2", n, sum)
		}
		assertNoAdvisoryLock(t, url)
	})

	t.Run("a whole set from several migrators", func(t *testing.T) {
		t.Parallel()
		url := newDatabase(t, c)
		m := newMigrator(t, shop)
		applied := runConcurrently(t, 4, func() ([]*goose.MigrationResult, error) { return m.Up(ctx, url) })
		// Without this, migrators that all applied nothing would pass.
		if total := len(shop); len(applied) != total {
			t.Errorf("%d versions applied, want all %d", len(applied), total)
		}
		for v, n := range applied {
			if n != 1 {
				t.Errorf("version %d applied %d times, want 1", v, n)
			}
		}
		var rows int
		if err := openDB(t, url).QueryRowContext(ctx, `SELECT count(*) FROM `+DefaultTableName+` WHERE version_id > 0`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != len(applied) {
			t.Errorf("%s has %d rows, want %d", DefaultTableName, rows, len(applied))
		}
	})
}

// runConcurrently starts n migrators at once and counts, per version, how
// many of them applied it.
func runConcurrently(t *testing.T, n int, up func() ([]*goose.MigrationResult, error)) map[int64]int {
	t.Helper()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		start   = make(chan struct{})
		applied = map[int64]int{}
	)
	for range n {
		wg.Go(func() {
			<-start
			res, err := up()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("migrator: %v", err)
				return
			}
			for _, r := range res {
				applied[r.Source.Version]++
			}
		})
	}
	close(start)
	wg.Wait()
	return applied
}

// assertNoAdvisoryLock looks in url's database only: advisory locks are per
// database, and parallel subtests migrate other databases of the same server
// under the same lock ID.
func assertNoAdvisoryLock(t *testing.T, url string) {
	t.Helper()
	var held int
	err := openDB(t, url).QueryRowContext(context.Background(),
		`SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND ((classid::bigint << 32) | objid::bigint) = $1
		   AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`, DefaultLockID).Scan(&held)
	if err != nil {
		t.Fatal(err)
	}
	if held != 0 {
		t.Errorf("advisory lock %d still held by %d sessions after all migrators returned", DefaultLockID, held)
	}
}

// TestEdgeCases feeds the provider migration sets that only exist in memory,
// the cases goose must refuse or report precisely.
func TestEdgeCases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := server(t)

	t.Run("no migrations", func(t *testing.T) {
		t.Parallel()
		_, err := newProvider(openDB(t, c.Primary.DSN()), fstest.MapFS{"README.md": {Data: []byte("not a migration")}})
		if !errors.Is(err, goose.ErrNoMigrations) {
			t.Errorf("err = %v, want ErrNoMigrations", err)
		}
	})

	t.Run("failure mid-way keeps earlier versions and rolls back the failed one", func(t *testing.T) {
		t.Parallel()
		url := newDatabase(t, c)
		db := openDB(t, url)
		p := must(newProvider(db, fstest.MapFS{
			"00001_ok.sql":     sqlFile(`CREATE TABLE a ();`, `DROP TABLE a;`),
			"00002_broken.sql": sqlFile(`CREATE TABLE b (); SELECT no_such_column FROM a;`, `DROP TABLE b;`),
			"00003_never.sql":  sqlFile(`CREATE TABLE c ();`, `DROP TABLE c;`),
		}))
		_, err := p.Up(ctx)
		var partial *goose.PartialError
		if !errors.As(err, &partial) {
			t.Fatalf("err = %v, want a *goose.PartialError", err)
		}
		if len(partial.Applied) != 1 || partial.Failed.Source.Version != 2 {
			t.Errorf("applied %d, failed version %d; want 1 applied, version 2 failed", len(partial.Applied), partial.Failed.Source.Version)
		}
		if v := must(p.GetDBVersion(ctx)); v != 1 {
			t.Errorf("db version %d, want 1", v)
		}
		var b bool
		if err := db.QueryRowContext(ctx, `SELECT to_regclass('b') IS NOT NULL`).Scan(&b); err != nil {
			t.Fatal(err)
		}
		if b {
			t.Error("table b of the failed migration exists: it ran outside a transaction")
		}
	})

	t.Run("missing migration is refused", func(t *testing.T) {
		t.Parallel()
		url := newDatabase(t, c)
		db := openDB(t, url)
		one := sqlFile(`CREATE TABLE one ();`, `DROP TABLE one;`)
		three := sqlFile(`CREATE TABLE three ();`, `DROP TABLE three;`)
		if _, err := must(newProvider(db, fstest.MapFS{"00001_one.sql": one, "00003_three.sql": three})).Up(ctx); err != nil {
			t.Fatal(err)
		}
		// A branch merged later brings version 2, older than what is applied.
		p := must(newProvider(db, fstest.MapFS{
			"00001_one.sql": one, "00003_three.sql": three,
			"00002_two.sql": sqlFile(`CREATE TABLE two ();`, `DROP TABLE two;`),
		}))
		if _, err := p.Up(ctx); err == nil || !strings.Contains(err.Error(), "missing") {
			t.Errorf("Up with an out-of-order migration = %v, want an error about the missing version", err)
		}
	})

	t.Run("file without annotations", func(t *testing.T) {
		t.Parallel()
		url := newDatabase(t, c)
		p := must(newProvider(openDB(t, url), fstest.MapFS{"00001_bare.sql": {Data: []byte("CREATE TABLE bare ();")}}))
		if _, err := p.Up(ctx); err == nil {
			t.Error("Up accepted a file without -- +goose Up")
		}
	})

	t.Run("down on a fresh database", func(t *testing.T) {
		t.Parallel()
		url := newDatabase(t, c)
		p := must(newProvider(openDB(t, url), fstest.MapFS{"00001_a.sql": sqlFile(`CREATE TABLE a ();`, `DROP TABLE a;`)}))
		if _, err := p.Down(ctx); !IsNothingToDo(err) {
			t.Errorf("Down = %v, want nothing to do", err)
		}
	})
}

// TestErrorsHidePasswords runs the DSN-taking API against servers that fail
// in the ways an operator meets, and checks the password never shows.
func TestErrorsHidePasswords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const secret = "Hunter2Secret"
	for _, url := range []string{
		"postgres://postgres:" + secret + "@127.0.0.1:1/x?sslmode=disable&connect_timeout=2",
		"host=127.0.0.1 port=1 user=postgres password=" + secret + " sslmode=disable connect_timeout=2",
		"postgres://postgres:" + secret + "@127.0.0.1:1/x?sslmode=bogus",
		"host=127.0.0.1 password='" + secret + " port=5",
	} {
		_, err := newMigrator(t, shop).Up(ctx, url)
		if err == nil {
			t.Fatalf("Up(%q) succeeded", url)
		}
		var me *Error
		if !errors.As(err, &me) || me.Op != "up" {
			t.Errorf("Up(%q) = %T, want *migrations.Error", url, err)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

func sqlFile(up, down string) *fstest.MapFile {
	return &fstest.MapFile{Data: []byte("-- +goose Up\n" + up + "\n-- +goose Down\n" + down + "\n")}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

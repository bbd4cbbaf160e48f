package migrations

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pressly/goose/v3"
)

// Bad input to New names the cause and the fix, without a server.
func TestNewRejectsWhatIsNotAMigrationSet(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		fsys fstest.MapFS
		opts Options
		want string
	}{
		{"empty", fstest.MapFS{}, Options{}, "no .sql files"},
		{"files in a subdirectory", fstest.MapFS{"db/00001_a.sql": sqlFile("SELECT 1;", "SELECT 1;")}, Options{}, `fs.Sub(files, "dir")`},
		{"table name too long", shop, Options{TableName: strings.Repeat("t", 64)}, "at most 63 bytes"},
	} {
		_, err := New(tc.fsys, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "migrations: ") {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	if _, err := New(nil, Options{}); err == nil || !strings.Contains(err.Error(), "os.DirFS") {
		t.Errorf("nil fs: %v", err)
	}
	if _, err := New(fstest.MapFS{}, Options{}); !errors.Is(err, goose.ErrNoMigrations) {
		t.Errorf("empty fs: %v, want goose.ErrNoMigrations", err)
	}
	m, err := New(shop, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if o := m.Options(); o.TableName != "pgfleet_migrations" || o.LockID != DefaultLockID {
		t.Errorf("defaults: %+v", o)
	}
}

// TestTableNameIsQuoted: goose pastes the version table's name into its SQL
// unquoted, and into a string literal to check that it exists, so a name
// that needs quoting failed to migrate and, on the second run, tried to
// create the table again. Each database here is migrated twice.
func TestTableNameIsQuoted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := server(t)
	for _, table := range []string{"Fleet-Versions", `odd"name`, "pgfleet_migrations"} {
		url := newDatabase(t, c)
		m, err := New(shop, Options{TableName: table})
		if err != nil {
			t.Fatal(err)
		}
		for run := range 2 {
			if _, err := m.Up(ctx, url); err != nil {
				t.Fatalf("table %q, run %d: %v", table, run+1, err)
			}
		}
		var n int
		if err := openDB(t, url).QueryRowContext(ctx, `SELECT count(*) FROM pg_tables WHERE tablename = $1`, table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("version table %q: %d tables with that exact name, want 1", table, n)
		}
	}
}

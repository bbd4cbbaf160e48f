package migrations

import (
	"context"
	"database/sql"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/pgfleet/pgfleet/dbx/dbxtest"
)

// database/sql and pgx start goroutines per connection: every test must
// close what it opens.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// server is one Postgres shared by the tests of a top-level test function;
// each test gets its own database on it (newDatabase), which is cheaper than
// a server per subtest and just as isolated for schema work.
func server(t *testing.T) *dbxtest.Cluster {
	t.Helper()
	return dbxtest.Start(t, dbxtest.Topology{})
}

var dbSeq atomic.Int64

// newDatabase creates an empty database on c's primary and returns its DSN.
func newDatabase(t *testing.T, c *dbxtest.Cluster) string {
	t.Helper()
	ctx := context.Background()
	name := "mig_" + strings.ToLower(strings.NewReplacer("/", "_", " ", "_", "-", "_").Replace(t.Name()))
	if len(name) > 50 {
		name = name[:50]
	}
	name += "_" + strconv.FormatInt(dbSeq.Add(1), 10)
	conn, err := pgx.Connect(ctx, c.Primary.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(c.Primary.DSN())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// openDB opens a *sql.DB on url, closed when the test ends.
func openDB(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := open(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

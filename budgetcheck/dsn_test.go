package budgetcheck

import (
	"strings"
	"testing"
)

// TestRedactedHidesCredentials checks that a DSN is printed without user or
// password in every form parseDSN reads, Npgsql's aliases (PSW, UID, User
// Name) included.
func TestRedactedHidesCredentials(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"postgres://alice:hunter2@db:5432/app?sslpassword=hunter2&pool_max_conns=5",
		"jdbc:postgresql://db/app?user=alice&password=hunter2",
		"host=db user=alice password=hunter2 dbname=app",
		"Host=db;Username=alice;Password=hunter2;Maximum Pool Size=20",
		"Server=db;UID=alice;PSW=hunter2",
		"Server=db;User Name=alice;PWD=hunter2",
	} {
		d, ok := parseDSN(s)
		if !ok {
			t.Errorf("parseDSN(%q) failed", s)
			continue
		}
		if r := d.redacted(); strings.Contains(r, "alice") || strings.Contains(r, "hunter2") || !strings.Contains(r, "db") {
			t.Errorf("redacted(%q) = %q", s, r)
		}
	}
}

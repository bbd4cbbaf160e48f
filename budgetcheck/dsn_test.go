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
		"Host=db;User ID=alice;SSL Password=hunter2;Client Key=hunter2",
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

// TestParseDSNSemicolonInPassword: a libpq DSN whose password holds ";" was
// read as ADO.NET and cut at ";", so that "user=... password=..." became
// part of the host and of the database ID printed in every format.
func TestParseDSNSemicolonInPassword(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, host, db, password string }{
		{"host=db.example.com user=app password=Semi;colon dbname=app", "db.example.com", "app", "Semi;colon"},
		{"host = db user=app password = 'it\\'s;a pw' dbname=app", "db", "app", "it's;a pw"},
		{"host=db password='a;b c' dbname=app", "db", "app", "a;b c"},
		{"host=db;port=5432;database=app;password=x", "db", "app", "x"},
		{`Host=db;Password="a;b";Database=app`, "db", "app", "a;b"},
		{"Server=db;Database=app;Password='it''s;x'", "db", "app", "it's;x"},
	} {
		d, ok := parseDSN(tc.in)
		if !ok || d.host != tc.host || d.dbname != tc.db {
			t.Errorf("parseDSN(%q) = host %q db %q ok %v, want host %q db %q", tc.in, d.host, d.dbname, ok, tc.host, tc.db)
		}
		if p := d.params["password"]; p != tc.password {
			t.Errorf("parseDSN(%q): password %q, want %q", tc.in, p, tc.password)
		}
	}
}

// TestParseDSNRejectsImplausibleHost: a string that is neither valid libpq
// nor ADO.NET must not yield a host holding the rest of the string.
func TestParseDSNRejectsImplausibleHost(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"host = db password = 'unterminated;x dbname=app", "Host=db user=x;Password=y"} {
		if d, ok := parseDSN(s); ok {
			t.Errorf("parseDSN(%q) = host %q, want not a DSN", s, d.host)
		}
	}
}

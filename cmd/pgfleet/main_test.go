package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/pgfleet/pgfleet/dbx/dbxtest"
	"github.com/pgfleet/pgfleet/internal/demo/seed"
)

// database/sql starts goroutines per handle; the CLI must close them all.
//
// With PGFLEET_TEST_AS_CLI=1 the test binary is the CLI itself: tests that
// must SIGKILL a running command start it that way.
func TestMain(m *testing.M) {
	if os.Getenv("PGFLEET_TEST_AS_CLI") == "1" {
		os.Exit(run(context.Background(), os.Args[1:], &env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}))
	}
	goleak.VerifyTestMain(m)
}

type result struct {
	code           int
	stdout, stderr string
}

// pgfleet runs the CLI in-process with the given environment.
func pgfleet(t *testing.T, environ map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &env{
		Stdout: &out, Stderr: &errOut,
		Getenv: func(k string) string { return environ[k] },
	})
	return result{code, out.String(), errOut.String()}
}

// migrationsDir writes the demo shop's migrations into a directory, as a
// user's repository holds theirs.
func migrationsDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, seed.Schema()); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestUsage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		env  map[string]string
		code int
		want string // in stdout for code 0, else in stderr
	}{
		{nil, nil, 2, "usage: pgfleet <command>"},
		{[]string{"help"}, nil, 0, "migrate "},
		{[]string{"--help"}, nil, 0, "commands:"},
		{[]string{"help", "migrate"}, nil, 0, "usage: pgfleet migrate"},
		{[]string{"help", "migrat"}, nil, 2, `did you mean "migrate"`},
		{[]string{"help", "a", "b"}, nil, 2, "at most one"},
		{[]string{"migrat"}, nil, 2, `unknown command "migrat" (did you mean "migrate"?)`},
		{[]string{"frobnicate"}, nil, 2, `unknown command "frobnicate"`},
		{[]string{"migrate"}, nil, 2, "needs an action"},
		{[]string{"migrate", "-h"}, nil, 0, "usage: pgfleet migrate"},
		{[]string{"migrate", "up", "-h"}, nil, 0, "--to VERSION"},
		{[]string{"budget", "status", "-h"}, nil, 0, "usage: pgfleet budget"},
		{[]string{"shard", "move", "-h"}, nil, 0, "usage: pgfleet shard"},
		{[]string{"rules", "-h"}, nil, 0, "usage: pgfleet rules"},
		{[]string{"migrate", "sideways"}, nil, 2, "unknown migrate action"},
		{[]string{"migrate", "stauts"}, nil, 2, `did you mean "status"`},
		{[]string{"migrate", "up"}, nil, 2, "DATABASE_URL"},
		{[]string{"migrate", "up", "--dns", "x"}, nil, 2, "flag provided but not defined: -dns"},
		{[]string{"migrate", "up", "--dsn", "x", "extra"}, nil, 2, `unexpected argument "extra"`},
		{[]string{"migrate", "status", "--dsn", "x", "--to", "1"}, nil, 2, "--to only applies"},
		{[]string{"migrate", "up", "--dsn", "x", "--to", "0"}, nil, 2, "versions start at 1"},
		{[]string{"migrate", "down", "--dsn", "x", "--to", "-3"}, nil, 2, "not a version"},
		// pgfleet ships no schema: the user's migrations are required.
		{[]string{"migrate", "up", "--dsn", "x"}, nil, 2, "no migrations given: pass --dir DIR"},
		{[]string{"migrate", "up", "--dsn", "x", "--dir", filepath.Join(t.TempDir(), "nope")}, nil, 2, "is not a directory"},
		{[]string{"migrate", "up", "--dsn", "x", "--dir", t.TempDir()}, nil, 2, "no .sql files"},
	} {
		r := pgfleet(t, tc.env, tc.args...)
		got := r.stderr
		if tc.code == 0 {
			got = r.stdout
		}
		if r.code != tc.code || !strings.Contains(got, tc.want) {
			t.Errorf("pgfleet %q: exit %d, output:\n%s%s\nwant exit %d and %q", tc.args, r.code, r.stdout, r.stderr, tc.code, tc.want)
		}
	}
}

// TestMigrateFleet runs the operator's path on a primary and two shards:
// up everywhere, status, down, and the DSN from DATABASE_URL. Every DSN
// carries a password (the test servers trust any), which must never show.
func TestMigrateFleet(t *testing.T) {
	t.Parallel()
	c := dbxtest.Start(t, dbxtest.Topology{Shards: 2})
	const secret = "Tr0ub4dor"
	flags := []string{"--dir", migrationsDir(t)}
	for _, n := range c.Nodes() {
		flags = append(flags, "--dsn", strings.Replace(n.DSN(), "postgres@", "postgres:"+secret+"@", 1))
	}
	check := func(r result, code int, wants ...string) {
		t.Helper()
		all := r.stdout + r.stderr
		if strings.Contains(all, secret) {
			t.Errorf("output shows the password:\n%s", all)
		}
		if r.code != code {
			t.Fatalf("exit %d, want %d:\n%s", r.code, code, all)
		}
		for _, w := range wants {
			if strings.Count(r.stdout, w) != 3 {
				t.Errorf("want %q once per server (3), got:\n%s", w, r.stdout)
			}
		}
	}

	check(pgfleet(t, nil, append([]string{"migrate", "status"}, flags...)...), 0, "pending ")
	check(pgfleet(t, nil, append([]string{"migrate", "up"}, flags...)...), 0, "OK    up 00001_demo_schema.sql", "postgres:xxxxx@")
	check(pgfleet(t, nil, append([]string{"migrate", "up"}, flags...)...), 0, ": up to date")
	check(pgfleet(t, nil, append([]string{"migrate", "status"}, flags...)...), 0, "applied ")
	check(pgfleet(t, nil, append([]string{"migrate", "down", "--to", "0"}, flags...)...), 0, "OK    down 00001_demo_schema.sql")
	check(pgfleet(t, nil, append([]string{"migrate", "down"}, flags...)...), 0, "nothing to roll back")

	// DATABASE_URL alone migrates one server.
	r := pgfleet(t, map[string]string{"DATABASE_URL": c.Primary.DSN()}, "migrate", "up", "--dir", flags[1])
	if r.code != 0 || !strings.Contains(r.stdout, "OK    up") {
		t.Fatalf("migrate up with DATABASE_URL: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = pgfleet(t, nil, append([]string{"migrate", "status"}, flags...)...)
	if strings.Count(r.stdout, "applied ") != 1 || strings.Count(r.stdout, "pending ") != 2 {
		t.Errorf("after migrating only the primary, status:\n%s", r.stdout)
	}
}

// TestMigrateStopsAtFirstFailure: a primary that cannot be reached must
// leave the shards alone, and the error must say which were not touched.
func TestMigrateStopsAtFirstFailure(t *testing.T) {
	t.Parallel()
	c := dbxtest.Start(t, dbxtest.Topology{})
	down := "postgres://postgres:hidden@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2"
	dir := migrationsDir(t)
	r := pgfleet(t, nil, "migrate", "up", "--dir", dir, "--dsn", down, "--dsn", c.Primary.DSN())
	if r.code != 1 {
		t.Fatalf("exit %d, want 1:\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, w := range []string{"postgres:xxxxx@127.0.0.1:1", "fix: cannot reach the server", "not migrated (stopped before them): " + c.Primary.DSN()} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "hidden") {
		t.Errorf("stderr shows the password:\n%s", r.stderr)
	}
	r = pgfleet(t, nil, "migrate", "status", "--dir", dir, "--dsn", c.Primary.DSN())
	if !strings.Contains(r.stdout, "pending") {
		t.Errorf("the second server was migrated after the first failed:\n%s", r.stdout)
	}
}

func TestEditDistance(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"migrate", "migrate", 0}, {"migrat", "migrate", 1}, {"stauts", "status", 2}, {"", "up", 2}, {"kitten", "sitting", 3}} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

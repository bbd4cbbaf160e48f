package budgetcheck_test

import (
	"math"
	"os"
	"strings"
	"testing"

	"github.com/pgfleet/pgfleet/budgetcheck"
)

// withEnv is a Deployment of 2 replicas (surge 1) reaching host db, with
// the given env entries, after a stock Postgres behind Service db.
func withEnv(t *testing.T, env ...string) []budgetcheck.Source {
	t.Helper()
	server, err := os.ReadFile("../testdata/budgetcheck-fixtures/stock-postgres.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := string(server) + `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: app
          image: x
          env:
            - {name: PGHOST, value: db}
`
	for _, e := range env {
		m += "            - " + e + "\n"
	}
	return []budgetcheck.Source{{Name: "in.yaml", Data: []byte(m)}}
}

func appClient(t *testing.T, r *budgetcheck.Report) (*budgetcheck.Database, *budgetcheck.Client) {
	t.Helper()
	for _, d := range r.Databases {
		for _, c := range d.Clients {
			if c.ID == "default/Deployment/app/app" {
				return d, c
			}
		}
	}
	t.Fatalf("no client default/Deployment/app/app in %+v", r.Databases)
	return nil, nil
}

func hasFinding(r *budgetcheck.Report, check, text string) bool {
	for _, f := range r.Findings {
		if f.Check == check && strings.Contains(f.Message, text) {
			return true
		}
	}
	return false
}

// Regression (issue 8): SQLAlchemy's pool_size=0 and max_overflow=-1 remove
// the limit; they were counted as 0+10 and 5-1 connections.
func TestSQLAlchemyNoLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  []string
		want budgetcheck.State
		pool int
	}{
		{"pool_size 0", []string{`{name: SQLALCHEMY_POOL_SIZE, value: "0"}`}, budgetcheck.Unbounded, 0},
		{"max_overflow -1", []string{`{name: SQLALCHEMY_POOL_SIZE, value: "5"}`, `{name: SQLALCHEMY_MAX_OVERFLOW, value: "-1"}`}, budgetcheck.Unbounded, 0},
		{"max_overflow -1 alone", []string{`{name: SQLALCHEMY_DATABASE_URI, value: "postgresql://db/x"}`, `{name: SQLALCHEMY_MAX_OVERFLOW, value: "-1"}`}, budgetcheck.Unbounded, 0},
		{"max_overflow alone adds to the default pool", []string{`{name: SQLALCHEMY_MAX_OVERFLOW, value: "2"}`}, budgetcheck.Known, 7},
		{"both set", []string{`{name: SQLALCHEMY_POOL_SIZE, value: "3"}`, `{name: SQLALCHEMY_MAX_OVERFLOW, value: "0"}`}, budgetcheck.Known, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := budgetcheck.Analyze(withEnv(t, tc.env...), budgetcheck.Options{})
			d, c := appClient(t, r)
			if c.Pool.State != tc.want || c.Pool.Value != tc.pool {
				t.Fatalf("pool = %+v, want %s %d", c.Pool, tc.want, tc.pool)
			}
			if tc.want == budgetcheck.Unbounded && (d.Verdict != budgetcheck.VerdictUnbounded || !hasFinding(r, "PGF003", "unbounded")) {
				t.Fatalf("verdict %s, findings %+v; want unbounded and PGF003", d.Verdict, r.Findings)
			}
		})
	}
}

// Regression (issue 8): a pool variable that could not be read (not an
// integer, out of range, negative) fell back to the convention's default,
// which could fit; it must be unknown, a PGF007 finding, and never ok.
func TestUnreadablePoolNeverFallsBackToDefault(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"lots", "9223372036854775807", "-3"} {
		r := budgetcheck.Analyze(withEnv(t, `{name: SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE, value: "`+v+`"}`), budgetcheck.Options{})
		d, c := appClient(t, r)
		if c.Pool.State != budgetcheck.Unknown || d.Verdict == budgetcheck.VerdictOK || !hasFinding(r, "PGF007", "HIKARI") {
			t.Errorf("%s: pool %+v, verdict %s, findings %+v", v, c.Pool, d.Verdict, r.Findings)
		}
	}
}

// Regression (issue 8): Options.Headroom of MaxInt64 (the library's
// --headroom) gave a wrapped hint; now the server's counts are invalid and
// no verdict is ok.
func TestHugeHeadroomNeverFits(t *testing.T) {
	t.Parallel()
	r := budgetcheck.Analyze(withEnv(t, `{name: PGFLEET_POOL_MAX, value: "1"}`), budgetcheck.Options{Headroom: math.MaxInt})
	d, _ := appClient(t, r)
	if d.Verdict == budgetcheck.VerdictOK || d.Verdict == budgetcheck.VerdictWarn || !hasFinding(r, "PGF007", "headroom") {
		t.Fatalf("verdict %s, findings %+v", d.Verdict, r.Findings)
	}
	for _, f := range r.Findings {
		if strings.Contains(f.Message+f.Suggestion, "at least -") {
			t.Fatalf("wrapped number in %q", f.Message)
		}
	}
}

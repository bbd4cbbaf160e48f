package dbx_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/dbx/budget"
)

// Regression: a hint told users to set dbx.Config.Budget, which does not
// exist. Every Config field that dbx's messages and docs (and the README's
// and loader's mentions of dbx.Config) name must exist.
func TestHintsNameRealConfigFields(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob("../loader/*.go")
	files = append(files, append(more, "../README.md")...)
	// "Config.X" or "dbx.Config.X.Y", but not pgxpool.Config.X or ConnConfig.X.
	ref := regexp.MustCompile(`(?:^|[^\w.]|\bdbx\.)Config((?:\.[A-Z]\w*)+)`)
	var n int
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ref.FindAllStringSubmatch(string(src), -1) {
			if filepath.Dir(f) != "." && !strings.Contains(m[0], "dbx.") {
				continue // another package's own Config
			}
			n++
			typ := reflect.TypeFor[dbx.Config]()
			for _, field := range strings.Split(m[1], ".")[1:] {
				sf, ok := typ.FieldByName(field)
				if !ok {
					t.Errorf("%s names %s, which dbx.Config does not have", f, strings.TrimSpace(m[0]))
					break
				}
				typ = sf.Type
				for typ.Kind() == reflect.Pointer {
					typ = typ.Elem()
				}
			}
		}
	}
	if n < 10 {
		t.Fatalf("found only %d Config references: the pattern is broken", n)
	}
}

// Regression: BudgetError said "pool 0 per process" while its Report said
// "pool 5" (the MaxConns the share was meant to replace).
func TestBudgetErrorAndReportTellOnePoolSize(t *testing.T) {
	t.Parallel()
	r := &dbx.Report{Node: "primary", Server: budget.PostgresDefaults(), RoleConnLimit: -1, DatabaseConnLimit: -1}
	cfg := dbx.Config{Service: "orders", MaxConns: 5, Share: 0.25, Fleet: budget.Service{Replicas: 3, MaxReplicas: 25}}
	err := dbx.Assess(r, cfg)
	var be *dbx.BudgetError
	if !errors.As(err, &be) || be.Report != r {
		t.Fatalf("assess = %v, want a *BudgetError with the report", err)
	}
	pool := regexp.MustCompile(`pool (\d+) per process`)
	inErr, inReport := pool.FindStringSubmatch(err.Error()), pool.FindStringSubmatch(r.String())
	if inErr == nil || inReport == nil || inErr[1] != inReport[1] || inErr[1] != strconv.Itoa(r.PerProcess) || r.PerProcess != 0 {
		t.Fatalf("pool sizes disagree: error %q, report %q, PerProcess %d", err, r, r.PerProcess)
	}
	if r.Allocation == nil || r.Budget != 24 {
		t.Fatalf("report lost the allocation: %+v", r)
	}
}

// Regression: problems told users to "lower the pool" without saying which
// field, or to lower it to 0. Each problem's fix names the field in force and
// a value that, applied, removes the problem.
func TestReportFixesArePossibleAndWork(t *testing.T) {
	t.Parallel()
	stock := budget.PostgresDefaults() // usable 97
	for _, tc := range []struct {
		name    string
		r       dbx.Report
		cfg     dbx.Config
		want    string // in the problem
		wantNot string
	}{
		{"pool too big for the fleet", dbx.Report{Server: stock, RoleConnLimit: -1, DatabaseConnLimit: -1},
			dbx.Config{MaxConns: 5, Fleet: budget.Service{MaxReplicas: 25}}, "lower Config.MaxConns to 3", ""},
		{"fleet too big for any pool", dbx.Report{Server: stock, RoleConnLimit: -1, DatabaseConnLimit: -1},
			dbx.Config{MaxConns: 5, Fleet: budget.Service{MaxReplicas: 200}}, "Config.Fleet.MaxReplicas", "MaxConns to"},
		{"role limit", dbx.Report{Server: stock, Role: "app", RoleConnLimit: 10, DatabaseConnLimit: -1},
			dbx.Config{MaxConns: 5, Fleet: budget.Service{Replicas: 2}}, "lower Config.MaxConns to 3", ""},
		{"role limit under a share", dbx.Report{Server: stock, Role: "app", RoleConnLimit: 10, DatabaseConnLimit: -1},
			dbx.Config{Share: 0.5, Fleet: budget.Service{Replicas: 2}}, "lower Config.Share", "MaxConns"},
		{"server busy", dbx.Report{Server: stock, Backends: 95, RoleConnLimit: -1, DatabaseConnLimit: -1},
			dbx.Config{MaxConns: 5}, "lower Config.MaxConns to 2", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.r
			if err := dbx.Assess(&r, tc.cfg); err != nil {
				t.Fatal(err)
			}
			all := strings.Join(r.Problems, "; ")
			if !strings.Contains(all, tc.want) || (tc.wantNot != "" && strings.Contains(all, tc.wantNot)) {
				t.Fatalf("problems %q: want %q, not %q", all, tc.want, tc.wantNot)
			}
			for _, m := range regexp.MustCompile(`lower Config.MaxConns to (-?\d+)`).FindAllStringSubmatch(all, -1) {
				cfg := tc.cfg
				cfg.MaxConns, _ = strconv.Atoi(m[1])
				again := tc.r
				if err := dbx.Assess(&again, cfg); err != nil || cfg.MaxConns < 1 || !again.OK() {
					t.Fatalf("applying %q: MaxConns %d leaves %q, %v", m[0], cfg.MaxConns, again.Problems, err)
				}
			}
			if m := regexp.MustCompile(`raise max_connections to at least (\d+)`).FindStringSubmatch(all); m != nil {
				again := tc.r
				again.Server.MaxConnections, _ = strconv.Atoi(m[1])
				if err := dbx.Assess(&again, tc.cfg); err != nil || strings.Contains(strings.Join(again.Problems, ";"), "exceeds its budget") {
					t.Fatalf("applying %q leaves %q, %v", m[0], again.Problems, err)
				}
			}
		})
	}
}

// Regression: the default 53300 hint named dbx.Config.Budget.
func TestServerFullHintNamesShare(t *testing.T) {
	t.Parallel()
	err := &dbx.ServerFullError{Node: "primary", Err: &pgconn.PgError{Code: "53300", Message: "sorry, too many clients already"}}
	if h := err.Hint(); !strings.Contains(h, "dbx.Config.Share") || strings.Contains(h, "Config.Budget") {
		t.Fatalf("hint %q", h)
	}
}

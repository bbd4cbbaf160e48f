package budgetcheck_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgfleet/pgfleet/budgetcheck"
)

var update = flag.Bool("update", false, "rewrite the expected outputs of the golden tests")

// goldenDir holds one directory per scenario: input manifests (*.yaml) and
// the expected report in each format (expected.txt, .json, .sarif).
const goldenDir = "../testdata/budgetcheck"

// goldenOptions are the flags every scenario is checked with; a scenario's
// flags.txt adds Helm values, one flag a line ("--values FILE" or
// "--set k=v", FILE relative to the scenario).
var goldenOptions = budgetcheck.Options{}

func caseOptions(t *testing.T, dir string) budgetcheck.Options {
	t.Helper()
	opts := goldenOptions
	data, err := os.ReadFile(filepath.Join(dir, "flags.txt"))
	if os.IsNotExist(err) {
		return opts
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		flag, v, _ := strings.Cut(strings.TrimSpace(l), " ")
		switch flag {
		case "--values":
			opts.HelmValues = append(opts.HelmValues, filepath.Join(dir, v))
		case "--set":
			opts.HelmSet = append(opts.HelmSet, v)
		default:
			t.Fatalf("%s/flags.txt: unknown line %q", dir, l)
		}
	}
	return opts
}

// readCase reads a scenario's inputs with names relative to its directory,
// so that the expected outputs do not depend on where the test runs.
func readCase(t *testing.T, dir string) []budgetcheck.Source {
	t.Helper()
	srcs, err := budgetcheck.ReadSourcesWith(context.Background(), caseOptions(t, dir), nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []budgetcheck.Source
	for _, s := range srcs {
		if strings.HasPrefix(filepath.Base(s.Name), "expected") {
			continue
		}
		s.Name = relTo(dir, s.Name)
		if s.Unit != "" {
			s.Unit = relTo(dir, s.Unit)
		}
		out = append(out, s)
	}
	return out
}

func relTo(dir, p string) string {
	rel, _ := filepath.Rel(dir, p)
	return filepath.ToSlash(rel)
}

func cases(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(goldenDir, "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases in %s: %v", goldenDir, err)
	}
	return dirs
}

func render(t *testing.T, r *budgetcheck.Report, f budgetcheck.Format) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := budgetcheck.Write(&buf, r, f); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	t.Parallel()
	for _, dir := range cases(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			r := budgetcheck.Analyze(readCase(t, dir), caseOptions(t, dir))
			for ext, f := range map[string]budgetcheck.Format{"txt": budgetcheck.Text, "json": budgetcheck.JSON, "sarif": budgetcheck.SARIF} {
				got := render(t, r, f)
				path := filepath.Join(dir, "expected."+ext)
				if *update {
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test -run TestGolden -update)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from the report; diff it with: go test -run TestGolden/%s -update && git diff %s\ngot:\n%s", path, filepath.Base(dir), path, got)
				}
			}
		})
	}
}

// TestSecretsNeverPrinted checks every scenario in every format for the
// values of every Secret in its inputs, raw and base64-encoded, in any case
// (database IDs are lower-cased). Scenario secret-hostile holds the shapes
// that leaked: a libpq DSN whose password holds ";" (cut there, the rest
// became the database ID), pool_max_conns from a Secret DSN, $(VAR) from a
// Secret, PGBOUNCER_* from secretKeyRef, a pgbouncer.ini mounted from a
// Secret, an ADO.NET "SSL Password=", Secrets whose YAML error quoted a
// value.
func TestSecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	secrets := []string{"S3cr3t-Hunter2-pw", "billing:S3cr3t", "pg-billing:5432/billing?pool_max_conns=6", "OQ==",
		"Semi;colonPW1", "colonPW1", "db.example.com", "NotANumberSecret7", "Exp4ndedSecret", "BouncerSecret9",
		"Bouncer;Url2", "Url2", "IniSemi", "Secret3", "IniSecretVal5", "SslPw6Secret", "BrokenSecret10", "MapKeySecret11", "Kust0mizeSecret8"}
	for _, dir := range cases(t) {
		r := budgetcheck.Analyze(readCase(t, dir), caseOptions(t, dir))
		for _, f := range budgetcheck.Formats {
			out := bytes.ToLower(render(t, r, f))
			for _, s := range secrets {
				if bytes.Contains(out, []byte(strings.ToLower(s))) {
					t.Errorf("%s: %s output contains secret %q", dir, f, s)
				}
			}
		}
	}
	// The hostile scenario must read each Secret value, or the test proves
	// nothing: each invalid one is a PGF007 naming its Secret key.
	hostile := budgetcheck.Analyze(readCase(t, filepath.Join(goldenDir, "secret-hostile")), goldenOptions)
	placeholders := 0
	for _, f := range hostile.Findings {
		if f.Check == "PGF007" && strings.Contains(f.Message, "<value from Secret shop/app-db key ") {
			placeholders++
		}
	}
	if placeholders != 4 {
		t.Errorf("secret-hostile: %d PGF007 findings name a Secret key, want 4 (dsn-pool, pool, bouncer-pool, pgbouncer.ini)", placeholders)
	}
	// The scenario must use the secret, or the test proves nothing.
	r := budgetcheck.Analyze(readCase(t, filepath.Join(goldenDir, "secret")), goldenOptions)
	if r.Databases[0].WorstCase != (4+1)*6+(4+1)*9 {
		t.Fatalf("secret scenario: worst case %d, want the secret pool sizes 6 and 9 counted", r.Databases[0].WorstCase)
	}
}

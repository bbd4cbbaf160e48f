package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"
)

const cases = "../../testdata/budgetcheck/"

func TestExitCodes(t *testing.T) {
	t.Parallel()
	stdin, err := os.ReadFile(cases + "pgbouncer/input.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		want  int
	}{
		{"fits", []string{cases + "configmap-pool/input.yaml"}, "", 0},
		{"over", []string{cases + "hpa-surge/input.yaml"}, "", 1},
		{"warning below fail-on", []string{"-"}, string(stdin), 0},
		{"warning at fail-on", []string{"--fail-on", "warning", "-"}, string(stdin), 1},
		{"fail-on none", []string{"--fail-on", "none", cases + "hpa-surge/input.yaml"}, "", 0},
		{"missing file", []string{"no/such/file.yaml"}, "", 2},
		{"no input", nil, "", 2},
		// Nothing to check used to exit 0 with "0 databases".
		{"empty stdin", []string{"-"}, "", 2},
		{"comments only on stdin", []string{"-"}, "# helm template of nothing\n---\n", 2},
		{"directory without manifests", []string{"."}, "", 2},
		{"bad format", []string{"--format", "xml", cases}, "", 2},
		{"bad flag", []string{"--nope"}, "", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			if got := run(context.Background(), tc.args, strings.NewReader(tc.stdin), &out, &errOut); got != tc.want {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", got, tc.want, out.String(), errOut.String())
			}
		})
	}
}

func TestJSONFromStdin(t *testing.T) {
	t.Parallel()
	in, err := os.ReadFile(cases + "cnpg/input.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"--format", "json", "-"}, bytes.NewReader(in), &out, &errOut); code != 1 {
		t.Fatalf("exit %d, want 1 (the cluster is over)\n%s", code, errOut.String())
	}
	var r struct {
		Schema    string `json:"schema"`
		Databases []struct {
			ID      string `json:"id"`
			Verdict string `json:"verdict"`
		} `json:"databases"`
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if r.Schema != "pgfleet.dev/budgetcheck/v1" || len(r.Databases) != 2 || r.Databases[0].Verdict != "over" {
		t.Fatalf("report = %+v", r)
	}
}

// Flags after the inputs are flags, as in "budgetcheck ./charts/myapp
// --values prod.yaml"; after "--" everything is an input.
func TestFlagsAfterInputs(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	values := fs.String("values", "", "")
	paths, err := parseInterspersed(fs, []string{"./charts/myapp", "--values", "prod.yaml", "-", "--", "--values"})
	if err != nil {
		t.Fatal(err)
	}
	if *values != "prod.yaml" || len(paths) != 3 || paths[0] != "./charts/myapp" || paths[1] != "-" || paths[2] != "--values" {
		t.Fatalf("values %q, paths %q; want prod.yaml and [./charts/myapp - --values]", *values, paths)
	}
}

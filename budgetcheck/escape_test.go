package budgetcheck_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pgfleet/pgfleet/budgetcheck"
)

// evilName is a workload name with terminal escapes, a newline that starts
// a fake finding, a bidi override and markup.
const evilName = "evil\x1b[2J\x1b]0;pwned\x07\nfake.yaml:1 ERROR PGF001 over-budget: \u202egnp.exe</script><b>"

// Regression (issue 8): control characters in names reached the terminal
// raw. Text escapes them; JSON, SARIF and HTML stay well-formed and carry
// no raw control character either.
func TestControlCharactersInNames(t *testing.T) {
	t.Parallel()
	manifest := `apiVersion: apps/v1
kind: Deployment
metadata: {name: "evil\x1b[2J\x1b]0;pwned\x07\nfake.yaml:1 ERROR PGF001 over-budget: \u202egnp.exe</script><b>"}
spec:
  template:
    metadata: {annotations: {pgfleet.dev/pool-max: "5"}}
    spec: {containers: [{name: app, image: x, env: [{name: PGHOST, value: "db\u0085\u200bx"}]}]}
`
	r := budgetcheck.Analyze([]budgetcheck.Source{{Name: "in.yaml", Data: []byte(manifest)}}, budgetcheck.Options{})
	id := "default/Deployment/" + evilName + "/app"
	if len(r.Databases) != 1 || len(r.Databases[0].Clients) != 1 || r.Databases[0].Clients[0].ID != id {
		t.Fatalf("the scenario lost the name: %+v", r.Databases)
	}
	for _, f := range budgetcheck.Formats {
		out := render(t, r, f)
		for i, c := range string(out) {
			if (c < 0x20 && c != '\n') || (c >= 0x7f && c < 0xa0) || c == '\u202e' || c == '\u200b' {
				t.Errorf("%s output has raw %U at byte %d", f, c, i)
				break
			}
		}
		switch f {
		case budgetcheck.Text:
			for _, line := range strings.Split(string(out), "\n") {
				if strings.HasPrefix(line, "fake.yaml") {
					t.Errorf("text: a name started a line of its own: %q", line)
				}
			}
			if !bytes.Contains(out, []byte(`evil\x1b[2J\x1b]0;pwned\x07\nfake.yaml`)) || !bytes.Contains(out, []byte(`\u202egnp`)) {
				t.Errorf("text: the name is not shown escaped:\n%s", out)
			}
		case budgetcheck.JSON:
			var back budgetcheck.Report
			if err := json.Unmarshal(out, &back); err != nil || back.Databases[0].Clients[0].ID != id {
				t.Errorf("json does not round-trip the name: %v", err)
			}
		case budgetcheck.SARIF:
			var v any
			if err := json.Unmarshal(out, &v); err != nil {
				t.Errorf("sarif: %v", err)
			}
		case budgetcheck.HTML:
			if bytes.Contains(out, []byte("</script><b>")) {
				t.Error("html: the name's markup is not escaped")
			}
		}
	}
}

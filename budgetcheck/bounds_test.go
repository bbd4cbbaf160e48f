package budgetcheck_test

import (
	"path/filepath"
	"testing"

	"github.com/pgfleet/pgfleet/budgetcheck"
)

// A database whose known clients alone exceed usable is over, not unknown,
// whatever its unknown clients open; the worst case is the known part, a
// lower bound, with the unknown clients counted.
func TestKnownPartOverIsOver(t *testing.T) {
	t.Parallel()
	r := budgetcheck.Analyze(readCase(t, filepath.Join(goldenDir, "unknown-client-over")), goldenOptions)
	d := r.Databases[0]
	if d.Verdict != budgetcheck.VerdictOver || d.WorstCase != (8+2)*14 || d.UnknownClients != 1 {
		t.Fatalf("verdict %s, worst case %d, unknown clients %d; want over, at least 140, 1 unknown", d.Verdict, d.WorstCase, d.UnknownClients)
	}
}

// Over every scenario: a database with unknown clients is never ok or warn
// (nothing unread fits), and one whose known part exceeds a known limit
// is over.
func TestUnknownClientsNeverFit(t *testing.T) {
	t.Parallel()
	checked := 0
	for _, dir := range cases(t) {
		r := budgetcheck.Analyze(readCase(t, dir), caseOptions(t, dir))
		for _, d := range r.Databases {
			if d.UnknownClients == 0 {
				continue
			}
			checked++
			switch {
			case d.Verdict == budgetcheck.VerdictOK || d.Verdict == budgetcheck.VerdictWarn:
				t.Errorf("%s %s: verdict %s with %d unknown clients", dir, d.ID, d.Verdict, d.UnknownClients)
			case d.MaxConnections.State == budgetcheck.Known && d.Kind != budgetcheck.Unresolved && d.WorstCase > d.Usable && d.Verdict != budgetcheck.VerdictOver:
				t.Errorf("%s %s: known part %d > usable %d but verdict %s", dir, d.ID, d.WorstCase, d.Usable, d.Verdict)
			}
		}
	}
	if checked < 3 {
		t.Fatalf("only %d databases with unknown clients in the scenarios: the test proves little", checked)
	}
}

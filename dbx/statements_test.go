package dbx_test

import (
	"testing"
)

// Every statement is counted once, whichever way it went: a node's Query
// and QueryRow are timed into their class record when their rows close,
// anything else by the tracer, and the two meet at scrape time (see
// lockedHist). Against instant servers: no database needed.
func TestEveryStatementCountedOnce(t *testing.T) {
	t.Parallel()
	cl := openInstant(t, 2)
	ctx := t.Context()
	const rowsRead = 5
	var v string
	for i := range rowsRead {
		if err := cl.QueryRow(ctx, `SELECT v FROM kv WHERE k = $1`, i).Scan(&v); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := cl.Reader().Query(ctx, `SELECT v FROM kv WHERE k = $1`, 1)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
	}
	rows.Close()
	if _, err := cl.Exec(ctx, `SELECT $1::int`, 1); err != nil {
		t.Fatal(err)
	}
	const want = rowsRead + 2
	got := map[string]uint64{}
	for _, f := range gather(t, cl) {
		for _, m := range f.GetMetric() {
			if h := m.GetHistogram(); h != nil {
				got[f.GetName()] += h.GetSampleCount()
			}
		}
	}
	for _, name := range []string{"pgfleet_query_duration_seconds", "pgfleet_class_duration_seconds", "pgfleet_gate_wait_seconds"} {
		if got[name] != want {
			t.Errorf("%s counts %d statements, want %d", name, got[name], want)
		}
	}
}

package loadtest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestPrometheusScraper(t *testing.T) {
	t.Parallel()
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `# HELP dbx_pool_acquired_conns Connections in use.
# TYPE dbx_pool_acquired_conns gauge
dbx_pool_acquired_conns{node="primary",service="orders"} 7
dbx_pool_acquired_conns{node="replica1",service="orders"} 3
# TYPE other counter
other 1
`)
	})
	got, err := PrometheusScraper(nil, url, "dbx_pool_acquired_conns", "node")(context.Background())
	if err != nil || len(got) != 2 || got["dbx_pool_acquired_conns primary"] != 7 || got["dbx_pool_acquired_conns replica1"] != 3 {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := PrometheusScraper(nil, url, "missing", "node")(context.Background()); err == nil || !strings.Contains(err.Error(), `no metric family "missing"`) {
		t.Fatalf("missing family: %v", err)
	}
	if _, err := PrometheusScraper(nil, url+"/x\x00", "a", "b")(context.Background()); err == nil {
		t.Fatal("bad url: no error")
	}
}

// A scraper's series are bounded; names past the bound are counted.
func TestScrapeSeriesBounded(t *testing.T) {
	t.Parallel()
	var l scrapeLog
	vals := map[string]float64{}
	for i := range maxSeries + 10 {
		vals[fmt.Sprint("s", i)] = float64(i)
	}
	l.add(0, vals, nil)
	l.add(1, map[string]float64{"s1": 1}, nil)
	s := l.result()
	if len(s.Names) != maxSeries || s.DroppedSeries != 10 || len(s.Samples) != 2 {
		t.Fatalf("%d names, %d dropped, %d samples", len(s.Names), s.DroppedSeries, len(s.Samples))
	}
	if at, v := s.Series("s1"); len(v) != 2 || at[1] != 1 {
		t.Fatalf("s1: %v %v", at, v)
	}
}

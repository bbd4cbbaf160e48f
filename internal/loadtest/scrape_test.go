package loadtest

import (
	"fmt"
	"testing"
)

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

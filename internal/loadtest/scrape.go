package loadtest

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Scraper reads the service's own view once a second: named values such
// as "conns_in_use primary" or "conns_in_use shard1". The integrator maps
// the service's JSON or metrics with it ([HTTPScraper]).
// Its ctx ends after [scrapeTimeout].
type Scraper func(ctx context.Context) (map[string]float64, error)

const (
	scrapeTimeout = 900 * time.Millisecond
	// maxSeries bounds the scraped series: names past it are dropped and
	// counted in Scrapes.DroppedSeries.
	maxSeries = 64
	// maxScrapeBody bounds one scraped body.
	maxScrapeBody = 4 << 20
)

// Scrapes is the scraped series over the run.
type Scrapes struct {
	Names   []string       // series, in order of first appearance
	Samples []ScrapeSample // one per successful scrape
	// Failures counts failed scrapes; LastError is the last one's text.
	Failures      int
	LastError     string
	DroppedSeries int
}

// ScrapeSample is one scrape: Values[i] is Names[i], NaN when absent.
type ScrapeSample struct {
	At     time.Duration // offset from the start of the run
	Values []float64
}

// Series returns the values of the named series over time.
func (s Scrapes) Series(name string) ([]time.Duration, []float64) {
	i := slices.Index(s.Names, name)
	if i < 0 {
		return nil, nil
	}
	var at []time.Duration
	var v []float64
	for _, smp := range s.Samples {
		if i < len(smp.Values) && !math.IsNaN(smp.Values[i]) {
			at = append(at, smp.At)
			v = append(v, smp.Values[i])
		}
	}
	return at, v
}

// scrapeLog records scrapes from the scraping goroutine.
type scrapeLog struct {
	mu sync.Mutex
	s  Scrapes
}

func (l *scrapeLog) add(at time.Duration, vals map[string]float64, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.s.Failures++
		l.s.LastError = err.Error()
		return
	}
	names := make([]string, 0, len(vals))
	for k := range vals {
		names = append(names, k)
	}
	slices.Sort(names) // a stable order for new names
	for _, k := range names {
		if !slices.Contains(l.s.Names, k) {
			if len(l.s.Names) >= maxSeries {
				l.s.DroppedSeries++
				continue
			}
			l.s.Names = append(l.s.Names, k)
		}
	}
	smp := ScrapeSample{At: at, Values: make([]float64, len(l.s.Names))}
	for i, k := range l.s.Names {
		v, ok := vals[k]
		if !ok {
			v = math.NaN()
		}
		smp.Values[i] = v
	}
	l.s.Samples = append(l.s.Samples, smp)
}

func (l *scrapeLog) result() Scrapes {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s
}

// scrapeLoop calls scrape once a second until ctx ends.
func scrapeLoop(ctx context.Context, scrape Scraper, began time.Time, log *scrapeLog) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sctx, cancel := context.WithTimeout(ctx, scrapeTimeout)
		vals, err := scrape(sctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		log.add(time.Since(began), vals, err)
	}
}

// fetchBody fetches url with ctx, at most maxScrapeBody bytes, 2xx only.
func fetchBody(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("loadtest: scrape: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("loadtest: scrape: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxScrapeBody))
	if err != nil {
		return nil, fmt.Errorf("loadtest: scrape %s: %w", url, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("loadtest: scrape %s: %s", url, resp.Status)
	}
	return body, nil
}

// HTTPScraper scrapes url (GET, 2xx, at most 4 MiB) and maps its body
// with parse: the integrator knows the service's /debug/stats JSON, this
// package does not. A nil client means http.DefaultClient.
func HTTPScraper(client *http.Client, url string, parse func(body []byte) (map[string]float64, error)) Scraper {
	if client == nil {
		client = http.DefaultClient
	}
	return func(ctx context.Context) (map[string]float64, error) {
		body, err := fetchBody(ctx, client, url)
		if err != nil {
			return nil, err
		}
		return parse(body)
	}
}

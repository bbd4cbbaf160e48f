package loader_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	demo "github.com/pgfleet/pgfleet/internal/demo/loaderdemo"
	"github.com/pgfleet/pgfleet/loader"
	"github.com/pgfleet/pgfleet/loader/loadertest"
)

func TestShape(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"SELECT * FROM customers WHERE id = $1":                             "select * from customers where id = ?",
		"select *\n  from customers -- by id\n where id = 42":               "select * from customers where id = ?",
		`SELECT "Name" FROM t WHERE a IN (1, 2, 3) AND b = 'it''s' /* c */`: `select "Name" from t where a in (?) and b = ?`,
		"INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)":                    "insert into t (a, b) values (?), (?)",
		"SELECT x1, 1.5e3 FROM t2":                                          "select x1, ? from t2",
	} {
		if got := loader.Shape(in); got != want {
			t.Errorf("Shape(%q) = %q, want %q", in, got, want)
		}
	}
}

// detections collects a detector's reports.
type detections struct {
	mu   sync.Mutex
	list []loader.Detection
}

func (d *detections) add(_ context.Context, x loader.Detection) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.list = append(d.list, x)
}

func (d *detections) get() []loader.Detection {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]loader.Detection(nil), d.list...)
}

// The detector catches the naive page (201 queries, two shapes repeated 100
// times), reports through slog, the metric and OnDetect, and stays quiet on
// the loader and JOIN versions of the same page.
func TestDetectorCatchesNPlusOneAndNotLoaders(t *testing.T) {
	t.Parallel()
	var got detections
	var logs bytes.Buffer
	m := loader.NewMetrics()
	det := must(loader.NewDetector(loader.DetectorConfig{
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
		Metrics:  m,
		OnDetect: got.add,
	}))(t)
	p := tracedPool(t, det)
	ls := must(demo.NewLoaders(p, loader.Config{Metrics: m}))(t)

	for name, page := range map[string]func(context.Context) ([]demo.Row, error){
		"loadmany": func(ctx context.Context) ([]demo.Row, error) { return ls.WithLoadMany(ctx, p, 3) },
		"join":     func(ctx context.Context) ([]demo.Row, error) { return demo.Join(ctx, p, 3) },
	} {
		ctx, end := loader.WithScope(t.Context())
		if _, err := page(ctx); err != nil {
			t.Fatal(err)
		}
		end()
		if d := got.get(); len(d) != 0 {
			t.Fatalf("%s page: detector reported %v", name, d)
		}
	}

	ctx, end := loader.WithScope(t.Context())
	if _, err := demo.Naive(ctx, p, 3); err != nil {
		t.Fatal(err)
	}
	if d := got.get(); len(d) != 0 {
		t.Fatalf("reported before the scope ended: %v", d)
	}
	end()
	d := got.get()
	if len(d) != 2 {
		t.Fatalf("naive page: %d detections %v, want 2 (customer and items shapes)", len(d), d)
	}
	if d[0].Count != 100 || d[0].Shape != "select id, email, name, region, created_at from customers where id = ?" {
		t.Errorf("first detection %+v", d[0])
	}
	if d[1].Count != 100 || !strings.HasPrefix(d[1].Shape, "select order_id, line, product_id") {
		t.Errorf("second detection %+v", d[1])
	}
	if !strings.Contains(logs.String(), "level=WARN msg=\"loader: N+1 query\"") || !strings.Contains(logs.String(), "count=100") {
		t.Errorf("log:\n%s", logs.String())
	}
	if n := gauge(t, m, "pgfleet_loader_nplusone_detections_total"); n != 2 {
		t.Errorf("detections metric %v, want 2", n)
	}
	// The LoadMany page ran one batch per loader (customers, items): a
	// LoadMany of fewer than MaxBatch keys is never split.
	if n := gauge(t, m, "pgfleet_loader_batches_total"); n != 2 {
		t.Errorf("batches metric %v, want 2 (the LoadMany page's customers and items)", n)
	}
}

// gauge sums the values of the series of family name in m.
func gauge(t *testing.T, m *loader.Metrics, name string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			sum += s.GetCounter().GetValue()
		}
	}
	return sum
}

// A pgx.Batch is one round trip: it counts once, under a shape of its own.
func TestDetectorCountsABatchOnce(t *testing.T) {
	t.Parallel()
	var got detections
	det := must(loader.NewDetector(loader.DetectorConfig{Threshold: 3, Logger: slog.New(slog.DiscardHandler), OnDetect: got.add}))(t)
	p := tracedPool(t, det)
	ctx, end := loader.WithScope(t.Context())
	b := &pgx.Batch{}
	for i := range 10 {
		b.Queue(`SELECT $1::int`, i)
	}
	if err := p.SendBatch(ctx, b).Close(); err != nil {
		t.Fatal(err)
	}
	end()
	if d := got.get(); len(d) != 0 {
		t.Fatalf("one batch of 10 queries reported: %v", d)
	}
}

// tbRecorder is a testing.TB that records Errorf instead of failing.
type tbRecorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *tbRecorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// loadertest's detector fails the test of a handler, served through the
// middleware, that runs an N+1, and names the shape.
func TestLoadertestFailsTheTestThroughMiddleware(t *testing.T) {
	t.Parallel()
	rec := &tbRecorder{TB: t}
	p := tracedPool(t, loadertest.Detector(rec, loader.DetectorConfig{}))
	var scopes []uint64
	h := loader.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scopes = append(scopes, loader.ScopeID(r.Context()))
		page := demo.Naive
		if r.URL.Path == "/loaders" {
			ls := must(demo.NewLoaders(p, loader.Config{}))(t)
			page = ls.WithLoadMany
		}
		rows, err := page(r.Context(), p, 1)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprintln(w, len(rows))
	}))
	for _, path := range []string{"/loaders", "/naive"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != 200 || w.Body.String() != "100\n" {
			t.Fatalf("%s: %d %s", path, w.Code, w.Body)
		}
		if path == "/loaders" && len(rec.errors) != 0 {
			t.Fatalf("the loader page failed the test: %v", rec.errors)
		}
	}
	if scopes[0] == 0 || scopes[0] == scopes[1] {
		t.Errorf("scopes %v: want one per request", scopes)
	}
	if len(rec.errors) != 2 || !strings.Contains(rec.errors[0], "100 queries of the same shape") ||
		!strings.Contains(rec.errors[0], "from customers where id = ?") {
		t.Fatalf("naive page failures: %q", rec.errors)
	}
}

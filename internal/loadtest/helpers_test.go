package loadtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// serve starts a real HTTP server for the test.
func serve(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// get is an endpoint that GETs a fixed path.
func get(name, path string, weight int) Endpoint {
	return Endpoint{Name: name, Weight: weight, Build: func(User, uint64) Request { return Request{Path: path} }}
}

// run runs the scenario and fails the test on error.
func run(t *testing.T, s Scenario) *Result {
	t.Helper()
	r, err := Run(context.Background(), s, testWriter{t})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return r
}

// sleep waits d or until the request is cancelled.
func sleep(r *http.Request, d time.Duration) {
	select {
	case <-time.After(d):
	case <-r.Context().Done():
	}
}

// testWriter sends progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

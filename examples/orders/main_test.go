package orders_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/dbx/dbxtest"
	"github.com/pgfleet/pgfleet/examples/orders"
	"github.com/pgfleet/pgfleet/internal/demo/stack"
)

// The package's tests share one set of servers (a primary, 2 streaming
// replicas, 2 shards, seeded): each test opens a service of its own on
// them, under a service name of its own (its own fleet quota).
var shared struct {
	once sync.Once
	db   *stack.Databases
	err  error
}

func databases(t *testing.T) *stack.Databases {
	t.Helper()
	dbxtest.SkipShort(t)
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), dbxtest.StartTimeout)
		defer cancel()
		shared.db, shared.err = stack.StartDatabases(ctx, stack.Options{Replicas: 2, Shards: 2, MaxConnections: 60})
	})
	dbxtest.Require(t, shared.err)
	return shared.db
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.db != nil {
		if err := shared.db.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "closing the servers:", err)
			code = 1
		}
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// client is a test's service behind an httptest server.
type client struct {
	t       *testing.T
	svc     *orders.Service
	url     string
	service string // Options.Service
}

// serve opens a service with opts on the shared servers, named after the
// test, and closes it when the test ends.
func serve(t *testing.T, opts orders.Options) *client {
	t.Helper()
	d := databases(t)
	opts.Service = "orders-" + strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	svc, err := orders.Open(t.Context(), d.ServiceOptions(opts))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(svc.Handler())
	t.Cleanup(func() {
		ts.Close()
		svc.Close()
	})
	return &client{t: t, svc: svc, url: ts.URL, service: opts.Service}
}

// response is an answer, read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%s: %v", r.body, err)
	}
}

// do sends a request; token, when set, goes in the causal-token header.
func (c *client) do(method, path, body, token string) response {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.url+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set(dbx.TokenHeader, token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, bytes.TrimSpace(b)}
}

func (c *client) get(path string) response { return c.do(http.MethodGet, path, "", "") }

// want fails the test unless r has the status.
func (r response) want(t *testing.T, status int, what string) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: %d %s, want %d", what, r.status, r.body, status)
	}
	return r
}

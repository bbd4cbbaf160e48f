package orders_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgfleet/pgfleet/examples/orders"
)

// TestOverloadAnswers503: a pool of 1 per node, a queue of 2, and every
// request holding its connection 50 ms (Slowdown): of 90 concurrent
// requests some are served and the rest get a 503 with Retry-After, at
// once or after a bounded wait. None gets a 500, no answer mentions a
// server refusal (53300), and the service never holds more connections
// than its pool.
func TestOverloadAnswers503(t *testing.T) {
	t.Parallel()
	c := serve(t, orders.Options{MaxConns: 1, MaxWaiters: 2, AcquireTimeout: 20 * time.Millisecond, Slowdown: 50 * time.Millisecond})
	const n = 90
	type answer struct {
		status           int
		retryAfter, body string
		err              error
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var req *http.Request
			var err error
			switch i % 3 {
			case 0:
				req, err = http.NewRequest(http.MethodGet, fmt.Sprintf("%s/customers/%d/orders", c.url, 1+i), nil)
			case 1:
				req, err = http.NewRequest(http.MethodGet, fmt.Sprintf("%s/profiles/%d", c.url, 1+i), nil)
			default:
				req, err = http.NewRequest(http.MethodPost, c.url+"/orders", strings.NewReader(`{"customer_id":5,"items":[{"product_id":3,"quantity":1}]}`))
			}
			if err != nil {
				answers[i].err = err
				return
			}
			resp, err := http.DefaultClient.Do(req.WithContext(context.WithoutCancel(t.Context())))
			if err != nil {
				answers[i].err = err
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			answers[i] = answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: string(b), err: err}
		})
	}
	wg.Wait()
	served, unavailable := 0, 0
	for i, a := range answers {
		switch {
		case a.err != nil:
			t.Fatalf("request %d: %v", i, a.err)
		case strings.Contains(a.body, "53300") || strings.Contains(a.body, "too many"):
			t.Fatalf("request %d: %d %s: a server refusal reached the client", i, a.status, a.body)
		case a.status == http.StatusOK || a.status == http.StatusCreated:
			served++
		case a.status == http.StatusServiceUnavailable:
			unavailable++
			if a.retryAfter != orders.RetryAfter || !strings.Contains(a.body, `"kind"`) {
				t.Fatalf("request %d: 503 with Retry-After %q and body %s", i, a.retryAfter, a.body)
			}
		default:
			t.Fatalf("request %d: %d %s, want 200/201 or 503", i, a.status, a.body)
		}
	}
	st := c.svc.Stats()
	t.Logf("%d served, %d answered 503; outcomes: list %v, create %v, profile %v", served, unavailable,
		st.Endpoints[orders.ClassList].Outcomes, st.Endpoints[orders.ClassCreate].Outcomes, st.Endpoints[orders.ClassProfile].Outcomes)
	if served == 0 || unavailable == 0 {
		t.Fatalf("%d served and %d refused: want both under this overload", served, unavailable)
	}
	if st.Shed != int64(unavailable) || st.ServerFull != 0 {
		t.Fatalf("stats: shed %d (want %d), server_full %d (want 0)", st.Shed, unavailable, st.ServerFull)
	}
	refused := int64(0)
	for _, node := range st.Nodes {
		refused += node.Shed + node.Timeouts
		if node.Open > 1 {
			t.Fatalf("node %s/%s has %d connections open with a pool of 1", node.Cluster, node.Node, node.Open)
		}
	}
	if refused == 0 {
		t.Fatalf("no gate counted a refusal: %+v", st.Nodes)
	}
}

// TestSlowdownBeyondBudget: a database slower than an endpoint's budget
// makes that endpoint answer 503 at its deadline (the server cancels the
// statement), while an endpoint with a larger budget still answers.
func TestSlowdownBeyondBudget(t *testing.T) {
	t.Parallel()
	c := serve(t, orders.Options{Slowdown: 600 * time.Millisecond}) // list 500ms, profile 250ms, create 1s
	for _, path := range []string{"/customers/1/orders", "/profiles/1"} {
		start := time.Now()
		r := c.get(path).want(t, http.StatusServiceUnavailable, path)
		t.Logf("%s: 503 after %v", path, time.Since(start))
		if r.header.Get("Retry-After") != orders.RetryAfter || !strings.Contains(string(r.body), `"kind":"deadline"`) {
			t.Fatalf("%s: %v %s", path, r.header, r.body)
		}
	}
	c.do(http.MethodPost, "/orders", `{"customer_id":6,"items":[{"product_id":3,"quantity":1}]}`, "").want(t, http.StatusCreated, "create")
}

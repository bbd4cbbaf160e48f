package orders_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/examples/orders"
	"github.com/pgfleet/pgfleet/internal/demo/seed"
)

// TestListOrders: a customer's newest orders with their customer, items
// and products; [] for a customer without orders; 404 and 400 for the rest.
func TestListOrders(t *testing.T) {
	t.Parallel()
	c := serve(t, orders.Options{})
	var page []orders.Order
	c.get("/customers/1/orders").want(t, http.StatusOK, "list").decode(t, &page)
	if len(page) == 0 || len(page) > orders.DefaultLimit {
		t.Fatalf("%d orders for customer 1, want 1 to %d", len(page), orders.DefaultLimit)
	}
	for i, o := range page {
		if o.CustomerID != 1 || o.Customer == nil || o.Customer.ID != 1 || o.Customer.Email == "" {
			t.Fatalf("order %d: customer %d, %+v", o.ID, o.CustomerID, o.Customer)
		}
		if i > 0 && o.CreatedAt.After(page[i-1].CreatedAt) {
			t.Fatalf("order %d is newer than order %d before it", o.ID, page[i-1].ID)
		}
		if len(o.Items) == 0 {
			t.Fatalf("order %d has no items", o.ID)
		}
		for _, it := range o.Items {
			if it.Product == nil || it.Product.ID != it.ProductID || it.Product.SKU == "" {
				t.Fatalf("order %d line %d: product %d, %+v", o.ID, it.Line, it.ProductID, it.Product)
			}
		}
	}
	var two []orders.Order
	c.get("/customers/1/orders?limit=2").want(t, http.StatusOK, "limit=2").decode(t, &two)
	if len(two) != 2 || two[0].ID != page[0].ID || two[1].ID != page[1].ID {
		t.Fatalf("limit=2 gave %d orders, want the first 2 of the page", len(two))
	}
	if !seed.HasOrders(10) {
		if r := c.get("/customers/10/orders").want(t, http.StatusOK, "customer without orders"); string(r.body) != "[]" {
			t.Fatalf("customer 10: %s, want []", r.body)
		}
	}
	c.get("/customers/999999/orders").want(t, http.StatusNotFound, "unknown customer")
	for _, path := range []string{"/customers/abc/orders", "/customers/0/orders", "/customers/-1/orders",
		"/customers/1/orders?limit=0", "/customers/1/orders?limit=101", "/customers/1/orders?limit=x"} {
		r := c.get(path).want(t, http.StatusBadRequest, path)
		var e struct{ Error, Kind string }
		r.decode(t, &e)
		if e.Kind != "bad_input" || !strings.Contains(e.Error, ":") {
			t.Fatalf("%s: %s: want a message that names the field", path, r.body)
		}
	}
}

// TestCreateOrder: 201 with the order and a causal token; bad input is a
// 400 that names the field, and writes nothing.
func TestCreateOrder(t *testing.T) {
	t.Parallel()
	c := serve(t, orders.Options{})
	r := c.do(http.MethodPost, "/orders", `{"customer_id":3,"items":[{"product_id":5,"quantity":2},{"product_id":7,"quantity":1},{"product_id":5,"quantity":1}]}`, "")
	r.want(t, http.StatusCreated, "create")
	var o orders.Order
	r.decode(t, &o)
	if o.ID <= 0 || o.CustomerID != 3 || o.Status != "pending" || len(o.Items) != 3 {
		t.Fatalf("created %+v", o)
	}
	var total int64
	for i, it := range o.Items {
		if it.Line != int32(i+1) || it.PriceCents <= 0 {
			t.Fatalf("line %d: %+v", i+1, it)
		}
		total += it.PriceCents * int64(it.Quantity)
	}
	if o.TotalCents != total {
		t.Fatalf("total %d, want %d (the lines' sum)", o.TotalCents, total)
	}
	tok := r.header.Get(dbx.TokenHeader)
	if _, err := dbx.ParseToken(tok); err != nil {
		t.Fatalf("causal token %q: %v", tok, err)
	}
	if !strings.Contains(r.header.Get("Set-Cookie"), dbx.TokenCookie+"="+tok) {
		t.Fatalf("no causal cookie: %q", r.header.Get("Set-Cookie"))
	}

	before := orderCount(t, c, 4)
	for body, field := range map[string]string{
		`{"customer_id":4,`: "body",
		`{"customer_id":4,"items":[{"product_id":1,"quantity":1}],"coupon":"x"}`:                       "body",
		`{"customer_id":0,"items":[{"product_id":1,"quantity":1}]}`:                                    "customer_id",
		`{"customer_id":4,"items":[]}`:                                                                 "items",
		`{"customer_id":4,"items":[` + items(orders.MaxItems+1) + `]}`:                                 "items",
		`{"customer_id":4,"items":[{"product_id":1,"quantity":0}]}`:                                    "items[0].quantity",
		`{"customer_id":4,"items":[{"product_id":1,"quantity":1001}]}`:                                 "items[0].quantity",
		`{"customer_id":4,"items":[{"product_id":-3,"quantity":1}]}`:                                   "items[0].product_id",
		`{"customer_id":4,"items":[{"product_id":1,"quantity":1},{"product_id":999999,"quantity":1}]}`: "items[1].product_id",
		`{"customer_id":999999,"items":[{"product_id":1,"quantity":1}]}`:                               "customer_id",
	} {
		r := c.do(http.MethodPost, "/orders", body, "").want(t, http.StatusBadRequest, body)
		var e struct{ Error string }
		r.decode(t, &e)
		if !strings.HasPrefix(e.Error, field+":") {
			t.Errorf("%s: error %q, want it to name %s", body, e.Error, field)
		}
		if r.header.Get(dbx.TokenHeader) != "" {
			t.Errorf("%s: a causal token for a refused order", body)
		}
	}
	if after := orderCount(t, c, 4); after != before {
		t.Fatalf("customer 4 had %d orders before the bad requests and %d after", before, after)
	}
}

// items returns n order lines in JSON.
func items(n int) string {
	s := make([]string, n)
	for i := range s {
		s[i] = `{"product_id":1,"quantity":1}`
	}
	return strings.Join(s, ",")
}

// orderCount counts a customer's orders on the primary.
func orderCount(t *testing.T, c *client, customer int64) int {
	t.Helper()
	var n int
	if err := c.svc.Primary().QueryRow(t.Context(), `SELECT count(*) FROM orders WHERE customer_id = $1`, customer).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestReadYourWrites: 200 times, a POST and then a GET with the token the
// POST returned: the GET always sees the new order, and most reads ran on
// the replicas, not the primary.
func TestReadYourWrites(t *testing.T) {
	t.Parallel()
	c := serve(t, orders.Options{})
	const rounds = 200
	for i := range rounds {
		r := c.do(http.MethodPost, "/orders", fmt.Sprintf(`{"customer_id":7,"items":[{"product_id":%d,"quantity":1}]}`, 1+i%200), "")
		r.want(t, http.StatusCreated, "create")
		var o orders.Order
		r.decode(t, &o)
		var page []orders.Order
		c.do(http.MethodGet, "/customers/7/orders?limit=1", "", r.header.Get(dbx.TokenHeader)).want(t, http.StatusOK, "list").decode(t, &page)
		if len(page) != 1 || page[0].ID != o.ID {
			t.Fatalf("round %d: created order %d, the next read saw %v", i, o.ID, page)
		}
	}
	st := c.svc.Stats()
	var replica, primary int64
	for _, n := range st.Nodes {
		switch n.Role {
		case "replica":
			replica += n.Reads
		case "primary":
			primary += n.Reads
		}
	}
	t.Logf("reads: %d on replicas, %d on the primary; fallbacks %v", replica, primary, st.Fallbacks)
	if replica+primary < 4*rounds {
		t.Fatalf("%d reads counted for %d list requests of 4 reads each", replica+primary, rounds)
	}
	if replica <= primary {
		t.Fatalf("%d reads on the replicas and %d on the primary: most should be on the replicas", replica, primary)
	}
}

// TestListQueriesConstant: the list endpoint runs 4 queries per request for
// 1, 20 or 100 orders (the loaders batch items and products), and the N+1
// detector reports nothing.
func TestListQueriesConstant(t *testing.T) {
	t.Parallel()
	c := serve(t, orders.Options{})
	for range 100 { // customer 13 gets at least 100 orders
		c.do(http.MethodPost, "/orders", `{"customer_id":13,"items":[{"product_id":11,"quantity":1},{"product_id":12,"quantity":2}]}`, "").want(t, http.StatusCreated, "create")
	}
	before := c.svc.Stats().Endpoints[orders.ClassList]
	for _, limit := range []int{1, 20, 100} {
		var page []orders.Order
		c.get(fmt.Sprintf("/customers/13/orders?limit=%d", limit)).want(t, http.StatusOK, "list").decode(t, &page)
		if len(page) != limit {
			t.Fatalf("limit %d: %d orders", limit, len(page))
		}
		after := c.svc.Stats().Endpoints[orders.ClassList]
		if q := after.Queries - before.Queries; q != 4 {
			t.Fatalf("limit %d: %d queries for one page of %d orders, want 4", limit, q, limit)
		}
		before = after
	}
	if st := c.svc.Stats(); st.NPlusOne != 0 {
		t.Fatalf("the N+1 detector reported %d patterns", st.NPlusOne)
	}
}

// TestMetrics: /metrics serves dbx's, loader's and shard's series and the
// service's own, and /debug/stats the Stats as JSON.
func TestMetrics(t *testing.T) {
	t.Parallel()
	c := serve(t, orders.Options{HotCache: true})
	c.get("/customers/2/orders").want(t, http.StatusOK, "list")
	c.get("/profiles/2").want(t, http.StatusOK, "profile")
	body := string(c.get("/metrics").want(t, http.StatusOK, "metrics").body)
	for _, series := range []string{
		"pgfleet_gate_waiters", "pgfleet_gate_shed_total", `pgfleet_class_duration_seconds_bucket{class="list"`,
		"pgfleet_reads_total", "pgfleet_quota_", "pgfleet_loader_batches_total", "pgfleet_shard_map_version",
		"pgfleet_shard_cache_hits_total", `orders_http_requests_total{code="200",endpoint="profile"}`,
		`orders_http_request_duration_seconds_bucket{endpoint="list"`,
	} {
		if !strings.Contains(body, series) {
			t.Errorf("/metrics has no %s", series)
		}
	}
	var st orders.Stats
	c.get("/debug/stats").want(t, http.StatusOK, "stats").decode(t, &st)
	if len(st.Nodes) != 5 || st.Endpoints[orders.ClassList].Requests != 1 || st.Endpoints[orders.ClassProfile].Status["200"] != 1 || st.HotCache == nil {
		t.Fatalf("stats: %+v", st)
	}
	for _, n := range st.Nodes {
		if n.PoolSize < 1 || n.MaxConns != orders.DefaultMaxConns {
			t.Fatalf("node %s/%s: pool %d of %d", n.Cluster, n.Node, n.PoolSize, n.MaxConns)
		}
	}
	roles := []string{}
	for _, n := range st.Nodes {
		roles = append(roles, n.Role)
	}
	if !slices.Equal(roles, []string{"primary", "replica", "replica", "shard", "shard"}) {
		t.Fatalf("nodes by role: %v", roles)
	}
}

// TestFleetQuota: the service's connections to the primary and to the
// shards hold slots of its fleet quota (advisory locks in its lock space,
// seen on the server), never more than the quota.
func TestFleetQuota(t *testing.T) {
	t.Parallel()
	c := serve(t, orders.Options{})
	for id := range 20 {
		c.get(fmt.Sprintf("/profiles/%d", 1+id)).want(t, http.StatusOK, "profile")
	}
	c.do(http.MethodPost, "/orders", `{"customer_id":8,"items":[{"product_id":2,"quantity":1}]}`, "").want(t, http.StatusCreated, "create")
	st := c.svc.Stats()
	const quota = orders.DefaultMaxConns * 2 // the default fleet, 1 pod, may surge to 2
	for _, n := range st.Nodes {
		if n.Role == "replica" {
			continue // replicas are budgeted by their own servers, without a quota
		}
		cl := c.svc.Primary()
		if n.Role == "shard" {
			cl = c.svc.Router().Cluster(n.Cluster)
		}
		var locks int
		err := cl.QueryRow(t.Context(), `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid::bigint = $1 AND granted`,
			dbx.QuotaSpace(c.service)).Scan(&locks)
		if err != nil {
			t.Fatal(err)
		}
		if n.QuotaHeld < 1 || locks < n.QuotaHeld || locks > quota {
			t.Fatalf("%s: the service holds %d quota slots (%d advisory locks on the server), want 1 to %d", n.Cluster, n.QuotaHeld, locks, quota)
		}
	}
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/examples/orders"
	"github.com/pgfleet/pgfleet/internal/loadtest"
)

// The request mix: a shop's traffic is mostly browsing. Weights are shares
// of arrivals: 6 list pages, 3 profile lookups, 1 order out of every 10.
const (
	weightList    = 6
	weightProfile = 3
	weightCreate  = 1
)

// endpoints is the orders service's API as the load generator drives it.
// Each endpoint's SLO is its latency class in the service (orders.Classes),
// not a number restated here: the service and the report agree by
// construction. Errors and sheds must stay under 1% in the steady scenario.
func endpoints(products int, slack float64) []loadtest.Endpoint {
	slo := map[string]loadtest.SLO{}
	for _, c := range orders.Classes() {
		slo[c.Name] = classSLO(c, slack)
	}
	return []loadtest.Endpoint{
		{Name: orders.ClassList, Weight: weightList, SLO: slo[orders.ClassList],
			Build: func(u loadtest.User, _ uint64) loadtest.Request {
				return loadtest.Request{Path: fmt.Sprintf("/customers/%d/orders?limit=20", u.ID)}
			}},
		{Name: orders.ClassProfile, Weight: weightProfile, Hot: true, SLO: slo[orders.ClassProfile],
			Build: func(u loadtest.User, _ uint64) loadtest.Request {
				return loadtest.Request{Path: fmt.Sprintf("/profiles/%d", u.ID)}
			}},
		{Name: orders.ClassCreate, Weight: weightCreate, SLO: slo[orders.ClassCreate],
			Build: func(u loadtest.User, seq uint64) loadtest.Request {
				p := int(seq%uint64(products)) + 1
				body := fmt.Sprintf(`{"customer_id":%d,"items":[{"product_id":%d,"quantity":1},{"product_id":%d,"quantity":2}]}`,
					u.ID, p, products-p+1)
				return loadtest.Request{Method: http.MethodPost, Path: "/orders", Body: []byte(body),
					Header: map[string]string{"Content-Type": "application/json"}}
			}},
	}
}

// classSLO is a latency class's objective as the load test checks it: its
// P95 and P99 multiplied by slack (a shared machine's allowance; 1 in the
// demo), errors and sheds under 1% (never loosened).
func classSLO(c dbx.Class, slack float64) loadtest.SLO {
	scale := func(d time.Duration) time.Duration { return time.Duration(float64(d) * slack) }
	return loadtest.SLO{P95: scale(c.P95), P99: scale(c.P99), MaxErrorRate: 0.01, MaxShedRate: 0.01}
}

// scenario is one run against a started stack.
func scenario(baseURL string, customers, products int, sched loadtest.Schedule) loadtest.Scenario {
	return loadtest.Scenario{
		BaseURL:   baseURL,
		Endpoints: endpoints(products, 1),
		Schedule:  sched,
		Users:     loadtest.Users{Count: customers},
		Timeout:   2 * time.Second,
		Scrape:    loadtest.HTTPScraper(nil, baseURL+"/debug/stats", connectionsInUse),
	}
}

// connectionsInUse maps the service's /debug/stats to the series the HTML
// report draws: connections held by requests on each node, and requests
// queued at its gate.
func connectionsInUse(body []byte) (map[string]float64, error) {
	var st orders.Stats
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, err
	}
	out := make(map[string]float64, 2*len(st.Nodes))
	for _, n := range st.Nodes {
		out[nodeName(n)+" in use"] = float64(n.InUse)
		out[nodeName(n)+" waiting"] = float64(n.Waiters)
	}
	return out, nil
}

// nodeName names a node in the report: the orders database's nodes by
// role (primary, replica0, ...), a shard by its name in the map.
func nodeName(n orders.NodeStats) string {
	if n.Role == "shard" {
		return "shard " + n.Cluster
	}
	return n.Node
}

// serviceStats reads what only the service knows, after a run.
func serviceStats(ctx context.Context, baseURL string) (orders.Stats, error) {
	var st orders.Stats
	err := getJSON(ctx, baseURL+"/debug/stats", &st)
	return st, err
}

// hotKeys reads the service's ten hottest keys, after a run.
func hotKeys(ctx context.Context, baseURL string) ([]hotKey, error) {
	var hot []hotKey
	err := getJSON(ctx, baseURL+"/debug/hotkeys?n=10", &hot)
	return hot, err
}

// hotKey is one entry of the service's /debug/hotkeys.
type hotKey struct {
	Key   string  `json:"key"`
	Shard string  `json:"shard"`
	Rate  float64 `json:"rate"`
	Share float64 `json:"share"`
}

func getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

package orders

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/loader"
)

// List page bounds (?limit=).
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// maxBody bounds a POST body: MaxItems lines fit many times over.
const maxBody = 64 << 10

// Handler returns the HTTP API: the endpoints of the package doc, behind
// dbx.Middleware (the causal token travels in the Pgfleet-Causal-Token
// header or the pgfleet_causal cookie) and loader.Middleware (one loader
// scope per request).
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /customers/{id}/orders", s.endpoint(ClassList, s.listOrders))
	mux.Handle("POST /orders", s.endpoint(ClassCreate, s.createOrder))
	mux.Handle("GET /profiles/{customer_id}", s.endpoint(ClassProfile, s.getProfile))
	mux.HandleFunc("GET /debug/hotkeys", s.hotKeys)
	mux.HandleFunc("GET /debug/stats", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, s.Stats()) })
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	return s.primary.Middleware(loader.Middleware(mux))
}

// handler serves one endpoint: a status and a body to send as JSON, or an
// error that statusOf maps.
type handler func(r *http.Request) (status int, body any, err error)

// errorBody is every error answer.
type errorBody struct {
	Error string `json:"error"`
	Kind  string `json:"kind"`
}

// endpoint runs h under its latency class: the class's Timeout is the
// request's deadline, and every dbx call made for it is counted, timed
// and budgeted in the class. Overload answers 503 with Retry-After.
func (s *Service) endpoint(class string, h handler) http.Handler {
	budget, _ := classByName(class)
	counters := s.endpoints[class]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		counters.requests.Add(1)
		ctx, cancel := context.WithTimeout(dbx.WithClass(r.Context(), class), budget.Timeout)
		defer cancel()
		status, body, err := h(r.WithContext(ctx))
		kind := ""
		if err != nil {
			var msg string
			status, kind, msg = statusOf(err)
			switch status {
			case http.StatusServiceUnavailable:
				w.Header().Set("Retry-After", RetryAfter)
			case http.StatusInternalServerError:
				s.log.Error("orders: request failed", "endpoint", class, "err", err)
			}
			body = errorBody{Error: msg, Kind: kind}
		}
		writeJSON(w, status, body)
		counters.answered(status, kind)
		s.http.observe(class, status, time.Since(start))
	})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body) // the client went away: nothing to do
}

// listOrders: GET /customers/{id}/orders?limit=N.
func (s *Service) listOrders(r *http.Request) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	limit := DefaultLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > MaxLimit {
			return 0, nil, inputErrorf("limit: %q: must be an integer from 1 to %d", v, MaxLimit)
		}
	}
	orders, err := s.repo.CustomerOrders(r.Context(), id, limit)
	if err != nil {
		return 0, nil, err
	}
	if orders == nil {
		orders = []Order{} // [] in JSON, not null
	}
	return http.StatusOK, orders, nil
}

// createOrder: POST /orders.
func (s *Service) createOrder(r *http.Request) (int, any, error) {
	var in NewOrder
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return 0, nil, inputErrorf("body: %v: want {\"customer_id\":N,\"items\":[{\"product_id\":N,\"quantity\":N},...]}", err)
	}
	o, _, err := s.repo.CreateOrder(r.Context(), in) // dbx.Middleware sends the token
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, o, nil
}

// getProfile: GET /profiles/{customer_id}.
func (s *Service) getProfile(r *http.Request) (int, any, error) {
	id, err := pathID(r, "customer_id")
	if err != nil {
		return 0, nil, err
	}
	p, err := s.profiles.get(r.Context(), id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, p, nil
}

// hotKey is one entry of /debug/hotkeys.
type hotKey struct {
	Key   string  `json:"key"`
	Shard string  `json:"shard"`
	Rate  float64 `json:"rate"`  // estimated lookups per second
	Share float64 `json:"share"` // of its shard's lookups
	Error float64 `json:"error"` // the rate's possible overestimate
}

// hotKeys: GET /debug/hotkeys?n=N (default 10, at most 100).
func (s *Service) hotKeys(w http.ResponseWriter, r *http.Request) {
	n := 10
	if v := r.URL.Query().Get("n"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 100 {
			writeJSON(w, http.StatusBadRequest, errorBody{Error: "n: must be an integer from 1 to 100", Kind: kindBadInput})
			return
		}
	}
	out := []hotKey{}
	for _, k := range s.router.HotKeys(n) {
		out = append(out, hotKey{Key: k.Key.String(), Shard: k.Shard, Rate: k.Rate, Share: k.Share, Error: k.Error})
	}
	writeJSON(w, http.StatusOK, out)
}

// pathID parses a positive id from the path.
func pathID(r *http.Request, name string) (int64, error) {
	v := r.PathValue(name)
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id < 1 {
		return 0, inputErrorf("%s: %q: must be a positive integer", name, v)
	}
	return id, nil
}

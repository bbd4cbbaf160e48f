package loadtest

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A server that slows down gets the same arrivals as a fast one: the
// generator does not wait for answers (open model).
func TestOpenModelSlowServerGetsEveryArrival(t *testing.T) {
	t.Parallel()
	for _, delay := range []time.Duration{0, 300 * time.Millisecond} {
		t.Run(delay.String(), func(t *testing.T) {
			t.Parallel()
			var seen atomic.Int64
			url := serve(t, func(w http.ResponseWriter, r *http.Request) {
				seen.Add(1)
				sleep(r, delay)
			})
			r := run(t, Scenario{BaseURL: url, Endpoints: []Endpoint{get("api", "/", 1)}, Schedule: Constant(100, 2*time.Second)})
			if r.Schedule.Arrivals() != 200 || r.All.Total.Sent != 200 {
				t.Fatalf("scheduled %d, sent %d; want 200 each", r.Schedule.Arrivals(), r.All.Total.Sent)
			}
			if n := seen.Load(); n != 200 {
				t.Fatalf("server saw %d requests, want 200", n)
			}
			if r.All.Total.OK != 200 {
				t.Fatalf("OK %d, want 200: %+v", r.All.Total.OK, r.All.Total.Counts)
			}
			if len(r.All.Windows) < 2 || len(r.All.Windows) > 3 {
				t.Fatalf("%d windows for a 2 s run", len(r.All.Windows))
			}
		})
	}
}

// When MaxInFlight is reached the model is no longer open: the result
// says so (late arrivals) instead of silently measuring a closed loop.
func TestMaxInFlightMakesArrivalsLate(t *testing.T) {
	t.Parallel()
	url := serve(t, func(w http.ResponseWriter, r *http.Request) { sleep(r, 200*time.Millisecond) })
	r := run(t, Scenario{
		BaseURL: url, Endpoints: []Endpoint{get("api", "/", 1)},
		Schedule: Constant(50, time.Second), MaxInFlight: 2,
	})
	// 2 workers x 5/s = 10/s of capacity for 50/s: most arrivals wait.
	if r.Arrivals.Late < 25 || r.Arrivals.LateMax < time.Second/2 {
		t.Fatalf("late %d (max %v), want most of 50 arrivals late by up to seconds", r.Arrivals.Late, r.Arrivals.LateMax)
	}
	if r.All.Total.Sent != 50 {
		t.Fatalf("sent %d, want 50 (late, not dropped)", r.All.Total.Sent)
	}
}

func TestStatusClasses(t *testing.T) {
	t.Parallel()
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/shed":
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/shed-date":
			w.Header().Set("Retry-After", time.Now().Add(time.Second).UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/no-retry-after":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/bad-retry-after":
			w.Header().Set("Retry-After", "soon")
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/500":
			w.WriteHeader(http.StatusInternalServerError)
		case "/404":
			w.WriteHeader(http.StatusNotFound)
		case "/slow":
			sleep(r, time.Minute) // until the client gives up
		case "/hangup":
			c, _, _ := w.(http.Hijacker).Hijack()
			c.Close()
		}
	})
	paths := []string{"/shed", "/shed-date", "/no-retry-after", "/bad-retry-after", "/500", "/404", "/slow", "/hangup", "/ok"}
	var eps []Endpoint
	for _, p := range paths {
		eps = append(eps, get(strings.TrimPrefix(p, "/"), p, 1))
	}
	// A timeout long enough that a busy machine (or -race) does not turn
	// instant answers into timeouts.
	const timeout = 3 * time.Second
	r := run(t, Scenario{BaseURL: url, Endpoints: eps, Schedule: Constant(90, time.Second), Timeout: timeout})
	want := map[string]func(c Counts) uint64{
		"shed":            func(c Counts) uint64 { return c.Shed },
		"shed-date":       func(c Counts) uint64 { return c.Shed },
		"no-retry-after":  func(c Counts) uint64 { return c.ShedNoRetryAfter },
		"bad-retry-after": func(c Counts) uint64 { return c.ShedNoRetryAfter },
		"500":             func(c Counts) uint64 { return c.ServerErrors },
		"404":             func(c Counts) uint64 { return c.ClientErrors },
		"slow":            func(c Counts) uint64 { return c.Timeouts },
		"hangup":          func(c Counts) uint64 { return c.TransportErrors },
		"ok":              func(c Counts) uint64 { return c.OK },
	}
	var total uint64
	for _, e := range r.Endpoints {
		c := e.Total.Counts
		total += c.Sent
		if c.Sent == 0 || want[e.Name](c) != c.Sent {
			t.Errorf("%s: %+v, want every request in its class", e.Name, c)
		}
		shedByDesign := e.Name == "shed" || e.Name == "shed-date"
		if (c.Errors() == 0) != (shedByDesign || e.Name == "ok") {
			t.Errorf("%s: %d errors", e.Name, c.Errors())
		}
	}
	if total != 90 || r.Unattributed != 0 {
		t.Fatalf("%d requests in endpoints, %d unattributed; want 90, 0", total, r.Unattributed)
	}
	// Timeouts count as admitted latency (at the time they gave up),
	// sheds do not.
	slow, _ := r.Endpoint("slow")
	shed, _ := r.Endpoint("shed")
	if slow.Total.P50 < timeout || shed.Total.Admitted != 0 {
		t.Fatalf("slow p50 %v (want >= timeout), shed admitted %d (want 0)", slow.Total.P50, shed.Total.Admitted)
	}
}

// The server checks that a user's GET carries the token its own POST got.
func TestCausalTokenCarriedPerUser(t *testing.T) {
	t.Parallel()
	type issued struct {
		tok string
		at  time.Time
	}
	var (
		mu                                 = make(chan struct{}, 1)
		last                               = map[string]issued{}
		n, carried, foreign, gets, missing atomic.Int64
	)
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		u := r.URL.Query().Get("u")
		mu <- struct{}{}
		defer func() { <-mu }()
		switch r.Method {
		case http.MethodPost:
			tok := "u" + u + "-" + itoa(n.Add(1))
			last[u] = issued{tok, time.Now()}
			w.Header().Set(DefaultTokenHeader, tok)
			w.WriteHeader(http.StatusCreated)
		default:
			gets.Add(1)
			got := r.Header.Get(DefaultTokenHeader)
			switch {
			case got != "" && !strings.HasPrefix(got, "u"+u+"-"):
				foreign.Add(1)
			case got != "":
				carried.Add(1)
			case !last[u].at.IsZero() && time.Since(last[u].at) > 100*time.Millisecond:
				missing.Add(1) // the user had a token for a while and did not send it
			}
		}
	})
	build := func(method string) func(u User, _ uint64) Request {
		return func(u User, _ uint64) Request { return Request{Method: method, Path: "/x?u=" + itoa(int64(u.ID))} }
	}
	r := run(t, Scenario{
		BaseURL: url,
		Endpoints: []Endpoint{
			{Name: "create", Weight: 1, Build: build(http.MethodPost)},
			{Name: "list", Weight: 3, Build: build(http.MethodGet)},
		},
		Users:    Users{Count: 5, HotShare: -1},
		Schedule: Constant(200, 2*time.Second),
	})
	if r.All.Total.OK < 360 {
		t.Fatalf("%+v, want (nearly) all 400 answered", r.All.Total.Counts)
	}
	t.Logf("GETs %d: carried %d, foreign %d, missing %d", gets.Load(), carried.Load(), foreign.Load(), missing.Load())
	if foreign.Load() != 0 || carried.Load() < gets.Load()/2 || missing.Load() > gets.Load()/50 {
		t.Fatalf("GETs %d: carried %d, foreign %d, missing %d; want 0 foreign, most carried, <= 2%% missing",
			gets.Load(), carried.Load(), foreign.Load(), missing.Load())
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// WatchFor counts answers whose body carries a string (the demo: 53300),
// and a threshold can fail the run on it.
func TestWatchFor(t *testing.T) {
	t.Parallel()
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/full" {
			http.Error(w, `{"error":"sorry, too many clients already (SQLSTATE 53300)"}`, http.StatusInternalServerError)
			return
		}
		w.Write([]byte(strings.Repeat("x", 4000) + "53300")) // past the 1 KiB looked at
	})
	r := run(t, Scenario{
		BaseURL: url, WatchFor: "53300",
		Endpoints: []Endpoint{get("full", "/full", 1), get("ok", "/ok", 1)},
		Schedule:  Constant(40, time.Second),
	})
	full, _ := r.Endpoint("full")
	ok, _ := r.Endpoint("ok")
	if full.Total.Watched != full.Total.Sent || ok.Total.Watched != 0 || r.All.Total.Watched != full.Total.Sent || ok.Total.OK != ok.Total.Sent {
		t.Fatalf("watched: full %d of %d, ok %d of %d", full.Total.Watched, full.Total.Sent, ok.Total.Watched, ok.Total.Sent)
	}
	var watched uint64
	for _, w := range r.All.Windows {
		watched += w.Watched
	}
	if watched != full.Total.Sent {
		t.Fatalf("windows count %d watched, want %d", watched, full.Total.Sent)
	}
	th, _ := ParseThresholds("all: watched<1")
	if v := r.Check(th); len(v) != 1 {
		t.Fatalf("violations %v", v)
	}
}

// Package loadtest drives an HTTP service with an open-model load
// generator (constant arrival rate or a stepped ramp, over vegeta) and
// reports latency per endpoint against SLOs from HDR histograms, k6-style
// thresholds that fail a run, the knee of a ramp, and a self-contained
// HTML report. It is the demo's and `make loadtest`'s tooling, not
// product: the service under test is reached over HTTP only.
//
// Open model: arrivals are due at the schedule's times whether or not
// earlier requests were answered, so a slow service meets the same load a
// fast one does (a closed loop would back off and hide the slowdown).
// Requests in flight are bounded by [Scenario.MaxInFlight]; when it is
// reached, arrivals start late, and [Result.Arrivals] says how many and by
// how much instead of silently measuring a closed loop.
//
//	s := loadtest.Scenario{
//		BaseURL: "http://127.0.0.1:8080",
//		Endpoints: []loadtest.Endpoint{
//			{Name: "list", Weight: 8, SLO: loadtest.SLO{P95: 150 * time.Millisecond, P99: 400 * time.Millisecond},
//				Build: func(u loadtest.User, _ uint64) loadtest.Request {
//					return loadtest.Request{Path: fmt.Sprintf("/customers/%d/orders?limit=20", u.ID)}
//				}},
//			{Name: "profile", Weight: 4, Hot: true, Build: ...},
//			{Name: "create", Weight: 1, Build: ...}, // a POST: its causal token rides on the user's next GETs
//		},
//		Schedule: loadtest.Constant(200, 30*time.Second),
//		Scrape:   loadtest.HTTPScraper(nil, "http://127.0.0.1:8080/debug/stats", connsInUse),
//	}
//	r, err := loadtest.Run(ctx, s, os.Stderr) // a progress line a second
//	if err != nil { ... }
//	violations := r.Check(s.Thresholds()) // or loadtest.ParseThresholds("list: p95<150ms; create: error_rate<1%")
//	r.WriteText(os.Stdout, loadtest.Extra{Label: "queries per request", Value: "2.0"})
//	r.WriteHTML(f)
//	if len(violations) > 0 { os.Exit(1) }
//
// What a request became ([Counts]): 2xx; 503 with a valid Retry-After is
// shed by design (not an error); a 503 without one, other 4xx/5xx,
// timeouts ([Scenario.Timeout]) and transport errors are errors.
// [Scenario.WatchFor] counts answers whose body carries a string (the
// demo: "53300", the server's too-many-connections SQLSTATE, which must
// never reach a client), and a "watched<1" threshold fails the run on it.
// Latency percentiles are of admitted requests (every answer but a shed,
// timeouts at the time they gave up); sheds have their own P99.
//
// Per user, the causal token a response carries (header
// Pgfleet-Causal-Token by default, [Users.TokenHeader]) is sent with that
// user's next requests, so reads can follow the user's own writes. A few
// users are hot on purpose ([Users.Hot], [Users.HotShare]) for the
// endpoints marked [Endpoint.Hot].
//
// Ramps: [Ramp] steps the rate up and drops it back; [Knee] finds the
// highest step whose admitted P99 stayed within the SLO (with little
// shedding) and how soon after the drop latency and shedding were back.
//
// Memory is histograms and per-second summaries, independent of the
// number of requests ([Result.PeakHistogramBytes]).
package loadtest

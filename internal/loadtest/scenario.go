package loadtest

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Defaults for the zero values of [Scenario] fields.
const (
	// DefaultTimeout bounds one request: it also bounds how long a 1-second
	// window stays open and, with the rate, how many requests are in flight.
	DefaultTimeout = 5 * time.Second
	// DefaultMaxInFlight bounds the generator's concurrent requests (vegeta
	// workers). See [Scenario.MaxInFlight] for what happens when it is hit.
	DefaultMaxInFlight = 1000
	// DefaultSeed makes the user and endpoint mix reproducible.
	DefaultSeed = 14
	// MaxDuration bounds a scenario's schedule: the per-second window
	// summaries grow with it (about 150 bytes per endpoint and second).
	MaxDuration = 2 * time.Hour
	// maxEndpoints bounds the number of endpoints (histograms per endpoint).
	maxEndpoints = 64
)

// AllEndpoints names the aggregate of every endpoint in thresholds, [Knee]
// and the reports; no endpoint may use it (or "*", its alias).
const AllEndpoints = "all"

// Scenario is one load test: where, what mix, how fast, for how long.
type Scenario struct {
	// BaseURL is the service's root, e.g. "http://127.0.0.1:8080". Required.
	BaseURL string
	// Endpoints is the request mix. Required, at most 64.
	Endpoints []Endpoint
	// Schedule is the arrival rate over time: [Constant] or [Ramp]. Required.
	Schedule Schedule
	// Users are the simulated users (customers) requests are made for.
	Users Users
	// Timeout bounds each request (connect, answer and body); a request
	// past it counts as a timeout. Zero means [DefaultTimeout].
	Timeout time.Duration
	// MaxInFlight bounds concurrent requests (vegeta's MaxWorkers). When it
	// is hit the next arrival waits for a free worker: from then on the
	// model is no longer open and arrivals are late. [Result] reports the
	// lateness (Arrivals.Late, Arrivals.LateMax) so such a run is visible,
	// never silently closed-loop. It is also the most connections the
	// generator opens to the service (and keeps idle between requests).
	// Zero means [DefaultMaxInFlight].
	MaxInFlight int
	// Seed seeds the endpoint and user choice. Zero means [DefaultSeed].
	Seed uint64
	// WatchFor, when set, is looked for in the first 1 KiB of every
	// answer's body (any status); answers that contain it are counted in
	// Counts.Watched, e.g. "53300" to show that no request met the
	// server's connection limit. Empty: bodies are drained unread.
	WatchFor string
	// Scrape, when set, is called once a second during the run (e.g. the
	// service's /debug/stats mapped to connections in use per node). A
	// failure is counted and kept in the result, never fatal.
	Scrape Scraper
}

// Endpoint is one kind of request in the mix.
type Endpoint struct {
	// Name identifies the endpoint in reports and thresholds ("list",
	// "create"). Required, unique, not "all" or "*", no spaces, ':' or ';'.
	Name string
	// Weight is the endpoint's share of arrivals relative to the others.
	// Must be > 0.
	Weight int
	// Hot makes this endpoint pick its user from the hot set
	// ([Users.HotShare]); other endpoints pick users uniformly.
	Hot bool
	// Build makes the request for a user. Required. Its path is joined to
	// [Scenario.BaseURL]. The user's causal token (if the service gave one)
	// is sent by the generator; Build need not add it.
	Build func(u User, seq uint64) Request
	// SLO is the endpoint's objective, shown next to the measured values
	// and turned into thresholds by [Scenario.Thresholds]. Zero fields are
	// not checked.
	SLO SLO
}

// Request is what [Endpoint.Build] returns.
type Request struct {
	Method string // "" means GET
	Path   string // joined to the base URL, e.g. "/customers/7/orders?limit=20"
	Body   []byte
	Header map[string]string
}

// SLO is a latency and error objective for an endpoint (or [AllEndpoints]).
type SLO struct {
	P50, P95, P99 time.Duration // admitted latency; zero = not checked
	// MaxErrorRate is the largest acceptable error share (0.01 = 1%); zero
	// means not checked.
	MaxErrorRate float64
	// MaxShedRate is the largest acceptable share of 503 sheds; zero means
	// not checked (in [Knee] zero means [DefaultKneeMaxShed]).
	MaxShedRate float64
}

// Users is the population requests are made for: ids 1..Count, a few of
// them hot on purpose.
type Users struct {
	// Count is the number of users (customer ids 1..Count). Zero means 1000
	// (the demo seed's customers).
	Count int
	// Hot are the hot user ids; nil means the 5 ids Count/7, 2*Count/7, ...
	// (spread so that they land on different shards). Each must be in
	// 1..Count.
	Hot []int
	// HotShare is the share of [Endpoint.Hot] requests that go to the hot
	// ids (uniformly among them); the rest pick uniformly among all users.
	// Zero means 0.5; must be in [0, 1]. Use a negative value for none.
	HotShare float64
	// TokenHeader is the response header whose value a user sends back on
	// its next requests (the causal token). Empty means
	// "Pgfleet-Causal-Token"; "-" disables token carrying.
	TokenHeader string
}

// DefaultTokenHeader is the causal token header of the orders service.
const DefaultTokenHeader = "Pgfleet-Causal-Token"

// withDefaults returns s with every zero field set to its documented
// default, or an error naming the first bad field.
func (s Scenario) withDefaults() (Scenario, error) {
	// Every request's path is joined to it.
	s.BaseURL = strings.TrimRight(s.BaseURL, "/")
	s.Timeout = cmp.Or(s.Timeout, DefaultTimeout)
	s.MaxInFlight = cmp.Or(s.MaxInFlight, DefaultMaxInFlight)
	s.Seed = cmp.Or(s.Seed, DefaultSeed)
	s.Users.Count = cmp.Or(s.Users.Count, 1000)
	s.Users.HotShare = cmp.Or(s.Users.HotShare, 0.5)
	if s.Users.HotShare < 0 { // none
		s.Users.HotShare = 0
	}
	s.Users.TokenHeader = cmp.Or(s.Users.TokenHeader, DefaultTokenHeader)
	if s.Users.Hot == nil && s.Users.Count > 0 {
		for i := 1; i <= 5; i++ {
			s.Users.Hot = append(s.Users.Hot, max(1, i*s.Users.Count/7))
		}
	}
	return s, s.validate()
}

func (s Scenario) validate() error {
	u, err := url.Parse(s.BaseURL)
	switch {
	case s.BaseURL == "":
		return errors.New("loadtest: Scenario.BaseURL is empty (want e.g. http://127.0.0.1:8080)")
	case err != nil:
		return fmt.Errorf("loadtest: Scenario.BaseURL: %w", err)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return fmt.Errorf("loadtest: Scenario.BaseURL %q: want http://host:port", s.BaseURL)
	case len(s.Endpoints) == 0:
		return errors.New("loadtest: Scenario.Endpoints is empty")
	case len(s.Endpoints) > maxEndpoints:
		return fmt.Errorf("loadtest: %d endpoints, at most %d", len(s.Endpoints), maxEndpoints)
	case s.Timeout < 0:
		return fmt.Errorf("loadtest: Scenario.Timeout %v is negative", s.Timeout)
	case s.MaxInFlight < 0:
		return fmt.Errorf("loadtest: Scenario.MaxInFlight %d is negative", s.MaxInFlight)
	case s.Users.Count < 0:
		return fmt.Errorf("loadtest: Users.Count %d is negative", s.Users.Count)
	case s.Users.HotShare > 1:
		return fmt.Errorf("loadtest: Users.HotShare %v is above 1 (it is a share: 0.5 = half)", s.Users.HotShare)
	}
	for _, id := range s.Users.Hot {
		if id < 1 || id > s.Users.Count {
			return fmt.Errorf("loadtest: Users.Hot id %d outside 1..%d (Users.Count)", id, s.Users.Count)
		}
	}
	seen := map[string]bool{}
	for i, e := range s.Endpoints {
		switch {
		case e.Name == "":
			return fmt.Errorf("loadtest: Endpoints[%d].Name is empty", i)
		case e.Name == AllEndpoints || e.Name == "*":
			return fmt.Errorf("loadtest: Endpoints[%d].Name %q is reserved for the aggregate", i, e.Name)
		case strings.ContainsAny(e.Name, " :;,\t\n"):
			return fmt.Errorf("loadtest: Endpoints[%d].Name %q has a space, ':', ';' or ',' (thresholds could not name it)", i, e.Name)
		case seen[e.Name]:
			return fmt.Errorf("loadtest: endpoint %q appears twice", e.Name)
		case e.Weight <= 0:
			return fmt.Errorf("loadtest: endpoint %q: Weight %d, want > 0", e.Name, e.Weight)
		case e.Build == nil:
			return fmt.Errorf("loadtest: endpoint %q: Build is nil", e.Name)
		}
		seen[e.Name] = true
	}
	return s.Schedule.validate()
}

// Thresholds turns the endpoints' SLOs into thresholds ("list: p95<150ms,
// p99<400ms, error_rate<1%"), so that a scenario's SLOs can fail a run.
func (s Scenario) Thresholds() Thresholds {
	var th Thresholds
	for _, e := range s.Endpoints {
		th = append(th, e.SLO.thresholds(e.Name)...)
	}
	return th
}

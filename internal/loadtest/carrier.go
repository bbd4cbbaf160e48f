package loadtest

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// refHeader tags each request with its endpoint and user between the
// targeter and the transport; the transport removes it before sending.
const refHeader = "X-Loadtest-Ref"

// seqHeader is set by vegeta on every request: the same number as the
// Seq of the vegeta.Result that reports it.
const seqHeader = "X-Vegeta-Seq"

// ref is which endpoint and user a request was for.
type ref struct{ ep, user int }

func (r ref) String() string { return strconv.Itoa(r.ep) + "/" + strconv.Itoa(r.user) }

func parseRef(s string) (ref, bool) {
	a, b, ok := strings.Cut(s, "/")
	if !ok {
		return ref{}, false
	}
	ep, err1 := strconv.Atoi(a)
	u, err2 := strconv.Atoi(b)
	return ref{ep, u}, err1 == nil && err2 == nil
}

// carrier is the generator's http.RoundTripper around the real transport.
// vegeta's Result carries the response headers but neither the request's
// nor anything the targeter chose, so the carrier:
//   - notes which endpoint and user each vegeta sequence number was for,
//     so results can be sorted per endpoint (timeouts included);
//   - keeps the causal token a user's answer carries, which the targeter
//     sends with that user's next requests (read-your-writes).
//
// The sequence map holds only requests in flight: at most MaxInFlight.
type carrier struct {
	base        http.RoundTripper
	mix         *mix
	tokenHeader string // "" = no token carrying

	mu   sync.Mutex
	refs map[uint64]ref
}

func (c *carrier) RoundTrip(req *http.Request) (*http.Response, error) {
	r, _ := parseRef(req.Header.Get(refHeader))
	if seq, err := strconv.ParseUint(req.Header.Get(seqHeader), 10, 64); err == nil {
		c.mu.Lock()
		c.refs[seq] = r
		c.mu.Unlock()
	}
	// A RoundTripper must not change the caller's request.
	out := *req
	out.Header = req.Header.Clone()
	out.Header.Del(refHeader)
	resp, err := c.base.RoundTrip(&out)
	if err == nil && c.tokenHeader != "" && resp.StatusCode/100 == 2 {
		if tok := resp.Header.Get(c.tokenHeader); tok != "" {
			c.mix.setToken(r.user, tok)
		}
	}
	return resp, err
}

// take returns and forgets the endpoint and user of sequence seq; ok is
// false when the request never reached the transport (e.g. a bad URL).
func (c *carrier) take(seq uint64) (ref, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.refs[seq]
	delete(c.refs, seq)
	return r, ok
}

func (c *carrier) inFlight() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.refs)
}

// newClient is the generator's HTTP client: the carrier over a transport
// that keeps up to MaxInFlight connections, no redirects followed (a load
// test measures the endpoint asked for: a 3xx counts as Other), and the
// per-request timeout.
func newClient(s Scenario, m *mix) (*http.Client, *carrier) {
	car := &carrier{
		base: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: s.Timeout, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: s.MaxInFlight,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		},
		mix:  m,
		refs: map[uint64]ref{},
	}
	if s.Users.TokenHeader != "-" {
		car.tokenHeader = s.Users.TokenHeader
	}
	return &http.Client{
		Transport:     car,
		Timeout:       s.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, car
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// transport when the run ends.
func (c *carrier) CloseIdleConnections() {
	if t, ok := c.base.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
}

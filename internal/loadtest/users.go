package loadtest

import (
	"math/rand/v2"
	"sync"
)

// User is a simulated user as [Endpoint.Build] sees it.
type User struct {
	ID int // 1..Users.Count: use it as the customer id
	// Token is the causal token the service returned to this user's last
	// answered request that carried one ("" before), sent by the generator
	// in the token header; Build needs it only to send it another way.
	Token string
}

// mix picks the endpoint and user of each arrival. vegeta calls the
// targeter from many workers, so the random source is behind a mutex; the
// seed fixes the distribution, not the order (workers interleave).
type mix struct {
	mu       sync.Mutex
	rng      *rand.Rand
	weights  []int // cumulative
	users    Users
	tokens   []string // by user id; guarded by mu
	hotPicks []uint64 // arrivals per hot id (Users.Hot order); guarded by mu
}

func newMix(s Scenario) *mix {
	m := &mix{
		rng:      rand.New(rand.NewPCG(s.Seed, s.Seed^0x9e3779b97f4a7c15)),
		users:    s.Users,
		tokens:   make([]string, s.Users.Count+1),
		hotPicks: make([]uint64, len(s.Users.Hot)),
	}
	total := 0
	for _, e := range s.Endpoints {
		total += e.Weight
		m.weights = append(m.weights, total)
	}
	return m
}

// next picks an endpoint (by weight) and a user for it.
func (m *mix) next(eps []Endpoint) (int, User) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := m.rng.IntN(m.weights[len(m.weights)-1])
	ep := 0
	for w >= m.weights[ep] {
		ep++
	}
	var id int
	if eps[ep].Hot && len(m.users.Hot) > 0 && m.rng.Float64() < m.users.HotShare {
		h := m.rng.IntN(len(m.users.Hot))
		m.hotPicks[h]++
		id = m.users.Hot[h]
	} else {
		id = 1 + m.rng.IntN(m.users.Count)
	}
	return ep, User{ID: id, Token: m.tokens[id]}
}

// setToken keeps the token the service returned for a user.
func (m *mix) setToken(id int, tok string) {
	if id < 1 || id >= len(m.tokens) {
		return
	}
	m.mu.Lock()
	m.tokens[id] = tok
	m.mu.Unlock()
}

// hot is the hot ids with the arrivals each got, for the report.
func (m *mix) hot() []HotUser {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]HotUser, len(m.users.Hot))
	for i, id := range m.users.Hot {
		out[i] = HotUser{ID: id, Requests: m.hotPicks[i]}
	}
	return out
}

// HotUser is a user the generator made hot and the hot-endpoint requests
// it picked for it on purpose (uniform picks that land on it are extra).
type HotUser struct {
	ID       int
	Requests uint64
}

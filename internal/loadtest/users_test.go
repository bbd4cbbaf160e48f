package loadtest

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// A few users get a large share of the hot endpoint's requests, on
// purpose; other endpoints pick users uniformly.
func TestHotUsers(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]map[int]int{} // path prefix -> user -> requests
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		kind, id, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		n, _ := strconv.Atoi(id)
		mu.Lock()
		if seen[kind] == nil {
			seen[kind] = map[int]int{}
		}
		seen[kind][n]++
		mu.Unlock()
	})
	byUser := func(kind string) func(User, uint64) Request {
		return func(u User, _ uint64) Request { return Request{Path: "/" + kind + "/" + strconv.Itoa(u.ID)} }
	}
	r := run(t, Scenario{
		BaseURL: url,
		Endpoints: []Endpoint{
			{Name: "profile", Weight: 1, Hot: true, Build: byUser("profiles")},
			{Name: "list", Weight: 1, Build: byUser("customers")},
		},
		Users:    Users{Count: 100, Hot: []int{7, 50}, HotShare: 0.5},
		Schedule: Constant(400, time.Second),
	})
	mu.Lock()
	defer mu.Unlock()
	t.Logf("profiles: 7=%d 50=%d; lists: 7=%d 50=%d; generator: %+v", seen["profiles"][7], seen["profiles"][50], seen["customers"][7], seen["customers"][50], r.Hot)
	// ~200 profile lookups, half of them on the 2 hot ids: ~50 each; a
	// uniform pick gives any id ~1-2.
	for id, n := range seen["profiles"] {
		hot := id == 7 || id == 50
		if hot && n < 25 || !hot && n > 12 {
			t.Errorf("profiles of user %d: %d requests (hot %v)", id, n, hot)
		}
	}
	for id, n := range seen["customers"] {
		if n > 12 {
			t.Errorf("lists of user %d: %d requests, want uniform", id, n)
		}
	}
	if len(r.Hot) != 2 || r.Hot[0].ID != 7 || r.Hot[0].Requests+r.Hot[1].Requests < 50 {
		t.Fatalf("Result.Hot %+v", r.Hot)
	}
}

func TestDefaultHotUsersAreSpread(t *testing.T) {
	t.Parallel()
	s, err := Scenario{BaseURL: "http://x", Endpoints: []Endpoint{get("a", "/", 1)}, Schedule: Constant(1, time.Second)}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Users.Hot; len(got) != 5 || got[0] != 142 || got[4] != 714 || s.Users.HotShare != 0.5 {
		t.Fatalf("default hot users %v, share %v", got, s.Users.HotShare)
	}
}

package loadtest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/pgfleet/pgfleet/internal/loadtest"
)

func Example() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.Header().Set("Pgfleet-Causal-Token", "0/16B3A80")
			w.WriteHeader(http.StatusCreated)
		}
	}))
	defer srv.Close()

	s := loadtest.Scenario{
		BaseURL: srv.URL,
		Endpoints: []loadtest.Endpoint{
			{Name: "list", Weight: 3, SLO: loadtest.SLO{P99: time.Second}, Build: func(u loadtest.User, _ uint64) loadtest.Request {
				return loadtest.Request{Path: fmt.Sprintf("/customers/%d/orders", u.ID)}
			}},
			{Name: "create", Weight: 1, SLO: loadtest.SLO{MaxErrorRate: 0.01}, Build: func(u loadtest.User, _ uint64) loadtest.Request {
				return loadtest.Request{Method: http.MethodPost, Path: "/orders",
					Body: fmt.Appendf(nil, `{"customer_id":%d,"items":[{"product_id":1,"quantity":1}]}`, u.ID)}
			}},
		},
		Schedule: loadtest.Constant(20, time.Second),
	}
	r, err := loadtest.Run(context.Background(), s, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("sent", r.All.Total.Sent, "ok", r.All.Total.OK)
	fmt.Println("violations:", len(r.Check(s.Thresholds())))
	// Output:
	// sent 20 ok 20
	// violations: 0
}

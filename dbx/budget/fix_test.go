package budget_test

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pgfleet/pgfleet/dbx/budget"
)

// Regression: with the share already at 1 the fix said "raise the share to
// 1", and with a budget too small for one pod "lower maxReplicas to 0 or
// fewer". Every fix offered must be possible, and must work when applied.
func TestPoolForOffersOnlyPossibleFixes(t *testing.T) {
	t.Parallel()
	stock := budget.PostgresDefaults() // usable 97
	for _, tc := range []struct {
		name                         string
		svc                          budget.Service
		share                        float64
		wantShare, wantPods, wantMax bool
	}{
		// The README's old example: 25 + 7 surge pods on a quarter of 97.
		{"share helps", budget.Service{Name: "orders", MaxReplicas: 25}, 0.25, true, true, true},
		// 200 + 50 surge pods exceed all 97 slots: no share can do it.
		{"share already 1", budget.Service{Name: "orders", MaxReplicas: 200}, 1, false, true, true},
		// A budget of 0 (floor(97 x 0.005)): no pod count fits either.
		{"tiny share", budget.Service{Name: "orders", Replicas: 2}, 0.005, true, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := budget.PoolFor(stock, tc.svc, tc.share)
			var be *budget.Error
			if !errors.As(err, &be) {
				t.Fatalf("PoolFor = %v, want a *budget.Error", err)
			}
			share := regexp.MustCompile(`raise the share to ([0-9.]+)`).FindStringSubmatch(be.Fix)
			if (share != nil) != tc.wantShare {
				t.Fatalf("fix %q: offers a share %v, want %v", be.Fix, share != nil, tc.wantShare)
			}
			if share != nil {
				s, _ := strconv.ParseFloat(share[1], 64)
				if s <= tc.share || s > 1 {
					t.Fatalf("fix %q: share %g from %g", be.Fix, s, tc.share)
				}
				if a, err := budget.PoolFor(stock, tc.svc, s); err != nil || a.PerProcess < 1 {
					t.Fatalf("the suggested share %g does not fit: %v", s, err)
				}
			}
			pods := regexp.MustCompile(`lower (?:maxReplicas|replicas) to (\d+)`).FindStringSubmatch(be.Fix)
			if (pods != nil) != tc.wantPods {
				t.Fatalf("fix %q: offers a pod count %v, want %v", be.Fix, pods != nil, tc.wantPods)
			}
			if pods != nil {
				n, _ := strconv.Atoi(pods[1])
				svc := tc.svc
				svc.MaxReplicas = n
				if a, err := budget.PoolFor(stock, svc, tc.share); n < 1 || err != nil || a.PerProcess < 1 {
					t.Fatalf("the suggested %d pods do not fit: %v", n, err)
				}
			}
			max := regexp.MustCompile(`raise max_connections to at least (\d+)`).FindStringSubmatch(be.Fix)
			if (max != nil) != tc.wantMax {
				t.Fatalf("fix %q: offers max_connections %v", be.Fix, max != nil)
			}
			n, _ := strconv.Atoi(max[1])
			srv := stock
			srv.MaxConnections = n
			if a, err := budget.PoolFor(srv, tc.svc, tc.share); err != nil || a.PerProcess < 1 {
				t.Fatalf("the suggested max_connections %d does not fit: %v", n, err)
			}
			if !strings.HasSuffix(be.Fix, "or put a pooler (PgBouncer) in front") {
				t.Fatalf("fix %q", be.Fix)
			}
		})
	}
}

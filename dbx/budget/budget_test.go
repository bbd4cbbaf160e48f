package budget_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/pgfleet/pgfleet/dbx/budget"
)

func TestUsable(t *testing.T) {
	t.Parallel()
	s := budget.Server{MaxConnections: 100, SuperuserReserved: 3, Reserved: 2, Headroom: 10}
	if got := s.Usable(); got != 85 {
		t.Fatalf("Usable = %d, want 85", got)
	}
	if want := "usable 85 = max_connections 100 - superuser_reserved 3 - reserved 2 - headroom 10"; s.Explain() != want {
		t.Fatalf("Explain = %q", s.Explain())
	}
	if err := (budget.Server{MaxConnections: 3, SuperuserReserved: 3}).Validate(); err == nil {
		t.Fatal("a server with no usable slot validated")
	}
}

func TestSurgePods(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pods  int
		surge string
		want  int
	}{
		{10, "", 3}, {4, "", 1}, {1, "25%", 1}, {20, "25%", 5}, {10, "0", 0}, {10, "2", 2}, {10, "0%", 0}, {3, "50%", 2},
	} {
		got, err := budget.SurgePods(tc.pods, tc.surge)
		if err != nil || got != tc.want {
			t.Errorf("SurgePods(%d, %q) = %d, %v; want %d", tc.pods, tc.surge, got, err, tc.want)
		}
	}
	for _, bad := range []string{"x", "-1", "a%", "-5%"} {
		if _, err := budget.SurgePods(10, bad); err == nil {
			t.Errorf("SurgePods(10, %q) accepted", bad)
		}
	}
}

func TestDemand(t *testing.T) {
	t.Parallel()
	svc := budget.Service{Name: "api", Replicas: 3, MaxReplicas: 20, Processes: 4, PoolMax: 5}
	d, err := svc.Demand()
	if err != nil {
		t.Fatal(err)
	}
	if d.Connections != (20+5)*4*5 || d.Surge != 5 {
		t.Fatalf("demand = %+v", d)
	}
	sts := budget.Service{Name: "db-writer", Replicas: 3, NoSurge: true, PoolMax: 10}
	if d, _ := sts.Demand(); d.Connections != 30 {
		t.Fatalf("no-surge demand = %d, want 30", d.Connections)
	}
}

func TestPoolFor(t *testing.T) {
	t.Parallel()
	srv := budget.Server{MaxConnections: 200, SuperuserReserved: 3, Headroom: 10}
	a, err := budget.PoolFor(srv, budget.Service{Name: "orders", Replicas: 4, MaxReplicas: 20}, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	// usable 187, budget 93, worst pods 25 -> 3.
	if a.Budget != 93 || a.WorstCasePods != 25 || a.PerProcess != 3 {
		t.Fatalf("allocation = %+v", a)
	}
	if !strings.Contains(a.Explanation, "floor(budget 93 / (worst-case pods 25 x processes 1))") {
		t.Fatalf("explanation = %q", a.Explanation)
	}

	_, err = budget.PoolFor(budget.Server{MaxConnections: 20, SuperuserReserved: 3}, budget.Service{Name: "api", MaxReplicas: 40}, 1)
	var be *budget.Error
	if !errors.As(err, &be) || !strings.Contains(be.Fix, "max_connections") {
		t.Fatalf("err = %v, want a *budget.Error that says what to change", err)
	}
	for _, share := range []float64{0, -1, 1.5} {
		if _, err := budget.PoolFor(srv, budget.Service{Name: "x", Replicas: 1}, share); err == nil {
			t.Errorf("share %g accepted", share)
		}
	}
}

func TestSplitAndCheck(t *testing.T) {
	t.Parallel()
	got := budget.Split(97, []budget.Claim{{Weight: 300, Slots: 10}, {Weight: 100, Slots: 2}, {Weight: 0, Slots: 3}})
	// One each first (12 slots), then 85: 63.75 -> 63/10 = 6 more; 21.25 -> 21/2 = 10 more; weightless -> 0.
	if got[0] != 7 || got[1] != 11 || got[2] != 0 {
		t.Fatalf("Split = %v", got)
	}
	// A small claim is not starved by a heavy one: 37 over 8 + 12 slots.
	got = budget.Split(37, []budget.Claim{{Weight: 16, Slots: 8}, {Weight: 180, Slots: 12}})
	if got[0] != 1 || got[1] != 2 {
		t.Fatalf("Split = %v, want [1 2]", got)
	}
	// When not every pool can have one, weights decide alone.
	got = budget.Split(5, []budget.Claim{{Weight: 1, Slots: 4}, {Weight: 1, Slots: 4}})
	if got[0] != 0 || got[1] != 0 {
		t.Fatalf("Split = %v, want [0 0]", got)
	}
	srv := budget.PostgresDefaults()
	if f := budget.Check(srv, budget.Demand{Connections: 50}, budget.Demand{Connections: 48}); f.Verdict != budget.Over {
		t.Fatalf("98 of 97 = %s", f.Verdict)
	}
	if f := budget.Check(srv, budget.Demand{Connections: 90}); f.Verdict != budget.Warn {
		t.Fatalf("90 of 97 = %s", f.Verdict)
	}
	if f := budget.Check(srv, budget.Demand{Connections: 87}); f.Verdict != budget.OK {
		t.Fatalf("87 of 97 = %s", f.Verdict)
	}
}

package budget_test

import (
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/pgfleet/pgfleet/dbx/budget"
)

// exact computes op on big integers and clamps to the int range: what the
// saturating helpers must return.
func exact(op string, a, b int) int {
	x, y := big.NewInt(int64(a)), big.NewInt(int64(b))
	var r big.Int
	switch op {
	case "add":
		r.Add(x, y)
	case "sub":
		r.Sub(x, y)
	case "mul":
		r.Mul(x, y)
	}
	switch {
	case r.Cmp(big.NewInt(math.MaxInt)) > 0:
		return math.MaxInt
	case r.Cmp(big.NewInt(math.MinInt)) < 0:
		return math.MinInt
	}
	return int(r.Int64())
}

func checkArith(t *testing.T, a, b int) {
	t.Helper()
	for op, f := range map[string]func(int, int) int{"add": budget.Add, "sub": budget.Sub, "mul": budget.Mul} {
		if got, want := f(a, b), exact(op, a, b); got != want {
			t.Errorf("%s(%d, %d) = %d, want %d", op, a, b, got, want)
		}
	}
}

func TestSaturatingArithmeticAtTheEdges(t *testing.T) {
	t.Parallel()
	edges := []int{0, 1, -1, 2, -2, 100, math.MaxInt32, math.MinInt32, 1 << 32, 3037000499, 3037000500, -3037000500,
		math.MaxInt / 2, math.MaxInt/2 + 1, math.MinInt / 2, math.MaxInt - 1, math.MaxInt, math.MinInt + 1, math.MinInt}
	for _, a := range edges {
		for _, b := range edges {
			checkArith(t, a, b)
		}
	}
	if !budget.Saturated(budget.Mul(1<<40, 1<<40)) || budget.Saturated(budget.Mul(1<<30, 1<<30)) {
		t.Fatal("Saturated disagrees with Mul")
	}
}

func FuzzSaturatingArithmetic(f *testing.F) {
	f.Add(int64(math.MaxInt64), int64(1))
	f.Add(int64(math.MinInt64), int64(-1))
	f.Add(int64(1<<62), int64(2))
	f.Fuzz(func(t *testing.T, a, b int64) {
		checkArith(t, int(a), int(b))
	})
}

// Regression: (pods + surge) x processes x pool wrapped negative for huge
// inputs, and a negative replica count subtracted from the fleet's demand,
// so that an over-budget fleet checked as fitting.
func TestDemandRefusesNegativeAndOverflowingCounts(t *testing.T) {
	t.Parallel()
	for _, svc := range []budget.Service{
		{Name: "neg", Replicas: -100, PoolMax: 10},
		{Name: "negmax", Replicas: 2, MaxReplicas: -5, PoolMax: 10},
		{Name: "negpool", Replicas: 2, PoolMax: -10},
		{Name: "hugepool", Replicas: 2, PoolMax: 4611686018427387904},
		{Name: "bigall", Replicas: math.MaxInt32, Processes: math.MaxInt32, PoolMax: math.MaxInt32},
		{Name: "surge", Replicas: 1000, MaxSurge: "922337203685477580%", PoolMax: 1},
	} {
		d, err := svc.Demand()
		if err == nil {
			t.Errorf("%s: demand %d accepted", svc.Name, d.Connections)
			continue
		}
		if !strings.HasPrefix(err.Error(), "budget: ") {
			t.Errorf("%s: error %q lacks the package prefix", svc.Name, err)
		}
	}
	// Large but computable counts stay exact.
	d, err := budget.Service{Name: "wide", Replicas: math.MaxInt32, MaxSurge: "100%", PoolMax: 2}.Demand()
	if err != nil || d.Connections != 2*2*math.MaxInt32 {
		t.Fatalf("demand = %d, %v", d.Connections, err)
	}
}

// Regression: a huge percentage went through float64 and came back as
// math.MinInt on amd64.
func TestSurgePodsHugePercent(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"922337203685477580%", "9223372036854775807", "2147483648"} {
		if n, err := budget.SurgePods(1000, bad); err == nil {
			t.Errorf("SurgePods(1000, %q) = %d, accepted", bad, n)
		}
	}
	if n, err := budget.SurgePods(math.MaxInt32, "100%"); err != nil || n != math.MaxInt32 {
		t.Fatalf("SurgePods(MaxInt32, 100%%) = %d, %v", n, err)
	}
	if n, err := budget.SurgePods(3, "1000%"); err != nil || n != 30 {
		t.Fatalf("SurgePods(3, 1000%%) = %d, %v", n, err)
	}
	if _, err := budget.SurgePods(-4, "25%"); err == nil {
		t.Fatal("negative pods accepted")
	}
}

// Regression: a headroom of MaxInt64 made the "raise max_connections to at
// least N" hint wrap, and demands that add past MaxInt64 summed negative.
func TestServerAndCheckSaturate(t *testing.T) {
	t.Parallel()
	srv := budget.Server{MaxConnections: 100, SuperuserReserved: 3, Headroom: math.MaxInt}
	if u := srv.Usable(); u >= 0 {
		t.Fatalf("Usable = %d", u)
	}
	err := srv.Validate()
	if err == nil || !strings.Contains(err.Error(), "headroom") {
		t.Fatalf("Validate = %v, want headroom out of range", err)
	}
	if err := (budget.Server{MaxConnections: -1}).CheckCounts(); err == nil {
		t.Fatal("negative max_connections accepted")
	}
	f := budget.Check(budget.PostgresDefaults(), budget.Demand{Connections: math.MaxInt}, budget.Demand{Connections: 5})
	if f.Verdict != budget.Over || f.Demand != math.MaxInt {
		t.Fatalf("Check = %+v, want over, saturated", f)
	}
	if got := budget.Split(10, []budget.Claim{{Weight: 1, Slots: math.MaxInt}, {Weight: 1, Slots: math.MaxInt}}); got[0] != 0 || got[1] != 0 {
		t.Fatalf("Split over saturated slots = %v", got)
	}
	if _, err := budget.PoolFor(budget.PostgresDefaults(), budget.Service{Name: "x", Replicas: -3}, 0.5); err == nil {
		t.Fatal("PoolFor accepted negative replicas")
	}
}

package budgetcheck

import "testing"

// Regression (issue 8): percentages were truncated (380 of 197 printed
// 192%), and could overflow for huge demands.
func TestPercentRounds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		demand, usable int
		want           string
	}{
		{380, 197, "193%"}, {136, 147, "93%"}, {1, 3, "33%"}, {2, 3, "67%"}, {0, 97, "0%"},
		{996, 1000, "99%"}, {1000, 1000, "100%"}, {1004, 1000, "101%"},
		{1 << 62, 97, "4754315482914832384%"}, {5, 0, "-"},
	} {
		if got := percent(tc.demand, tc.usable); got != tc.want {
			t.Errorf("percent(%d, %d) = %s, want %s", tc.demand, tc.usable, got, tc.want)
		}
	}
}

// Regression (issue 8): the summary said "1 databases, 1 errors".
func TestPlural(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]string{0: "0 databases", 1: "1 database", 2: "2 databases"} {
		if got := plural(n, "database"); got != want {
			t.Errorf("plural(%d) = %q, want %q", n, got, want)
		}
	}
}

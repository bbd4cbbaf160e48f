package budget

import (
	"fmt"
	"math"
)

// MaxCount is the largest count any input of a formula may hold. Kubernetes
// replica counts and Postgres and PgBouncer integer settings are 32-bit, so
// anything larger is a typo or an attack, never a fleet; refusing it keeps
// every product of the formulas far from int64 overflow.
const MaxCount = math.MaxInt32

// Add returns a + b, saturated at the int range instead of wrapping, so that
// a huge input can never turn a demand negative (and an over-budget fleet into
// a fitting one). Every formula of this package adds with it.
func Add(a, b int) int {
	s := a + b
	switch {
	case a > 0 && b > 0 && s < 0:
		return math.MaxInt
	case a < 0 && b < 0 && s >= 0:
		return math.MinInt
	}
	return s
}

// Sub returns a - b, saturated like [Add].
func Sub(a, b int) int {
	if b == math.MinInt {
		if a >= 0 {
			return math.MaxInt
		}
		return a - b // a < 0: exact, no overflow
	}
	return Add(a, -b)
}

// Mul returns a x b, saturated at the int range instead of wrapping (see
// [Add]). Every formula of this package multiplies with it.
func Mul(a, b int) int {
	if a == 0 || b == 0 {
		return 0
	}
	p := a * b
	if p/b != a || (a == -1 && b == math.MinInt) || (b == -1 && a == math.MinInt) {
		if (a < 0) == (b < 0) {
			return math.MaxInt
		}
		return math.MinInt
	}
	return p
}

// Saturated reports whether n is a limit of the int range, which is what
// [Add] and [Mul] return when the exact result does not fit: a figure that
// can no longer be trusted.
func Saturated(n int) bool { return n == math.MaxInt || n == math.MinInt }

// fromFloat converts a float result to int, saturating instead of the
// platform-dependent conversion of out-of-range floats (on amd64, 2^63
// becomes math.MinInt).
func fromFloat(f float64) int {
	switch {
	case math.IsNaN(f):
		return 0
	case f >= math.MaxInt:
		return math.MaxInt
	case f <= math.MinInt:
		return math.MinInt
	}
	return int(f)
}

// CheckCount returns an *[Error] naming what when v is negative or above
// [MaxCount].
func CheckCount(what string, v int) error {
	if v < 0 || v > MaxCount {
		return &Error{Reason: fmt.Sprintf("%s %d is outside 0..%d", what, v, MaxCount), Fix: fmt.Sprintf("use a count between 0 and %d", MaxCount)}
	}
	return nil
}

// count is one named input of a formula, for [checkCounts].
type count struct {
	name string
	v    int
}

// checkCounts returns the [CheckCount] error of the first count out of
// range, or nil.
func checkCounts(counts ...count) *Error {
	for _, c := range counts {
		if err := CheckCount(c.name, c.v); err != nil {
			return err.(*Error)
		}
	}
	return nil
}

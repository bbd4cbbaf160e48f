package budgetcheck

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pgfleet/pgfleet/dbx/budget"
)

// readInt reads an integer as manifests, environment variables and
// configuration files write it: decimal, blanks around it ignored, its
// magnitude at most budget.MaxCount. Larger magnitudes are typos or attacks:
// taken literally they would overflow the budget formulas and turn an
// over-budget fleet into one that fits.
func readInt(s string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n > budget.MaxCount || n < -budget.MaxCount {
		return 0, false
	}
	return n, true
}

// readCount is [readInt] for a count that must be at least min.
func readCount(s string, min int) (int, bool) {
	n, ok := readInt(s)
	return n, ok && n >= min
}

// wantCount says what [readCount] accepts, for PGF007 messages.
func wantCount(min int) string {
	return fmt.Sprintf("an integer between %d and %d", min, budget.MaxCount)
}

// wantInt says what [readInt] accepts, for PGF007 messages.
var wantInt = fmt.Sprintf("an integer between %d and %d", -budget.MaxCount, budget.MaxCount)

package budget

import "fmt"

// WarnRatio is the fraction of usable connections above which a fleet is
// reported as close to the limit.
const WarnRatio = 0.9

// Verdict is how a fleet's worst-case demand compares with a server's budget.
type Verdict string

const (
	OK   Verdict = "ok"   // demand <= WarnRatio x usable
	Warn Verdict = "warn" // demand above WarnRatio x usable, still fits
	Over Verdict = "over" // demand > usable: the server will answer 53300 at peak
)

// Fit is a fleet's worst-case demand against one server's usable connections.
type Fit struct {
	Usable      int
	Demand      int
	Verdict     Verdict
	Explanation string
}

// Check sums the demands and compares them with the server's usable
// connections. The sum saturates (see [Add]): demands too large to add up
// are over any server, never a negative total that fits.
func Check(srv Server, demands ...Demand) Fit {
	f := Fit{Usable: srv.Usable()}
	for _, d := range demands {
		f.Demand = Add(f.Demand, d.Connections)
	}
	switch {
	case f.Demand > f.Usable:
		f.Verdict = Over
	case float64(f.Demand) > WarnRatio*float64(f.Usable):
		f.Verdict = Warn
	default:
		f.Verdict = OK
	}
	f.Explanation = fmt.Sprintf("worst-case demand %d vs %s: %s", f.Demand, srv.Explain(), f.Verdict)
	return f
}

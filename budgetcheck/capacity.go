package budgetcheck

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/pgfleet/pgfleet/dbx/budget"
)

// Annotations that declare a workload's peak load, for Little's law (see
// dbx/budget.Concurrency): the connections the peak keeps busy are rps x
// db-time-per-request, and the fleet's pools must hold at least that many,
// or requests queue for a connection however well the server fits.
const (
	// AnnotationRPS is the workload's declared peak, in requests per second
	// across all its pods, e.g. "400" or "12.5".
	AnnotationRPS = "pgfleet.dev/rps"
	// AnnotationDBTime is the connection time one request holds, summed
	// over its queries (a Go duration: "15ms", "1.5ms").
	AnnotationDBTime = "pgfleet.dev/db-time-per-request"
)

// Load is a client's declared peak and what it needs by Little's law.
type Load struct {
	RPS    float64 `json:"rps"`
	DBTime string  `json:"db_time_per_request"`
	// Needed is the connections the peak keeps busy: rps x db time.
	Needed float64 `json:"needed_connections"`
	// Capacity is the most connections the fleet's pools can hold at once
	// without a rollout: max pods x processes x pool; 0 when unknown.
	Capacity int `json:"capacity"`

	hold time.Duration
}

// readLoad reads the load annotations of one container into cl.Load. Both
// are needed; one without the other, or a value that cannot be read, is a
// PGF007 problem (see badLoad).
func (ix *index) readLoad(w *workload, container string, cl *Client) {
	rpsVal, rpsKey, hasRPS := w.annotation(AnnotationRPS, container)
	timeVal, timeKey, hasTime := w.annotation(AnnotationDBTime, container)
	if !hasRPS && !hasTime {
		return
	}
	if hasRPS != hasTime {
		key, missing := rpsKey, AnnotationDBTime
		if !hasRPS {
			key, missing = timeKey, AnnotationRPS
		}
		ix.badLoad(w, cl, fmt.Sprintf("annotation %s needs %s too: Little's law needs both the rate and the time per request", key, missing))
		return
	}
	rps, err := strconv.ParseFloat(strings.TrimSpace(rpsVal), 64)
	if err != nil || !(rps > 0) || math.IsInf(rps, 0) || rps > budget.MaxCount {
		ix.badLoad(w, cl, fmt.Sprintf("annotation %s %q: want requests per second, a number above 0 and at most %d, e.g. \"400\"", rpsKey, rpsVal, budget.MaxCount))
		return
	}
	hold, err := time.ParseDuration(strings.TrimSpace(timeVal))
	if err != nil || hold <= 0 {
		ix.badLoad(w, cl, fmt.Sprintf("annotation %s %q: want a duration above 0 with its unit, e.g. \"15ms\"", timeKey, timeVal))
		return
	}
	cl.Load = &Load{RPS: rps, DBTime: hold.String(), Needed: budget.Concurrency(rps, hold), hold: hold}
	if cl.Pods.State == Known && cl.Processes.State == Known && cl.Pool.State == Known {
		cl.Load.Capacity = budget.Mul(budget.Mul(cl.Pods.Value, cl.Processes.Value), cl.Pool.Value)
	}
}

// badLoad records an unreadable load declaration as a PGF007 finding
// without a database: the load does not enter the connection arithmetic,
// so it must not turn the database's verdict to unknown as an unreadable
// pool size does.
func (ix *index) badLoad(w *workload, cl *Client, msg string) {
	ix.problems = append(ix.problems, problem{check: "PGF007", loc: w.loc, client: cl.ID, message: cl.ID + ": " + msg})
}

// runUnderCapacity is PGF013: the fleet's pools cannot carry the declared
// peak, whatever the server allows.
func runUnderCapacity(p *pass, c *Check) {
	for _, d := range p.report.Databases {
		for _, cl := range d.Clients {
			l := cl.Load
			if l == nil || l.Capacity == 0 || float64(l.Capacity) >= l.Needed {
				continue
			}
			perProcess := budget.SizeForLoad(l.Needed)
			if slots := budget.Mul(cl.Pods.Value, cl.Processes.Value); slots > 0 {
				perProcess = (perProcess + slots - 1) / slots
			}
			p.emit(c, Finding{Database: d.ID, Client: cl.ID, Location: cl.Location,
				Message: fmt.Sprintf("%s: the declared peak needs %s connections (Little's law) but the fleet's pools hold at most %d",
					cl.ID, strconv.FormatFloat(l.Needed, 'f', -1, 64), l.Capacity),
				Arithmetic: fmt.Sprintf("needed %s = rps %s x db time %s (%s, %s); capacity %d = max pods %d x processes %d x pool %d",
					strconv.FormatFloat(l.Needed, 'f', -1, 64), strconv.FormatFloat(l.RPS, 'f', -1, 64), l.DBTime, AnnotationRPS, AnnotationDBTime,
					l.Capacity, cl.Pods.Value, cl.Processes.Value, cl.Pool.Value),
				Suggestion: fmt.Sprintf("a pool of %d per process serves the peak at %d%% utilisation (or raise max pods, or cut the db time per request); then check that %s still fits",
					perProcess, int(budget.TargetUtilisation*100), d.ID),
			})
		}
	}
}

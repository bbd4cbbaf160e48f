package budget

import (
	"math"
	"time"
)

// Little's law: the mean number of requests in a system is their arrival
// rate times the time each spends in it (L = lambda x W). For a connection
// pool, W is how long a request holds a connection, so rate x hold time is
// the number of connections the load keeps busy on average, before any
// queueing. A pool smaller than that cannot keep up however long callers
// wait: its queue grows until the gate sheds. It is the opposite failure of
// oversubscription (a fleet too big for its server), and dbx (measured
// online) and budgetcheck (declared in annotations) compute it here, so the
// two agree.

// TargetUtilisation is the share of a pool that steady load should keep
// busy: above it, queueing delay rises steeply (for random arrivals the
// wait grows as 1/(1-utilisation)), so a pool is sized for the load at this
// utilisation.
const TargetUtilisation = 0.8

// Concurrency is the connections a load keeps busy on average: rate (calls
// per second) x hold (connection time per call). 0 for non-positive or NaN
// inputs; +Inf saturates to math.MaxFloat64.
func Concurrency(rate float64, hold time.Duration) float64 {
	if !(rate > 0) || hold <= 0 {
		return 0
	}
	return min(rate*hold.Seconds(), math.MaxFloat64)
}

// SizeForLoad is the pool size that serves a load of the given concurrency at
// TargetUtilisation: ceil(concurrency / 0.8), at least 1, saturated at
// MaxCount.
func SizeForLoad(concurrency float64) int {
	if !(concurrency > 0) {
		return 1
	}
	return max(1, min(fromFloat(math.Ceil(concurrency/TargetUtilisation)), MaxCount))
}

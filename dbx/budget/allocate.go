package budget

import (
	"fmt"
	"math"
	"strings"
)

// Allocation is the pool size one process of a service gets from its share of
// a server, with the arithmetic that led to it.
type Allocation struct {
	Service       string
	Usable        int     // the server's usable connections
	Share         float64 // the service's fraction of Usable
	Budget        int     // floor(Usable x Share): the service's connections across the fleet
	WorstCasePods int     // pods + surge
	Processes     int     // pools per pod
	PerProcess    int     // floor(Budget / (WorstCasePods x Processes)): the pool max of one process
	Explanation   string
}

// PoolFor sizes one process's pool so that the whole service, at its worst
// case pod count, stays within share of the server's usable connections.
// It refuses a budget that leaves a process less than one connection and says
// what to change.
func PoolFor(srv Server, svc Service, share float64) (Allocation, error) {
	if err := srv.Validate(); err != nil {
		return Allocation{}, err
	}
	if !(share > 0 && share <= 1) {
		return Allocation{}, &Error{Reason: fmt.Sprintf("%s: share %g is outside (0, 1]", svc.Name, share), Fix: "give the service a share such as 0.25 for a quarter of the server"}
	}
	worst, err := svc.WorstCasePods()
	if err != nil {
		return Allocation{}, err
	}
	if worst < 1 {
		return Allocation{}, &Error{Reason: fmt.Sprintf("%s: no pods (replicas %d, maxReplicas %d)", svc.Name, svc.Replicas, svc.MaxReplicas), Fix: "declare replicas or the autoscaler's maxReplicas"}
	}
	a := Allocation{Service: svc.Name, Usable: srv.Usable(), Share: share, WorstCasePods: worst, Processes: svc.processes()}
	a.Budget = fromFloat(math.Floor(float64(a.Usable) * share))
	slots := Mul(a.WorstCasePods, a.Processes)
	a.PerProcess = a.Budget / slots
	a.Explanation = fmt.Sprintf("%s: pool %d per process = floor(budget %d / (worst-case pods %d x processes %d)); budget %d = floor(%s x share %g)",
		svc.Name, a.PerProcess, a.Budget, a.WorstCasePods, a.Processes, a.Budget, srv.Explain(), share)
	if a.PerProcess < 1 {
		// Offer only fixes that are possible from here: no share above 1, no
		// pod count below 1.
		fixes := []string{fmt.Sprintf("raise max_connections to at least %d", Add(fromFloat(math.Ceil(float64(slots)/share)), Sub(srv.MaxConnections, a.Usable)))}
		if pods := Sub(a.Budget/a.Processes, Sub(worst, svc.Pods())); pods >= 1 {
			field := "maxReplicas"
			if svc.MaxReplicas == 0 {
				field = "replicas"
			}
			fixes = append(fixes, fmt.Sprintf("lower %s to %d or fewer", field, pods))
		}
		if slots <= a.Usable {
			fixes = append(fixes, fmt.Sprintf("raise the share to %g", shareFor(slots, a.Usable)))
		}
		fixes = append(fixes, "put a pooler (PgBouncer) in front")
		return a, &Error{
			Reason: a.Explanation + ": less than 1 connection per process",
			Fix:    strings.Join(fixes[:len(fixes)-1], ", ") + " or " + fixes[len(fixes)-1],
		}
	}
	return a, nil
}

// shareFor is the smallest share, in thousandths, whose budget of usable
// holds slots connections (floor(usable x share) >= slots); slots <= usable.
func shareFor(slots, usable int) float64 {
	for m := int(math.Ceil(float64(slots) * 1000 / float64(usable))); m < 1000; m++ {
		if share := float64(m) / 1000; int(math.Floor(float64(usable)*share)) >= slots {
			return share
		}
	}
	return 1
}

// Claim is one workload competing for a server's usable connections in [Split].
type Claim struct {
	// Weight is the workload's relative share; budgetcheck uses its current
	// worst-case demand so that a suggestion keeps today's proportions.
	Weight float64
	// Slots is the number of pools the workload opens at worst:
	// worst-case pods x processes per pod.
	Slots int
}

// Split divides usable connections among claims and returns the largest
// pool per process that fits for each. When every pool can have one
// connection, each gets one first, so that a small workload is never starved
// by a large one's weight; what remains is split in proportion to the
// weights. A result of 0 means the claim cannot get even one connection per
// pool.
func Split(usable int, claims []Claim) []int {
	out := make([]int, len(claims))
	var total float64
	slots := 0
	for _, c := range claims {
		if c.Slots > 0 && c.Weight > 0 {
			total += c.Weight
			slots = Add(slots, c.Slots)
		}
	}
	if total == 0 || usable <= 0 {
		return out
	}
	base, rest := 0, usable
	if slots <= usable {
		base, rest = 1, usable-slots
	}
	for i, c := range claims {
		if c.Slots <= 0 || c.Weight <= 0 {
			continue
		}
		out[i] = base + fromFloat(math.Floor(float64(rest)*c.Weight/total))/c.Slots
	}
	return out
}

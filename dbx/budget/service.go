package budget

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultMaxSurge is Kubernetes' default Deployment maxSurge.
const DefaultMaxSurge = "25%"

// Service is one workload of the fleet as the budget sees it: how many pods
// it can have at worst and how many connections each pod opens.
type Service struct {
	// Name identifies the service in explanations.
	Name string
	// Replicas is spec.replicas. It counts when MaxReplicas is 0.
	Replicas int
	// MaxReplicas is the autoscaler's ceiling (HPA or KEDA maxReplicas);
	// 0 means the workload is not autoscaled.
	MaxReplicas int
	// MaxSurge is the rollout's maxSurge, as Kubernetes writes it: an integer
	// ("2") or a percentage of the pods ("25%", rounded up). Empty means the
	// Kubernetes default, 25%. Ignored when NoSurge is set.
	MaxSurge string
	// NoSurge is set for workloads that never run extra pods during a
	// rollout: the Recreate strategy, StatefulSets, DaemonSets.
	NoSurge bool
	// Processes is the number of processes per pod that each open their own
	// pool (gunicorn or puma workers, several containers); 0 means 1.
	Processes int
	// PoolMax is the pool size of one process, used by [Service.Demand].
	PoolMax int
}

// Pods is the largest steady-state pod count: MaxReplicas when autoscaled,
// else Replicas.
func (s Service) Pods() int {
	if s.MaxReplicas > 0 {
		return s.MaxReplicas
	}
	return s.Replicas
}

// Surge is the number of extra pods a rollout may add on top of [Service.Pods].
func (s Service) Surge() (int, error) {
	if s.NoSurge {
		return 0, nil
	}
	return SurgePods(s.Pods(), s.MaxSurge)
}

// WorstCasePods is [Service.Pods] plus [Service.Surge]: terminating and
// surging pods hold connections at the same time during a rollout.
func (s Service) WorstCasePods() (int, error) {
	if err := s.Validate(); err != nil {
		return 0, err
	}
	surge, err := s.Surge()
	if err != nil {
		return 0, err
	}
	return Add(s.Pods(), surge), nil
}

// Validate reports a count outside 0..[MaxCount]: a negative replica count
// would subtract from the fleet's demand and hide an over-budget neighbour.
func (s Service) Validate() error {
	if e := checkCounts(count{"replicas", s.Replicas}, count{"maxReplicas", s.MaxReplicas},
		count{"processes", s.Processes}, count{"pool max", s.PoolMax}); e != nil {
		return &Error{Reason: s.Name + ": " + e.Reason, Fix: e.Fix}
	}
	return nil
}

func (s Service) processes() int {
	if s.Processes <= 0 {
		return 1
	}
	return s.Processes
}

// Demand is the worst-case number of connections a service opens, with the
// arithmetic that led to it.
type Demand struct {
	Service     string
	Pods        int
	Surge       int
	Processes   int
	PoolMax     int
	Connections int
	Explanation string
}

// Slots is the number of pools the service opens at worst:
// (pods + surge) x processes, saturated (see [Mul]).
func (d Demand) Slots() int {
	return Mul(Add(d.Pods, d.Surge), d.Processes)
}

// Demand computes (pods + surge) x processes x pool max. It returns an
// *[Error] for a count outside 0..[MaxCount] ([Service.Validate]) and for a
// product too large to compute: such a demand is unknown, not a number that
// could be compared with a server.
func (s Service) Demand() (Demand, error) {
	if err := s.Validate(); err != nil {
		return Demand{}, err
	}
	surge, err := s.Surge()
	if err != nil {
		return Demand{}, err
	}
	d := Demand{Service: s.Name, Pods: s.Pods(), Surge: surge, Processes: s.processes(), PoolMax: s.PoolMax}
	d.Connections = Mul(d.Slots(), d.PoolMax)
	if Saturated(d.Connections) {
		return Demand{}, &Error{
			Reason: fmt.Sprintf("%s: demand (pods %d + surge %d) x processes %d x pool %d overflows", s.Name, d.Pods, d.Surge, d.Processes, d.PoolMax),
			Fix:    "check these numbers: no fleet opens that many connections",
		}
	}
	d.Explanation = fmt.Sprintf("%s: demand %d = (pods %d + surge %d) x processes %d x pool %d",
		s.Name, d.Connections, d.Pods, d.Surge, d.Processes, d.PoolMax)
	return d, nil
}

// SurgePods resolves a Kubernetes maxSurge value against a pod count: an
// integer is taken as is, a percentage is rounded up (as the Deployment
// controller does), and "" means [DefaultMaxSurge].
func SurgePods(pods int, maxSurge string) (int, error) {
	v := strings.TrimSpace(maxSurge)
	if v == "" {
		v = DefaultMaxSurge
	}
	if err := CheckCount("pods", pods); err != nil {
		return 0, err
	}
	const fix = `write an integer ("2") or a percentage ("25%") between 0 and 2147483647`
	if pct, ok := strings.CutSuffix(v, "%"); ok {
		p, err := strconv.Atoi(pct)
		if err != nil || CheckCount("", p) != nil {
			return 0, &Error{Reason: fmt.Sprintf("maxSurge %q is not a percentage between 0%% and %d%%", maxSurge, MaxCount), Fix: fix}
		}
		// Integer arithmetic: pods and p are at most MaxCount, so the
		// product fits in int64 and the ceiling is exact.
		return Mul(pods, p)/100 + min(1, Mul(pods, p)%100), nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || CheckCount("", n) != nil {
		return 0, &Error{Reason: fmt.Sprintf("maxSurge %q is neither an integer nor a percentage between 0 and %d", maxSurge, MaxCount), Fix: fix}
	}
	return n, nil
}

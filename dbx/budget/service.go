package budget

import (
	"fmt"
	"math"
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
	surge, err := s.Surge()
	if err != nil {
		return 0, err
	}
	return s.Pods() + surge, nil
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

// Demand computes (pods + surge) x processes x pool max.
func (s Service) Demand() (Demand, error) {
	surge, err := s.Surge()
	if err != nil {
		return Demand{}, err
	}
	d := Demand{Service: s.Name, Pods: s.Pods(), Surge: surge, Processes: s.processes(), PoolMax: s.PoolMax}
	d.Connections = (d.Pods + d.Surge) * d.Processes * d.PoolMax
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
	if pct, ok := strings.CutSuffix(v, "%"); ok {
		p, err := strconv.Atoi(pct)
		if err != nil || p < 0 {
			return 0, &Error{Reason: fmt.Sprintf("maxSurge %q is not a percentage", maxSurge), Fix: `write an integer ("2") or a percentage ("25%")`}
		}
		return int(math.Ceil(float64(pods) * float64(p) / 100)), nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, &Error{Reason: fmt.Sprintf("maxSurge %q is neither an integer nor a percentage", maxSurge), Fix: `write an integer ("2") or a percentage ("25%")`}
	}
	return n, nil
}

package budget

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The PGFLEET_* environment variables: a pod's fleet declaration. dbx reads
// them from its process environment (Config fields override them) and
// budgetcheck reads them from the manifest's container env, both through
// [ParseEnv], so that the pool a pod runs with and the one the checker
// computes come from the same text by the same code.
const (
	EnvService     = "PGFLEET_SERVICE"      // the service name (application_name prefix, quota space)
	EnvPoolMax     = "PGFLEET_POOL_MAX"     // pool max (cap) per process
	EnvShare       = "PGFLEET_SHARE"        // fraction of the server's usable connections, (0, 1]
	EnvQuota       = "PGFLEET_QUOTA"        // the service's connections across the fleet
	EnvQuotaMin    = "PGFLEET_QUOTA_MIN"    // guaranteed connections per process under a quota
	EnvReplicas    = "PGFLEET_REPLICAS"     // spec.replicas
	EnvMaxReplicas = "PGFLEET_MAX_REPLICAS" // the autoscaler's maxReplicas
	EnvMaxSurge    = "PGFLEET_MAX_SURGE"    // the rollout's maxSurge ("25%", "2")
	EnvNoSurge     = "PGFLEET_NO_SURGE"     // "true" for Recreate and StatefulSets
	EnvProcesses   = "PGFLEET_PROCESSES"    // pools per pod (worker processes)
	EnvHeadroom    = "PGFLEET_HEADROOM"     // server connections left free
)

// DefaultPoolMax is the pool of one process when nothing sizes it (dbx's
// DefaultMaxConns): never pgx's max(4, NumCPU) of the node.
const DefaultPoolMax = 5

// EnvNames lists every PGFLEET_* variable [ParseEnv] reads.
var EnvNames = []string{EnvService, EnvPoolMax, EnvShare, EnvQuota, EnvQuotaMin, EnvReplicas, EnvMaxReplicas, EnvMaxSurge, EnvNoSurge, EnvProcesses, EnvHeadroom}

// Declaration is a pod's fleet declaration as the PGFLEET_* variables state
// it. Zero fields were not set.
type Declaration struct {
	Service  string
	PoolMax  int
	Share    float64
	Quota    int
	QuotaMin int
	Headroom int
	// Fleet holds Replicas, MaxReplicas, MaxSurge, NoSurge and Processes;
	// its Name is Service.
	Fleet Service
}

// ParseEnv reads the PGFLEET_* variables through lookup (os.LookupEnv, or a
// manifest's env). A malformed value is an *[Error] naming the variable and
// the fix; all of them are reported at once.
func ParseEnv(lookup func(string) (string, bool)) (Declaration, error) {
	var d Declaration
	var errs []error
	get := func(name string) (string, bool) {
		v, ok := lookup(name)
		v = strings.TrimSpace(v)
		return v, ok && v != ""
	}
	count := func(name string, dst *int) {
		v, ok := get(name)
		if !ok {
			return
		}
		n, err := strconv.Atoi(v)
		if err != nil || CheckCount("", n) != nil {
			errs = append(errs, &Error{Reason: fmt.Sprintf("%s=%q is not a count", name, v), Fix: fmt.Sprintf("set %s to an integer between 0 and %d", name, MaxCount)})
			return
		}
		*dst = n
	}
	d.Service, _ = get(EnvService)
	count(EnvPoolMax, &d.PoolMax)
	count(EnvQuota, &d.Quota)
	count(EnvQuotaMin, &d.QuotaMin)
	count(EnvHeadroom, &d.Headroom)
	count(EnvReplicas, &d.Fleet.Replicas)
	count(EnvMaxReplicas, &d.Fleet.MaxReplicas)
	count(EnvProcesses, &d.Fleet.Processes)
	if v, ok := get(EnvShare); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f > 0 && f <= 1) {
			errs = append(errs, &Error{Reason: fmt.Sprintf("%s=%q is not a fraction in (0, 1]", EnvShare, v), Fix: "set it to e.g. 0.25 for a quarter of the server's usable connections"})
		} else {
			d.Share = f
		}
	}
	if v, ok := get(EnvMaxSurge); ok {
		if _, err := SurgePods(1, v); err != nil {
			e := err.(*Error)
			errs = append(errs, &Error{Reason: EnvMaxSurge + ": " + e.Reason, Fix: e.Fix})
		} else {
			d.Fleet.MaxSurge = v
		}
	}
	if v, ok := get(EnvNoSurge); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, &Error{Reason: fmt.Sprintf("%s=%q is not a boolean", EnvNoSurge, v), Fix: "set it to true (Recreate, StatefulSet) or false"})
		} else {
			d.Fleet.NoSurge = b
		}
	}
	d.Fleet.Name = d.Service
	return d, errors.Join(errs...)
}

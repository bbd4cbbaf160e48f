//go:build !linux

package topology

import "runtime"

// The local backend needs Linux process controls: a parent-death signal so
// that no server outlives a killed test, /proc to find a postmaster's
// children and owners, System V shared memory clean-up.

func newLocal() (Backend, error) {
	return nil, &UnavailableError{Reason: "the local backend is not supported on this OS (" + runtime.GOOS + "): it needs Linux process controls; use the testcontainers backend (" + ContainersImport + ") or set PGFLEET_TEST_DATABASE_URL for single-node tests"}
}

// startTime is unknown without /proc.
func startTime(int) int64 { return 0 }

// processAlive cannot tell without /proc, so it never lets a caller remove
// what may be a live process's.
func processAlive(int, int64) bool { return true }

package topology

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// OwnerID names this process as the owner of the resources it starts:
// "<pid>-<process start time>". A pid alone is reused; with its start time a
// later process can tell a dead owner (whose leftovers it may remove) from a
// live one (whose servers it must never touch).
func OwnerID() string { return fmt.Sprintf("%d-%d", os.Getpid(), selfStartTime()) }

// OwnerAlive reports whether the process named by an [OwnerID] of this host
// still runs. Where the OS does not tell (no /proc), and for an id it cannot
// parse, it answers true: leftovers are kept rather than a live process's
// servers removed.
func OwnerAlive(id string) bool {
	pidS, startS, ok := strings.Cut(id, "-")
	pid, err1 := strconv.Atoi(pidS)
	started, err2 := strconv.ParseInt(startS, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return true
	}
	return processAlive(pid, started)
}

// selfStartTime is this process's start time as [OwnerID] records it.
func selfStartTime() int64 { return startTime(os.Getpid()) }

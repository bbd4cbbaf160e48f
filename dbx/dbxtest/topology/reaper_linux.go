package topology

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Cluster directories are named <pid>-<process start time>-<seq>: a process
// is the owner only if both match, so a reused pid never protects a dead
// owner's servers, and a live owner's are never touched.
var clusterDirName = regexp.MustCompile(`^(\d+)-(\d+)-\d+$`)

// processAlive reports whether pid runs and started at started (see
// [OwnerID]).
func processAlive(pid int, started int64) bool {
	st := startTime(pid)
	return st != 0 && st == started
}

// startTime reads field 22 of /proc/<pid>/stat; 0 if the process is gone.
func startTime(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces: count from its ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 20 {
		return 0
	}
	t, _ := strconv.ParseInt(fields[19], 10, 64)
	return t
}

// reap removes the clusters whose owning process is gone: servers that
// escaped their parent-death signal and data directories of killed tests.
func reap(base string) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		m := clusterDirName.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		started, _ := strconv.ParseInt(m[2], 10, 64)
		if processAlive(pid, started) {
			continue // the owner lives
		}
		dir := filepath.Join(base, e.Name())
		nodes, _ := os.ReadDir(dir)
		for _, n := range nodes {
			data := filepath.Join(dir, n.Name())
			if n.IsDir() && killGroup(data) {
				waitGone(postmasterPID(data))
			}
			removeSharedMemory(data)
		}
		_ = os.RemoveAll(dir)
	}
}

func waitGone(pid int) {
	for range 200 {
		if startTime(pid) == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

package topology_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgfleet/pgfleet/dbx/dbxtest"
	"github.com/pgfleet/pgfleet/dbx/dbxtest/topology"
)

// TestHelperProcess is not a test: TestNoServerSurvivesKilledTestProcess runs
// the test binary again with this test only, as the process to be killed.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("DBXTEST_HELPER") != "1" {
		t.Skip("helper process for TestNoServerSurvivesKilledTestProcess")
	}
	c, err := topology.Launch(context.Background(), topology.Topology{Replicas: 1, Shards: 1})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	for _, n := range c.Nodes() {
		fmt.Println("DSN", n.DSN())
	}
	fmt.Println("READY")
	time.Sleep(time.Minute) // killed long before
	os.Exit(1)
}

// TestNoServerSurvivesKilledTestProcess kills a test process with SIGKILL (as
// go test -timeout does after its stack dump) and checks that every server it
// started goes away on its own.
func TestNoServerSurvivesKilledTestProcess(t *testing.T) {
	t.Parallel()
	dbxtest.Start(t, topology.Topology{}) // skips or fails like every test when there is no backend
	if os.Getenv("PGFLEET_TEST_BACKEND") != "" && os.Getenv("PGFLEET_TEST_BACKEND") != "local" {
		t.Skip("parent-death signals are a local-backend mechanism")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "DBXTEST_HELPER=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var dsns []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if dsn, ok := strings.CutPrefix(line, "DSN "); ok {
			dsns = append(dsns, dsn)
		}
		if line == "READY" || strings.HasPrefix(line, "ERROR") {
			if line != "READY" {
				t.Fatal(line)
			}
			break
		}
	}
	if len(dsns) != 3 {
		t.Fatalf("helper started %d nodes, want 3", len(dsns))
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()

	ctx := t.Context()
	deadline := time.Now().Add(20 * time.Second)
	for _, dsn := range dsns {
		n := topology.NodeForDSN(dsn)
		for {
			conn, err := n.Connect(ctx)
			if err != nil {
				break
			}
			conn.Close(ctx)
			if time.Now().After(deadline) {
				t.Fatalf("server %s survived its killed test process", dsn)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// The reaper removes what the dead process left on disk (the next test
	// process would; do it now to free the tmpfs).
	base, err := topology.BaseDir()
	if err != nil {
		t.Fatal(err)
	}
	topology.Reap(base)
	left, _ := filepath.Glob(filepath.Join(base, fmt.Sprintf("%d-*", cmd.Process.Pid)))
	if len(left) > 0 {
		t.Fatalf("the killed process's clusters were not reaped: %v", left)
	}
}

func TestReaperRemovesOnlyDeadOwners(t *testing.T) {
	t.Parallel()
	dbxtest.Start(t, topology.Topology{})
	base, err := topology.BaseDir()
	if err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(base, "999999999-1-1") // no such pid
	alive := filepath.Join(base, fmt.Sprintf("%d-%d-999999", os.Getpid(), topology.SelfStartTime()))
	for _, d := range []string{dead, alive} {
		if err := os.MkdirAll(filepath.Join(d, "primary"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { os.RemoveAll(alive) })
	topology.Reap(base)
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Fatalf("dead owner's cluster %s not reaped: %v", dead, err)
	}
	if _, err := os.Stat(alive); err != nil {
		t.Fatalf("live owner's cluster reaped: %v", err)
	}
}

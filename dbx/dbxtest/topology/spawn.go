package topology

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
)

// spawn starts cmd, whose output goes to out, and returns a channel closed
// when the process has exited (out is closed then). A parent-death signal
// fires when the *thread* that forked the child exits, not the process, so
// the fork happens on a goroutine locked to its thread that stays there
// until the child is gone. On error out is closed and nothing runs.
func spawn(cmd *exec.Cmd, out *os.File) (<-chan struct{}, error) {
	cmd.Stdout, cmd.Stderr = out, out
	exited := make(chan struct{})
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			runtime.UnlockOSThread()
			return
		}
		started <- nil
		_ = cmd.Wait()
		out.Close()
		close(exited)
		// Leave the thread locked: it ends with this goroutine.
	}()
	if err := <-started; err != nil {
		out.Close()
		return nil, err
	}
	return exited, nil
}

// waitExited waits for a process started by spawn to exit (exited nil: it
// never started).
func waitExited(ctx context.Context, exited <-chan struct{}, name string) error {
	if exited == nil {
		return nil
	}
	select {
	case <-exited:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("topology: %s did not exit: %w", name, ctx.Err())
	}
}

//go:build unix

package budgetcheck_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgfleet/pgfleet/budgetcheck"
)

// runBounded runs budgetcheck.Run on paths and fails the test if it does
// not return at all (a hang detector, not a speed assertion).
func runBounded(t *testing.T, opts budgetcheck.Options, paths ...string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := budgetcheck.Run(context.Background(), opts, nil, paths...)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(2 * time.Minute):
		t.Fatalf("Run(%v) hangs", paths)
		return nil
	}
}

func wantInputError(t *testing.T, err error, contains string) {
	t.Helper()
	if !budgetcheck.IsInputError(err) || !strings.Contains(err.Error(), contains) {
		t.Fatalf("err = %v, want an InputError containing %q", err, contains)
	}
}

// TestReadFIFONeverHangs: a FIFO with no writer blocked in open(2) forever;
// one whose writer never writes blocked in read(2). Both now fail with an
// InputError, named on the command line or found walking a directory.
func TestReadFIFONeverHangs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "in.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	opts := budgetcheck.Options{ReadTimeout: 100 * time.Millisecond}
	wantInputError(t, runBounded(t, opts, fifo), "no data")
	wantInputError(t, runBounded(t, opts, dir), "not a regular file")

	w, err := os.OpenFile(fifo, os.O_RDWR, 0) // a writer that never writes
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	wantInputError(t, runBounded(t, opts, fifo), "no end of input within 100ms")
}

// TestReadDevZeroLink: a link to /dev/zero read until memory ran out; named
// on the command line it now stops at MaxFileBytes, and in a directory it
// is refused without reading.
func TestReadDevZeroLink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	link := filepath.Join(dir, "zero.yaml")
	if err := os.Symlink("/dev/zero", link); err != nil {
		t.Fatal(err)
	}
	opts := budgetcheck.Options{MaxFileBytes: 1 << 16}
	wantInputError(t, runBounded(t, opts, link), "--max-file-bytes")
	wantInputError(t, runBounded(t, opts, dir), "not a regular file")
}

// TestReadPipe: a process substitution (<(helm template .)) is a pipe that
// is not a regular file; it is still read.
func TestReadPipe(t *testing.T) {
	t.Parallel()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() {
		fmt.Fprint(w, "apiVersion: v1\nkind: Service\nmetadata: {name: db}\n")
		w.Close()
	}()
	path := fmt.Sprintf("/dev/fd/%d", r.Fd())
	srcs, err := budgetcheck.ReadSources(context.Background(), nil, path)
	if err != nil || len(srcs) != 1 || !strings.Contains(string(srcs[0].Data), "kind: Service") {
		t.Fatalf("ReadSources(%s) = %+v, %v", path, srcs, err)
	}
}

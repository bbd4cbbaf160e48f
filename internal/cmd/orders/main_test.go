package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pgfleet/pgfleet/dbx/dbxtest"
)

// TestRunServesUntilCancelled: run prints its address, serves, and returns
// once its ctx ends, with the service gone.
func TestRunServesUntilCancelled(t *testing.T) {
	dbxtest.SkipShort(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--replicas", "1", "--shards", "1"}, pw)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		dbxtest.Require(t, <-done)
		t.Fatalf("no address printed: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }() // drain the rest
	url := strings.Fields(strings.TrimPrefix(line, "orders: listening on "))[0]
	resp, err := http.Get(url + "/customers/1/orders")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /customers/1/orders: %s", resp.Status)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after its ctx ended")
	}
	if resp, err := http.Get(url + "/debug/stats"); err == nil {
		resp.Body.Close()
		t.Fatal("still serving after run returned")
	}
}

func TestRunRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--replicas", "x"}, {"extra"}, {"--nope"}} {
		var u usageError
		if err := run(t.Context(), args, io.Discard); err == nil || !errors.As(err, &u) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
}

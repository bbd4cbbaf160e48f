//go:build !linux

package topology

import (
	"syscall"
)

var errBouncerOS = &UnavailableError{Reason: "a PgBouncer in front of a topology is supported on Linux only (it needs a parent-death signal so that it never outlives its test)"}

func bouncerProcAttr() (*syscall.SysProcAttr, error) { return nil, errBouncerOS }

func chownFor(string, *syscall.SysProcAttr) error { return errBouncerOS }

func signalBouncer(int, fault) error { return errBouncerOS }

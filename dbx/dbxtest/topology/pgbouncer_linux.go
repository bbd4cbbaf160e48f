package topology

import (
	"errors"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// bouncerProcAttr runs PgBouncer in its own process group (a Ctrl-C reaches
// the test, not the bouncer) with a parent-death signal: PgBouncer has no
// children and no shared state, so SIGKILL when the test process dies
// leaves nothing behind. As root it runs as the postgres user: PgBouncer
// refuses to run as root.
func bouncerProcAttr() (*syscall.SysProcAttr, error) {
	cred, err := serverCredential("PgBouncer")
	if err != nil {
		return nil, err
	}
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}, nil
}

// serverCredential is the postgres user's when running as root (Postgres
// and PgBouncer refuse to run as root), else nil: run as ourselves.
func serverCredential(what string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, &UnavailableError{Reason: "running as root and there is no postgres user to run " + what + " as: create one (useradd postgres) or run the tests as another user"}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// chownFor hands path to the user the process attributes run as.
func chownFor(path string, attr *syscall.SysProcAttr) error {
	if attr.Credential == nil {
		return nil
	}
	return os.Chown(path, int(attr.Credential.Uid), int(attr.Credential.Gid))
}

func signalBouncer(pid int, f fault) error {
	sig := map[fault]syscall.Signal{faultFreeze: syscall.SIGSTOP, faultThaw: syscall.SIGCONT, faultKill: syscall.SIGKILL}[f]
	if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

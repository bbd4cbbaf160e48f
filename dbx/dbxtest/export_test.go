package dbxtest

// Reap exposes the reaper to tests.
var Reap = reap

// BaseDir is where the local backend keeps its clusters.
func BaseDir() (string, error) {
	l, err := newLocal()
	if err != nil {
		return "", err
	}
	return l.base, nil
}

// SelfStartTime is this process's start time as cluster directories name it.
var SelfStartTime = selfStartTime

// FindBindir exposes the binary search.
var FindBindir = findBindir

// InstallHint is what the no-backend error tells users to install.
const InstallHint = installHint

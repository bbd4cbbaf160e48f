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

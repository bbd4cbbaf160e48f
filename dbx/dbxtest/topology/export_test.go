package topology

// BaseDir is where the local backend keeps its clusters.
var BaseDir = baseDir

// SelfStartTime is this process's start time as cluster directories name it.
var SelfStartTime = selfStartTime

// FindBindir exposes the binary search.
var FindBindir = findBindir

// InstallHint is what the no-backend error tells users to install.
const InstallHint = installHint

// BouncerPID is the PgBouncer process's id, 0 before it starts.
func BouncerPID(b *Bouncer) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pid
}

// BouncerDir is the directory that holds the bouncer's configuration.
func BouncerDir(b *Bouncer) string { return b.dir }

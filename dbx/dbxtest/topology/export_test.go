package topology

// BaseDir is where the local backend keeps its clusters.
var BaseDir = baseDir

// SelfStartTime is this process's start time as cluster directories name it.
var SelfStartTime = selfStartTime

// FindBindir exposes the binary search.
var FindBindir = findBindir

// InstallHint is what the no-backend error tells users to install.
const InstallHint = installHint

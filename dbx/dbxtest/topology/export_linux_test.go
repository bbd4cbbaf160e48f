package topology

// Reap exposes the reaper to tests.
var Reap = reap

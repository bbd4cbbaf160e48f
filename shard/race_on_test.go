//go:build race

package shard_test

// raceEnabled: the race detector changes allocation sizes, so heap-size
// bounds are checked only without it.
const raceEnabled = true

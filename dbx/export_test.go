package dbx

// Assess runs Open's budget assessment on a report without a server, for
// pure tests of its numbers and messages.
func Assess(r *Report, cfg Config) error { return r.assess(cfg) }

// Backoff and Jitter are TxWith's retry delay, for pure tests.
var Backoff, Jitter = backoff, jitter

// TakeSlotSQL is the statement a connection takes its quota slot with, for
// the connect-cost benchmark.
const TakeSlotSQL = takeSlotSQL

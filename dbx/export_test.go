package dbx

// Assess runs Open's budget assessment on a report without a server, for
// pure tests of its numbers and messages.
func Assess(r *Report, cfg Config) error { return r.assess(cfg) }

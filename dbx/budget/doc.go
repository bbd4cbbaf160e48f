// Package budget is pgfleet's connection arithmetic: how many connections a
// Postgres server can give to applications, how many a fleet of pods can open
// in the worst case, and how to split the first among the second.
//
// It is pure arithmetic with no pgx and no I/O, so that the runtime ([dbx])
// and the static checker (budgetcheck) compute every number with the same code
// and can never disagree. Every result carries an explanation a human can read
// in an error message or a log line.
//
//	srv := budget.Server{MaxConnections: 200, SuperuserReserved: 3, Headroom: 10}
//	svc := budget.Service{Name: "orders", Replicas: 4, MaxReplicas: 20, MaxSurge: "25%"}
//	alloc, err := budget.PoolFor(srv, svc, 0.5)
//	// alloc.PerProcess == 3: 187 usable x 0.5 = 93 connections over 25 worst-case pods
//
// The formulas:
//
//	usable       = max_connections - superuser_reserved_connections - reserved_connections - headroom
//	worst pods   = (HPA maxReplicas, else replicas) + rollout surge
//	surge        = maxSurge of worst pods (percent rounded up; default 25%; 0 for Recreate and StatefulSets)
//	demand       = worst pods x processes per pod x pool max per process
//	per process  = floor(usable x share / (worst pods x processes))
//
// Every count is an input between 0 and [MaxCount]; anything else is an
// [*Error], never a number. The formulas add and multiply with [Add] and
// [Mul], which saturate instead of wrapping: a huge input yields a huge
// demand (or an error), never a negative one that fits.
package budget

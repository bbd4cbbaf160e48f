// Command fleetsim is an autoscaling simulation against a real Postgres
// server: the same schedule of pods (3 -> 60 -> 3 by default, one pod killed
// with SIGKILL at the peak) and the same open-model load run twice, once with
// naive fixed pools (10 per pod, held open as HikariCP does with
// minimumIdle = maximumPoolSize) and once with pgfleet's fleet quotas
// (dbx.Config.Quota). Each pod is an OS process of its own with its own pool
// and application_name.
//
//	go run ./cmd/fleetsim                 # both modes, ~2.5 minutes, server started for you
//	go run ./cmd/fleetsim -mode budgeted -duration 30s
//
// Per second it records the fleet's connections (pg_stat_activity), 53300
// errors, shed requests and latency percentiles (HDR histograms), and at the
// end writes to -out: summary.json (one summary per mode: errors_53300,
// peak_connections, requests, shed, p50_ms, p95_ms, p99_ms,
// slots_recovered_after_kill_s), fleetsim.csv and fleetsim.svg (connections
// over time against max_connections, both modes, with the pod count).
//
// It is a demonstration, not part of the product: it starts its server
// through dbx/dbxtest/topology (local Postgres binaries, or Docker).
package main

package dbx

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgfleet/pgfleet/internal/dsn"
)

// Read replica defaults. Each is documented on the ReplicaConfig field it fills.
const (
	DefaultMaxLagBytes        = 16 << 20 // one WAL segment
	DefaultMaxLagTime         = 5 * time.Second
	DefaultReplicaPoll        = 500 * time.Millisecond
	DefaultReplicaPollTimeout = time.Second
	DefaultHedgeBudget        = 0.05
)

// cacheLine is the padding that keeps two groups of fields on different
// cache lines (64 bytes on amd64 and most arm64).
const cacheLine = 64

// maxReplicas bounds ReplicaConfig.DSNs: the poller runs one goroutine per
// replica per round, and routing scans them on every read.
const maxReplicas = 64

// ReplicaConfig lists a Cluster's streaming read replicas and how reads are
// routed to them ([Cluster.Reader]). Zero values mean "the default", which
// each field states.
type ReplicaConfig struct {
	// DSNs of the primary's streaming replicas, at most 64. Each becomes a
	// [Node] named "replica" + its index, with a pool and a gate of its own,
	// sized as the primary's is (Config.MaxConns, or Config.Share of that
	// replica's own max_connections: a replica is a server with its own
	// budget); its gate has the primary's AcquireTimeout and MaxWaiters (as
	// resolved for the primary). A replica unreachable at Open is sized
	// like the primary and stays out of the rotation until it answers.
	// Connection settings come from each DSN; Config.Pool's hooks
	// (AfterConnect, BeforeConnect, PrepareConn, AfterRelease, BeforeClose,
	// ShouldPing) and ConnConfig.Tracer apply to every node. Default none:
	// every read runs on the primary.
	DSNs []string

	// MaxLagBytes takes a replica out of the rotation while its replayed WAL
	// is more than this many bytes behind the primary's current position.
	// Default 16 MiB (one WAL segment); negative: no byte limit.
	MaxLagBytes int64
	// MaxLagTime takes a replica out of the rotation while it has not
	// replayed everything the primary has written, and both the last
	// transaction it replayed committed and its polls first found it behind
	// more than this long ago. An idle primary is no lag: when the
	// positions are equal the time lag is 0; and a quiet primary's WAL
	// without a commit (a checkpoint, autovacuum, a non-transactional
	// message), which a poll may find not yet replayed while the last
	// replayed commit is minutes old, is lag only once the replica has
	// stayed behind for MaxLagTime. Default 5s; negative: no time limit.
	MaxLagTime time.Duration

	// PollInterval is how often, in the background, the primary's WAL
	// position and each replica's recovery state, replay position and
	// system identifier are read. Nothing is read per query. Default 500ms.
	PollInterval time.Duration
	// PollTimeout bounds one poll of one node. A replica whose poll fails or
	// times out leaves the rotation until a poll succeeds. Default 1s.
	PollTimeout time.Duration

	// Fallback says what a read does when no replica may serve it.
	// Default FallbackPrimary.
	Fallback FallbackPolicy

	// CausalWait is how long a read carrying a causal token waits for a
	// replica to replay up to it before it goes to the primary: it re-checks
	// one replica every 200µs (a round trip each) until the wait is over. Replicas
	// replay a commit within about a millisecond on a quiet network, so a
	// few milliseconds keep read-after-write traffic on the replicas at the
	// cost of that latency. Default 0: one check, then the primary.
	CausalWait time.Duration

	// HedgeBudget caps hedged reads ([ReadOptions].Hedge) to this fraction
	// of the reads a Reader sends to replicas. Default 0.05; in (0, 0.5].
	HedgeBudget float64
}

// FallbackPolicy says where a read goes when no replica may serve it: none
// is configured in the rotation, or none has replayed the read's causal
// token.
type FallbackPolicy int

const (
	// FallbackPrimary reads on the primary, through its gate and budget.
	FallbackPrimary FallbackPolicy = iota
	// FallbackFail fails the read at once with ErrNoReplica (the primary is
	// kept for writes). A read with a causal token that no replica has
	// replayed fails too.
	FallbackFail
)

func (p FallbackPolicy) String() string {
	switch p {
	case FallbackPrimary:
		return "primary"
	case FallbackFail:
		return "fail"
	}
	return fmt.Sprintf("FallbackPolicy(%d)", int(p))
}

func (rc ReplicaConfig) withDefaults() ReplicaConfig {
	orDefault(&rc.MaxLagBytes, DefaultMaxLagBytes)
	orDefault(&rc.MaxLagTime, DefaultMaxLagTime)
	orDefault(&rc.PollInterval, DefaultReplicaPoll)
	orDefault(&rc.PollTimeout, DefaultReplicaPollTimeout)
	orDefault(&rc.HedgeBudget, DefaultHedgeBudget)
	return rc
}

func (rc ReplicaConfig) validate() []error {
	var errs []error
	bad := func(field string, v any, fix string) {
		errs = append(errs, fmt.Errorf("dbx: Config.ReadReplicas.%s = %v: %s", field, v, fix))
	}
	if len(rc.DSNs) > maxReplicas {
		bad("DSNs", fmt.Sprintf("[%d DSNs]", len(rc.DSNs)), fmt.Sprintf("at most %d replicas: put a load balancer in front of the others", maxReplicas))
	}
	for i, d := range rc.DSNs {
		if strings.TrimSpace(d) == "" {
			bad(fmt.Sprintf("DSNs[%d]", i), `""`, "an empty DSN: give the replica's URL (postgres://user@replica:5432/db) or remove the entry")
		} else if _, err := parsePool(d); err != nil {
			errs = append(errs, fmt.Errorf("dbx: Config.ReadReplicas.DSNs[%d]: %w", i, err)) // parsePool hides the secrets
		}
	}
	if rc.PollInterval < 10*time.Millisecond {
		bad("PollInterval", rc.PollInterval, "must be >= 10ms (or 0 for the default, 500ms): every process of the fleet polls every replica")
	}
	if rc.PollTimeout < 0 {
		bad("PollTimeout", rc.PollTimeout, "must be > 0 (or 0 for the default, 1s)")
	}
	if rc.Fallback != FallbackPrimary && rc.Fallback != FallbackFail {
		bad("Fallback", int(rc.Fallback), "use FallbackPrimary or FallbackFail")
	}
	if rc.CausalWait < 0 {
		bad("CausalWait", rc.CausalWait, "must be >= 0")
	}
	if !(rc.HedgeBudget > 0 && rc.HedgeBudget <= 0.5) {
		bad("HedgeBudget", rc.HedgeBudget, "must be in (0, 0.5], e.g. 0.05 for at most 5% more replica reads")
	}
	return errs
}

// ErrNoReplica is returned by [Reader] reads under FallbackFail when no
// replica may serve the read (none in the rotation, or none has replayed the
// read's causal token).
var ErrNoReplica = errors.New("dbx: no replica may serve this read")

// ReplicaState is what the last polls said about one replica.
type ReplicaState struct {
	Node       string
	InRotation bool
	// Reason says why the replica is out of the rotation ("" when in).
	Reason     string
	InRecovery bool
	// ReplayLSN is the WAL position the replica is known to have replayed:
	// the last poll's, or higher when a causal check proved more.
	ReplayLSN LSN
	LagBytes  int64 // primary's WAL position minus ReplayLSN, at the last poll; >= 0
	// LagTime is 0 when LagBytes is 0, else the age of the last commit the
	// replica replayed, at most the time since the polls first found it
	// behind (see ReplicaConfig.MaxLagTime).
	LagTime time.Duration
	Polled  time.Time // the last successful poll; zero before the first
}

// replica is one replica node with its routing state. The hot path reads
// only atomics; the poller writes state under mu. What every read of every
// core loads (known, in) is kept off the cache line that every read writes
// (inflight, the counters): a write there would otherwise make the next
// pick on the other core miss on both.
type replica struct {
	node  *Node
	dsn   string        // redacted, for messages
	known atomic.Uint64 // LSN known replayed
	in    atomic.Bool   // in the rotation
	_     [cacheLine]byte

	inflight atomic.Int64 // maintained only when there is a choice (replicaSet.choose)
	counters
	hedging hedgeOutcome // how hedges for reads sent here fared

	mu    sync.Mutex
	state ReplicaState
	// behindSince is when the polls first found the replica behind the
	// primary's position, since they last found it caught up (zero: caught
	// up); guarded by mu.
	behindSince time.Time
}

// raise records that the replica has replayed at least lsn.
func (r *replica) raise(lsn LSN) {
	for {
		old := r.known.Load()
		if uint64(lsn) <= old || r.known.CompareAndSwap(old, uint64(lsn)) {
			return
		}
	}
}

// suspend takes the replica out of the rotation after a read failed on it
// for a connection-level reason, until the next successful poll: the reads
// that meet a dead replica between two polls are the ones in flight then,
// not every read until the poller notices.
func (r *replica) suspend(err error) {
	if r.in.CompareAndSwap(true, false) {
		r.mu.Lock()
		r.state.InRotation, r.state.Reason = false, "a read failed: "+err.Error()
		r.mu.Unlock()
		r.node.log.Warn("dbx: replica out of rotation", "node", r.node.name, "reason", "a read failed", "err", err)
	}
}

// replicaSet is a Cluster's replicas, their poller and routing counters.
type replicaSet struct {
	cfg      ReplicaConfig
	primary  *Node
	replicas []*replica
	stats    *routeStats
	hedge    *hedger
	metrics  *replicaMetrics
	reader   *Reader // the default Reader

	primaryLSN atomic.Uint64
	system     atomic.Uint64 // the primary's system identifier; 0 until read

	stop chan struct{}
	done chan struct{} // nil when no poller runs
}

// openReplicas opens a node per replica DSN and polls them once, so that the
// first reads already know which replicas are fit.
func (cl *Cluster) openReplicas(ctx context.Context) error {
	rc := cl.cfg.ReadReplicas
	rs := &replicaSet{cfg: rc, primary: cl.primary, stats: &routeStats{}, hedge: newHedger(rc.HedgeBudget),
		metrics: newReplicaMetrics(cl.cfg.Service, cl.cfg.Name), reader: &Reader{cl: cl}, stop: make(chan struct{})}
	cl.replicas = rs
	if len(rc.DSNs) == 0 {
		return nil
	}
	for i, d := range rc.DSNs {
		name := fmt.Sprintf("replica%d", i)
		pc, err := parsePool(d)
		if err != nil {
			return fmt.Errorf("dbx: Config.ReadReplicas.DSNs[%d]: %w", i, err)
		}
		cl.secrets = append(cl.secrets, secretsOf(Config{DSN: d, Pool: pc})...)
		adoptHooks(pc, cl.cfg.Pool)
		// A cancelled read (a hedge's loser, a caller's deadline) is cancelled
		// on the server too, and keeps its connection when the server answers.
		pc.ConnConfig.BuildContextWatcherHandler = func(pgConn *pgconn.PgConn) ctxwatch.Handler {
			return &pgconn.CancelRequestContextWatcherHandler{Conn: pgConn, DeadlineDelay: cancelDeadlineDelay}
		}
		size := cl.cfg.MaxConns
		if cl.cfg.Verify != VerifyOff {
			size, err = cl.verifyReplica(ctx, name, d, pc)
			var budgetErr *BudgetError
			switch {
			case errors.As(err, &budgetErr):
				return err
			case err != nil:
				// A replica that is down must not keep the service from
				// starting: reads fall back until it answers a poll.
				cl.cfg.Logger.Warn("dbx: replica unreachable at Open: its pool is sized like the primary's and it stays out of the rotation until it answers",
					"node", name, "err", scrub(err, cl.secrets))
				size = cl.cfg.MaxConns
			}
		}
		n, err := cl.openNode(ctx, name, d, pc, size)
		if err != nil {
			return err
		}
		rep := &replica{node: n, dsn: dsn.Redact(d)}
		rep.state.Node = name
		rs.replicas = append(rs.replicas, rep)
	}
	rs.poll(ctx)
	rs.done = make(chan struct{})
	go rs.run()
	return nil
}

// adoptHooks gives a replica's pool config the hooks of the primary's, so
// that custom types registered in AfterConnect exist on every node.
func adoptHooks(pc, from *pgxpool.Config) {
	pc.AfterConnect, pc.BeforeConnect, pc.PrepareConn = from.AfterConnect, from.BeforeConnect, from.PrepareConn
	pc.AfterRelease, pc.BeforeClose, pc.ShouldPing = from.AfterRelease, from.BeforeClose, from.ShouldPing
	pc.ConnConfig.Tracer = from.ConnConfig.Tracer
}

// verifyReplica sizes a replica's pool from its own server: the same
// assessment as the primary's (Share of its usable connections, the declared
// fleet), whose problems are logged or fail Open as Config.Verify says.
func (cl *Cluster) verifyReplica(ctx context.Context, name, d string, pc *pgxpool.Config) (int, error) {
	c := cl.cfg
	ctx, cancel := context.WithTimeout(ctx, c.ConnectTimeout+max(c.OperationTimeout, c.ReadReplicas.PollTimeout))
	defer cancel()
	probe, err := connectProbe(ctx, cl.connConfig(pc.ConnConfig))
	if err != nil {
		return 0, fmt.Errorf("dbx: connect to %s (%s) to verify its budget: %w", name, dsn.Redact(d), classify(name, err))
	}
	defer probe.Close(context.WithoutCancel(ctx))
	r, err := inspect(ctx, probe, name, c.Service, c.Headroom)
	if err != nil {
		return 0, err
	}
	if err := r.assess(c); err != nil {
		return 0, err
	}
	switch {
	case r.OK():
	case c.Verify == VerifyFail:
		return 0, &BudgetError{Report: r}
	default:
		c.Logger.Warn("dbx: the fleet does not fit the replica", "report", r.String())
	}
	return max(r.PerProcess, 1), nil
}

// cancelDeadlineDelay is how long a cancelled replica read waits for the
// server to answer its cancel request before the connection is cut: a hung
// server never answers.
const cancelDeadlineDelay = 100 * time.Millisecond

func (rs *replicaSet) close() {
	select {
	case <-rs.stop:
	default:
		close(rs.stop)
	}
	if rs.done != nil {
		<-rs.done
	}
}

func (rs *replicaSet) run() {
	defer close(rs.done)
	t := time.NewTicker(rs.cfg.PollInterval)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-rs.stop; cancel() }()
	for {
		select {
		case <-rs.stop:
			return
		case <-t.C:
			rs.poll(ctx)
		}
	}
}

const primaryPollSQL = `SELECT pg_current_wal_lsn()::text, (SELECT system_identifier FROM pg_control_system())`

// replicaPollSQL reads what routing needs in one round trip. The replay age
// is measured on the replica's clock against the commit time it replayed.
const replicaPollSQL = `SELECT pg_is_in_recovery(), coalesce(pg_last_wal_replay_lsn()::text, ''),
	coalesce(extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8, 0),
	(SELECT system_identifier FROM pg_control_system())`

// poll reads the primary's position, then every replica's, in parallel.
func (rs *replicaSet) poll(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, rs.cfg.PollTimeout)
	var text string
	var sys int64
	if err := rs.primary.queryRow(pctx, primaryPollSQL).Scan(&text, &sys); err == nil {
		if lsn, err := ParseLSN(text); err == nil {
			rs.primaryLSN.Store(uint64(lsn))
		}
		rs.system.CompareAndSwap(0, uint64(sys))
	}
	cancel()
	var wg sync.WaitGroup
	for _, r := range rs.replicas {
		wg.Go(func() { rs.pollReplica(ctx, r) })
	}
	wg.Wait()
}

func (rs *replicaSet) pollReplica(ctx context.Context, r *replica) {
	ctx, cancel := context.WithTimeout(ctx, rs.cfg.PollTimeout)
	defer cancel()
	var (
		inRecovery bool
		text       string
		age        float64
		sys        int64
	)
	err := r.node.queryRow(ctx, replicaPollSQL).Scan(&inRecovery, &text, &age, &sys)
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return // closing
	}
	var sat *SaturationError
	if errors.As(err, &sat) {
		return // busy is not unhealthy: keep what is known
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := &r.state
	reason := ""
	switch {
	case err != nil:
		reason = "poll failed: " + err.Error()
	case rs.system.Load() != 0 && uint64(sys) != rs.system.Load():
		reason = fmt.Sprintf("system identifier %d is not the primary's %d: a server of another cluster", uint64(sys), rs.system.Load())
	case !inRecovery:
		reason = "not in recovery: promoted, it is no longer a replica"
	}
	first := st.Polled.IsZero()
	if err == nil {
		st.Polled, st.InRecovery = time.Now(), inRecovery
		if lsn, perr := ParseLSN(text); perr == nil {
			// Set, not raised: a replica rebuilt from an older backup has
			// replayed less than it once had. (A causal check may have
			// proved more since this poll read it: the next one proves it
			// again.)
			r.known.Store(uint64(lsn))
		}
		st.ReplayLSN = LSN(r.known.Load())
		primary := LSN(rs.primaryLSN.Load())
		switch {
		case st.ReplayLSN >= primary:
			r.behindSince = time.Time{}
		case r.behindSince.IsZero():
			r.behindSince = st.Polled
		}
		st.LagBytes, st.LagTime = lag(primary, st.ReplayLSN, age, st.Polled.Sub(r.behindSince))
		if reason == "" {
			reason = rs.overLag(st)
		}
	}
	was := st.InRotation
	st.InRotation, st.Reason = reason == "", reason
	r.in.Store(st.InRotation)
	switch {
	case was && !st.InRotation:
		r.node.log.Warn("dbx: replica out of rotation", "node", r.node.name, "replica", r.dsn, "reason", reason)
	case !was && st.InRotation && !first:
		r.node.log.Info("dbx: replica in rotation", "node", r.node.name, "replica", r.dsn)
	}
}

// lag is a replica's byte and time lag: none when it has replayed all the
// primary has written, whatever the age of its last replayed commit (an
// idle primary writes nothing, and that is not lag); else the age of that
// commit, at most behindFor, how long the polls have found it behind (a
// quiet primary's WAL without a commit, not yet replayed, is not lag while
// the replica catches up).
func lag(primary, replayed LSN, ageSeconds float64, behindFor time.Duration) (int64, time.Duration) {
	if replayed >= primary {
		return 0, 0
	}
	bytes := int64(min(uint64(primary-replayed), 1<<63-1))
	return bytes, min(time.Duration(max(ageSeconds, 0)*float64(time.Second)), max(behindFor, 0))
}

func (rs *replicaSet) overLag(st *ReplicaState) string {
	if rs.cfg.MaxLagBytes >= 0 && st.LagBytes > rs.cfg.MaxLagBytes {
		return fmt.Sprintf("lag %d bytes > MaxLagBytes %d", st.LagBytes, rs.cfg.MaxLagBytes)
	}
	if rs.cfg.MaxLagTime >= 0 && st.LagTime > rs.cfg.MaxLagTime {
		return fmt.Sprintf("lag %s > MaxLagTime %s", st.LagTime.Round(time.Millisecond), rs.cfg.MaxLagTime)
	}
	return ""
}

// choose is true with two replicas or more: only then is a read's replica
// chosen by reads in flight (power of two choices, hedging's second
// replica), so only then are they counted (two atomic writes per read on a
// line every core writes).
func (rs *replicaSet) choose() bool { return len(rs.replicas) > 1 }

// pick chooses among the replicas in the rotation other than skip: by power
// of two choices on reads in flight among those known to have replayed
// want, else (behind) one that has not yet, for a causal check.
func (rs *replicaSet) pick(want LSN, skip *replica) (fresh, behind *replica) {
	var buf [maxReplicas]*replica
	ok, late := buf[:0], []*replica(nil)
	for _, r := range rs.replicas {
		if r == skip || !r.in.Load() {
			continue
		}
		if LSN(r.known.Load()) >= want {
			ok = append(ok, r)
		} else if late == nil {
			late = []*replica{r}
		} else {
			late = append(late, r)
		}
	}
	return twoChoices(ok), twoChoices(late)
}

// twoChoices is the power of two choices: two distinct candidates at
// random, the one with fewer reads in flight. It keeps load even without
// the herd that "always the least loaded" makes when every process sees the
// same numbers.
func twoChoices(rs []*replica) *replica {
	switch len(rs) {
	case 0:
		return nil
	case 1:
		return rs[0]
	}
	i := rand.IntN(len(rs))
	j := rand.IntN(len(rs) - 1)
	if j >= i {
		j++
	}
	if rs[j].inflight.Load() < rs[i].inflight.Load() {
		return rs[j]
	}
	return rs[i]
}

// Replicas reports each replica's state from the last polls, in
// Config.ReadReplicas.DSNs order.
func (cl *Cluster) Replicas() []ReplicaState {
	if cl.replicas == nil {
		return nil
	}
	out := make([]ReplicaState, 0, len(cl.replicas.replicas))
	for _, r := range cl.replicas.replicas {
		r.mu.Lock()
		st := r.state
		r.mu.Unlock()
		st.InRotation = r.in.Load()
		st.ReplayLSN = LSN(r.known.Load())
		out = append(out, st)
	}
	return out
}

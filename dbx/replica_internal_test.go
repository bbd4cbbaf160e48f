package dbx

import (
	"strings"
	"testing"
	"time"
)

func TestLSNRoundTrip(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"0/0", "16/b374d848", "ffffffff/ffffffff", "0/1"} {
		l, err := ParseLSN(s)
		if err != nil || l.String() != s {
			t.Errorf("ParseLSN(%q) = %v (%s), %v", s, uint64(l), l, err)
		}
	}
	if l, _ := ParseLSN("16/B374D848"); l != 0x16_B374D848 {
		t.Errorf("16/B374D848 = %x", uint64(l))
	}
	for _, bad := range []string{"", "16", "/1", "1/", "x/1", "1/123456789", "-1/1", "1/2/3"} {
		if _, err := ParseLSN(bad); err == nil || !strings.HasPrefix(err.Error(), "dbx: LSN") {
			t.Errorf("ParseLSN(%q) = %v, want an error", bad, err)
		}
	}
}

func TestTokenTextForm(t *testing.T) {
	t.Parallel()
	tok := Token{system: 0x65f1a2b3c4d5e6f7, lsn: 0x3_0000148}
	s := tok.String()
	if s != "pgf1.65f1a2b3c4d5e6f7.30000148" {
		t.Fatalf("String = %q", s)
	}
	back, err := ParseToken(s)
	if err != nil || back != tok {
		t.Fatalf("ParseToken(%q) = %+v, %v", s, back, err)
	}
	var u Token
	if err := u.UnmarshalText([]byte(s)); err != nil || u != tok {
		t.Fatalf("UnmarshalText = %+v, %v", u, err)
	}
	if (Token{}).String() != "" || !(Token{}).IsZero() {
		t.Fatal("the zero Token must print empty")
	}
	long := "pgf1.1." + strings.Repeat("f", 10000)
	for _, bad := range []string{"", "pgf1.", "pgf1.1", "pgf1.1.", "pgf1..1", "pgf1.1.0", "pgf2.1.1", "pgf1.x.1", "pgf1.1.-1", "pgf1.1.1.1", long} {
		_, err := ParseToken(bad)
		if err == nil || !strings.HasPrefix(err.Error(), "dbx: causal token") {
			t.Errorf("ParseToken(%.40q) = %v, want an error", bad, err)
		}
		if err != nil && len(err.Error()) > 200 {
			t.Errorf("ParseToken's error quotes the whole of a %d-byte input", len(bad))
		}
	}
	// Contexts keep the token that asks for more.
	ctx := WithToken(t.Context(), Token{system: 1, lsn: 10})
	ctx = WithToken(ctx, Token{system: 1, lsn: 5})
	if got := TokenFrom(ctx).LSN(); got != 10 {
		t.Fatalf("token after a lower one = %s, want 0/A", got)
	}
	recordToken(ctx, Token{system: 1, lsn: 20})
	if got := TokenFrom(ctx).LSN(); got != 20 {
		t.Fatalf("token after a commit = %s, want 0/14", got)
	}
}

func TestLagIsZeroWhenCaughtUp(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		primary, replayed LSN
		age               float64
		behindFor         time.Duration
		bytes             int64
		lag               time.Duration
	}{
		{100, 100, 3600, time.Hour, 0, 0}, // idle primary: old last commit, no lag
		{100, 120, 3600, time.Hour, 0, 0}, // replica polled after the primary
		{100, 40, 2, time.Hour, 60, 2 * time.Second},
		{100, 40, -1, time.Hour, 60, 0}, // clock skew
		{1<<64 - 1, 0, 0, time.Hour, 1<<63 - 1, 0},
		{100, 99, 3600, 0, 1, 0},                             // quiet primary's WAL, found behind at this poll: no lag yet
		{100, 99, 3600, 2 * time.Second, 1, 2 * time.Second}, // still behind: lag grows with the polls
		{100, 40, 2, 10 * time.Second, 60, 2 * time.Second},  // busy primary: the commit's age rules
	} {
		b, l := lag(c.primary, c.replayed, c.age, c.behindFor)
		if b != c.bytes || l != c.lag {
			t.Errorf("lag(%d, %d, %v, %v) = %d, %s; want %d, %s", c.primary, c.replayed, c.age, c.behindFor, b, l, c.bytes, c.lag)
		}
	}
}

func TestReplicaConfigErrorsNameTheField(t *testing.T) {
	t.Parallel()
	rc := ReplicaConfig{DSNs: []string{" "}, PollInterval: time.Millisecond, PollTimeout: -1, Fallback: 7, CausalWait: -1, HedgeBudget: 0.9}
	var msgs []string
	for _, err := range rc.validate() {
		msgs = append(msgs, err.Error())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{"Config.ReadReplicas.DSNs[0]", "ReadReplicas.PollInterval = 1ms", "ReadReplicas.PollTimeout", "ReadReplicas.Fallback = 7", "ReadReplicas.CausalWait", "ReadReplicas.HedgeBudget = 0.9"} {
		if !strings.Contains(all, want) {
			t.Errorf("errors do not name %q:\n%s", want, all)
		}
	}
	// A DSN that does not parse is refused before anything connects, and its
	// password is not in the error.
	errs := (ReplicaConfig{DSNs: []string{"postgres://app:s3cr3t@replica:5432/db?sslmode=bogus"}}).withDefaults().validate()
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "DSNs[0]") || strings.Contains(errs[0].Error(), "s3cr3t") {
		t.Fatalf("bad replica DSN: %v", errs)
	}
	if errs := (ReplicaConfig{}).withDefaults().validate(); len(errs) != 0 {
		t.Fatalf("defaults invalid: %v", errs)
	}
	if errs := (ReplicaConfig{DSNs: make([]string, maxReplicas+1)}).withDefaults().validate(); len(errs) == 0 {
		t.Fatal("more than maxReplicas accepted")
	}
}

func TestHedgeBudgetAndDelay(t *testing.T) {
	t.Parallel()
	h := newHedger(0.05)
	if _, ok := h.delay(); ok {
		t.Fatal("a delay before any read")
	}
	for i := range hedgeMinSeen {
		h.observe(time.Duration(i+1) * time.Millisecond)
	}
	d, ok := h.delay()
	if !ok || d != 61*time.Millisecond { // the 95th percentile of 1..64 ms
		t.Fatalf("delay = %s, %v", d, ok)
	}
	if sent := spendHedges(h, 1000); sent != 50 {
		t.Fatalf("hedges within a 5%% budget of 1000 reads = %d, want 50", sent)
	}
}

// spendHedges makes n reads, each asking for a hedge, and counts those sent.
func spendHedges(h *hedger, n int) int {
	sent := 0
	for range n {
		h.reads.Add(1)
		if h.take() {
			sent++
		}
	}
	return sent
}

// The budget is a rate over recent reads: reads that needed no hedge save
// at most budget x hedgeWindow hedges for later, not one per 20 reads for
// ever (which let a burst through after a quiet spell).
func TestHedgeBudgetForgetsOldCredit(t *testing.T) {
	t.Parallel()
	h := newHedger(0.05)
	h.reads.Add(100_000) // 5,000 hedges' worth of reads, none hedged
	burst := 0
	for h.take() {
		burst++
	}
	if want := int(h.credit); burst != want || want != 25 {
		t.Fatalf("burst after 100,000 unhedged reads = %d hedges, want the credit, %d", burst, want)
	}
	if sent := spendHedges(h, 1000); sent != 50 {
		t.Fatalf("hedges over the next 1000 reads = %d, want 50", sent)
	}
}

// A replica whose reads' hedges stop winning has its reads run without the
// hedging path, but for one in hedgeProbe, whose outcomes bring it back
// when hedges win again.
func TestHedgeOutcomeColdAndProbe(t *testing.T) {
	t.Parallel()
	var o hedgeOutcome
	for range hedgeOutcomes / 2 {
		if !o.worth() {
			t.Fatal("a replica cold before any outcome")
		}
		o.record(true)
	}
	for range hedgeOutcomes * 4 {
		o.record(false)
	}
	if !o.cold.Load() {
		t.Fatalf("still warm after %d lost hedges (sent %d, won %d)", hedgeOutcomes*4, o.sent, o.won)
	}
	worth := 0
	for range 100 * hedgeProbe {
		if o.worth() {
			worth++
		}
	}
	if worth != 100 {
		t.Fatalf("cold replica: %d of %d reads took the hedging path, want 100", worth, 100*hedgeProbe)
	}
	for range hedgeOutcomes / 4 {
		o.record(true)
	}
	if o.cold.Load() {
		t.Fatalf("still cold after %d won hedges (sent %d, won %d)", hedgeOutcomes/4, o.sent, o.won)
	}
}

func TestTwoChoicesPrefersFewerInFlight(t *testing.T) {
	t.Parallel()
	busy, idle := &replica{}, &replica{}
	busy.inflight.Store(5)
	for range 100 {
		if twoChoices([]*replica{busy, idle}) != idle {
			t.Fatal("two choices picked the busier replica")
		}
	}
	if twoChoices(nil) != nil || twoChoices([]*replica{busy}) != busy {
		t.Fatal("zero or one candidate")
	}
	// Three equal candidates all get picked.
	rs := []*replica{{}, {}, {}}
	seen := map[*replica]bool{}
	for range 200 {
		seen[twoChoices(rs)] = true
	}
	if len(seen) != 3 {
		t.Fatalf("picked %d of 3 equal replicas", len(seen))
	}
}

// BenchmarkPick is the router's decision alone (no server): what a Reader
// adds to a read besides the gate, which a Cluster read pays too.
func BenchmarkPick(b *testing.B) {
	rs := &replicaSet{replicas: []*replica{{}, {}, {}}}
	for _, r := range rs.replicas {
		r.in.Store(true)
		r.known.Store(100)
	}
	for b.Loop() {
		if fresh, _ := rs.pick(50, nil); fresh == nil {
			b.Fatal("no replica")
		}
	}
}

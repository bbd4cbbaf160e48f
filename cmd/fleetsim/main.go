package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/jackc/pgx/v5"

	"github.com/pgfleet/pgfleet/dbx/dbxtest/topology"
)

// options are the simulation's flags; each default is in its flag's help.
type options struct {
	duration   time.Duration
	rate       int
	minPods    int
	maxPods    int
	pool       int
	quota      int
	hold       time.Duration
	deadline   time.Duration
	idle       time.Duration
	maxConns   int
	out        string
	modes      string
	dsn        string
	killAt     float64
	sampleEach time.Duration
}

func main() {
	var o options
	var pc podConfig
	pod := flag.Bool("pod", false, "run as one simulated pod (internal: the orchestrator starts these)")
	flag.StringVar(&pc.name, "name", "", "pod name (with -pod)")
	flag.StringVar(&o.modes, "mode", "naive,budgeted", "modes to run, in order: naive (fixed pools of -pool, held open) and budgeted (pgfleet quotas)")
	flag.DurationVar(&o.duration, "duration", 60*time.Second, "length of each mode's schedule")
	flag.IntVar(&o.rate, "rate", 300, "requests per second across the fleet (open model: arrivals are never held back)")
	flag.IntVar(&o.minPods, "min-pods", 3, "pods at the start and end of the schedule")
	flag.IntVar(&o.maxPods, "max-pods", 60, "pods at the peak of the schedule")
	flag.IntVar(&o.pool, "pool", 10, "naive: each pod's fixed pool; budgeted: each pod's cap")
	flag.IntVar(&o.quota, "quota", 0, "budgeted: the service's fleet quota; 0 = usable connections minus 10 (operators, the monitor, probe connects)")
	flag.DurationVar(&o.hold, "hold", 20*time.Millisecond, "server time of one request (pg_sleep)")
	flag.DurationVar(&o.deadline, "deadline", time.Second, "a request's deadline; a request without a connection by then is shed")
	flag.DurationVar(&o.idle, "idle", 2*time.Second, "budgeted: MaxConnIdleTime, after which an idle connection gives its slot back")
	flag.IntVar(&o.maxConns, "max-connections", 100, "the server's max_connections")
	flag.StringVar(&o.out, "out", "fleetsim-out", "directory for summary.json, fleetsim.csv and fleetsim.svg")
	flag.StringVar(&o.dsn, "dsn", "", "use this server instead of starting one (its max_connections is read, not set)")
	flag.Float64Var(&o.killAt, "kill-at", 0.5, "fraction of the schedule at which one pod is killed with SIGKILL")
	flag.DurationVar(&o.sampleEach, "sample", 100*time.Millisecond, "how often pg_stat_activity is sampled")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *pod {
		pc.mode, pc.dsn, pc.pool, pc.hold, pc.deadline, pc.quota, pc.maxPods, pc.idle = o.modes, o.dsn, o.pool, o.hold, o.deadline, o.quota, o.maxPods, o.idle
		podMain(ctx, pc)
		return
	}
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func (o options) validate() error {
	switch {
	case o.duration < 10*time.Second:
		return fmt.Errorf("fleetsim: -duration %s: at least 10s, the schedule needs time to scale", o.duration)
	case o.rate < 1 || o.rate > 100000:
		return fmt.Errorf("fleetsim: -rate %d: between 1 and 100000", o.rate)
	case o.minPods < 2 || o.maxPods < o.minPods || o.maxPods > 500:
		return fmt.Errorf("fleetsim: -min-pods %d -max-pods %d: need 2 <= min <= max <= 500 (one pod is killed)", o.minPods, o.maxPods)
	case o.pool < 1 || o.maxConns < 10 || o.quota < 0:
		return fmt.Errorf("fleetsim: -pool %d, -max-connections %d, -quota %d: pool >= 1, max-connections >= 10, quota >= 0", o.pool, o.maxConns, o.quota)
	case o.killAt <= 0 || o.killAt >= 1:
		return fmt.Errorf("fleetsim: -kill-at %g: a fraction in (0, 1)", o.killAt)
	}
	return nil
}

// podsAt is the schedule: minPods, a ramp to maxPods over 10%..45% of the
// run, a plateau to 60%, a ramp down to minPods by 90%.
func (o options) podsAt(f float64) int {
	lerp := func(a, b int, x float64) int { return a + int(float64(b-a)*x+0.5) }
	switch {
	case f < 0.10:
		return o.minPods
	case f < 0.45:
		return lerp(o.minPods, o.maxPods, (f-0.10)/0.35)
	case f < 0.60:
		return o.maxPods
	case f < 0.90:
		return lerp(o.maxPods, o.minPods, (f-0.60)/0.30)
	}
	return o.minPods
}

func run(ctx context.Context, o options) error {
	if err := o.validate(); err != nil {
		return err
	}
	dsn := o.dsn
	if dsn == "" {
		fmt.Fprintf(os.Stderr, "fleetsim: starting a Postgres server with max_connections=%d\n", o.maxConns)
		c, err := topology.Launch(ctx, topology.Topology{Settings: map[string]string{"max_connections": strconv.Itoa(o.maxConns)}})
		if err != nil {
			return fmt.Errorf("fleetsim: start a server: %w", err)
		}
		defer c.Close()
		dsn = c.Primary.DSN()
	}
	mon, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("fleetsim: connect the monitor: %w", err)
	}
	defer mon.Close(context.WithoutCancel(ctx))
	var maxConns, reserved int
	if err := mon.QueryRow(ctx, `SELECT current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int + coalesce(current_setting('reserved_connections', true), '0')::int`).Scan(&maxConns, &reserved); err != nil {
		return fmt.Errorf("fleetsim: read max_connections: %w", err)
	}
	usable := maxConns - reserved
	if o.quota == 0 {
		o.quota = usable - 10
	}
	if o.quota < o.maxPods {
		return fmt.Errorf("fleetsim: quota %d is below -max-pods %d: every pod needs its guaranteed slot; raise -max-connections or lower -max-pods", o.quota, o.maxPods)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("fleetsim: -out: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	var results []*modeResult
	for _, mode := range splitModes(o.modes) {
		if mode != "naive" && mode != "budgeted" {
			return fmt.Errorf("fleetsim: -mode %q: use naive, budgeted or both (naive,budgeted)", mode)
		}
		r, err := simulate(ctx, o, mode, exe, dsn, mon, maxConns, usable)
		if err != nil {
			return err
		}
		results = append(results, r)
		if err := drain(ctx, mon); err != nil {
			return err
		}
	}
	return writeResults(o, results)
}

func splitModes(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

// drain waits until the last mode's backends are gone, so that the next
// mode starts on an empty server.
func drain(ctx context.Context, mon *pgx.Conn) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		if err := mon.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'fleetsim/%'`).Scan(&n); err != nil {
			return fmt.Errorf("fleetsim: drain: %w", err)
		}
		if n == 0 {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("fleetsim: backends of the last mode still there after 30s")
}

// podProc is one running pod process.
type podProc struct {
	name string
	cmd  *exec.Cmd
	in   io.WriteCloser
	done chan struct{}
}

// second is one second of a mode, as the orchestrator saw it.
type second struct {
	T           int     `json:"t"`
	Pods        int     `json:"pods"`
	Connections int     `json:"connections"` // peak client backends of the fleet in this second
	Requests    int     `json:"requests"`
	OK          int     `json:"ok"`
	Errors53300 int     `json:"errors_53300"`
	Shed        int     `json:"shed"`
	Other       int     `json:"other"`
	P50, P95    float64 `json:"-"`
	P99         float64 `json:"-"`
	hist        *hdrhistogram.Histogram
}

// modeResult is a mode's summary (the JSON the issue asks for) and its seconds.
type modeResult struct {
	Mode                     string    `json:"mode"`
	Errors53300              int       `json:"errors_53300"`
	PeakConnections          int       `json:"peak_connections"`
	MaxConnections           int       `json:"max_connections"`
	UsableBudget             int       `json:"usable_budget"`
	Quota                    int       `json:"quota,omitempty"`
	Requests                 int       `json:"requests"`
	OK                       int       `json:"ok"`
	Shed                     int       `json:"shed"`
	OtherErrors              int       `json:"other_errors"`
	Lost                     int       `json:"lost"` // sent but never answered: in flight in the killed pod
	P50ms                    float64   `json:"p50_ms"`
	P95ms                    float64   `json:"p95_ms"`
	P99ms                    float64   `json:"p99_ms"`
	SlotsRecoveredAfterKillS float64   `json:"slots_recovered_after_kill_s"`
	Seconds                  []*second `json:"-"`
}

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(1, 60_000_000, 3) } // 1 µs .. 60 s

func simulate(ctx context.Context, o options, mode, exe, dsn string, mon *pgx.Conn, maxConns, usable int) (*modeResult, error) {
	res := &modeResult{Mode: mode, MaxConnections: maxConns, UsableBudget: usable}
	if mode == "budgeted" {
		res.Quota = o.quota
	}
	nsec := int(o.duration / time.Second)
	var mu sync.Mutex
	secs := make([]*second, nsec+1)
	for i := range secs {
		secs[i] = &second{T: i, hist: newHist()}
	}
	total := newHist()
	start := time.Now()
	secNow := func() int { return min(int(time.Since(start)/time.Second), nsec) }

	var pods []*podProc
	seq := 0
	spawn := func() error {
		seq++
		name := fmt.Sprintf("pod-%d", seq)
		cmd := exec.CommandContext(ctx, exe, "-pod", "-name", name, "-mode", mode, "-dsn", dsn,
			"-pool", strconv.Itoa(o.pool), "-hold", o.hold.String(), "-deadline", o.deadline.String(),
			"-quota", strconv.Itoa(o.quota), "-max-pods", strconv.Itoa(o.maxPods), "-idle", o.idle.String())
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			return err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("fleetsim: start %s: %w", name, err)
		}
		p := &podProc{name: name, cmd: cmd, in: in, done: make(chan struct{})}
		go func() {
			defer close(p.done)
			sc := bufio.NewScanner(out)
			sc.Buffer(make([]byte, 1<<16), 1<<22)
			for sc.Scan() {
				c, ok := parseCounts(sc.Text())
				if !ok {
					continue
				}
				mu.Lock()
				s := secs[secNow()]
				s.OK += c.ok
				s.Shed += c.shed
				s.Errors53300 += c.full
				s.Other += c.other
				for _, d := range c.lat {
					_ = s.hist.RecordValue(d.Microseconds())
					_ = total.RecordValue(d.Microseconds())
				}
				mu.Unlock()
			}
			_ = cmd.Wait()
		}()
		pods = append(pods, p)
		return nil
	}
	stopPod := func(p *podProc) {
		_, _ = io.WriteString(p.in, "q\n")
		_ = p.in.Close()
	}
	// stopAll asks every pod to drain, and kills those that do not within 10s.
	stopAll := func() {
		for _, p := range pods {
			stopPod(p)
		}
		for _, p := range pods {
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				_ = p.cmd.Process.Kill()
			}
		}
		pods = nil
	}
	defer stopAll()

	// The monitor samples the fleet's backends; it also times the killed
	// pod's backends (and so its slots) going away.
	var killedName string
	var killedAt time.Time
	recovered := -1.0
	sampleDone := make(chan struct{})
	stopSampling := make(chan struct{})
	go func() {
		defer close(sampleDone)
		t := time.NewTicker(o.sampleEach)
		defer t.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-t.C:
			}
			mu.Lock()
			name, at := killedName, killedAt
			mu.Unlock()
			var n, ofKilled int
			err := mon.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE application_name = $1)
				FROM pg_stat_activity WHERE application_name LIKE 'fleetsim/%'`, "fleetsim/"+name).Scan(&n, &ofKilled)
			if err != nil {
				continue
			}
			mu.Lock()
			s := secs[secNow()]
			s.Connections = max(s.Connections, n)
			if name != "" && ofKilled == 0 && recovered < 0 {
				recovered = time.Since(at).Seconds()
			}
			mu.Unlock()
		}
	}()

	interval := time.Second / time.Duration(o.rate)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	next, sent, killed := 0, 0, false
	lastProgress := -1
	for {
		el := time.Since(start)
		if el >= o.duration || ctx.Err() != nil {
			break
		}
		f := float64(el) / float64(o.duration)
		// Scale to the schedule, replacing dead pods (a ReplicaSet would).
		want := o.podsAt(f)
		live := pods[:0]
		for _, p := range pods {
			select {
			case <-p.done:
			default:
				live = append(live, p)
			}
		}
		pods = live
		for len(pods) < want {
			if err := spawn(); err != nil {
				return nil, err
			}
		}
		for len(pods) > want {
			p := pods[len(pods)-1]
			pods = pods[:len(pods)-1]
			stopPod(p) // it drains and exits; its last counts still arrive
		}
		if !killed && f >= o.killAt && len(pods) > 0 {
			victim := pods[0]
			mu.Lock()
			killedName, killedAt = victim.name, time.Now()
			mu.Unlock()
			_ = victim.cmd.Process.Signal(syscall.SIGKILL)
			killed = true
			fmt.Fprintf(os.Stderr, "\nfleetsim: %s: SIGKILL %s\n", mode, victim.name)
		}
		// Open model: every arrival due by now goes out whatever the pods
		// (or this loop, while it starts pods) do; none is held back.
		<-tick.C
		sec := secNow()
		due := int(time.Since(start).Seconds()*float64(o.rate)) - sent
		for range due {
			p := pods[next%len(pods)]
			next++
			sent++
			mu.Lock()
			secs[sec].Requests++
			mu.Unlock()
			if _, err := io.WriteString(p.in, "r\n"); err != nil {
				mu.Lock()
				secs[sec].Other++ // the pod died with the request
				mu.Unlock()
			}
		}
		mu.Lock()
		secs[sec].Pods = max(secs[sec].Pods, len(pods))
		mu.Unlock()
		if sec != lastProgress {
			lastProgress = sec
			mu.Lock()
			prev := secs[max(sec-1, 0)]
			line := fmt.Sprintf("\rfleetsim: %-8s %3ds/%ds pods %2d connections %3d/%d 53300 %d shed %d   ", mode, sec, nsec, len(pods), prev.Connections, maxConns, sumFull(secs), sumShed(secs))
			mu.Unlock()
			fmt.Fprint(os.Stderr, line)
		}
	}
	fmt.Fprintln(os.Stderr)
	stopAll() // their last counts arrive before the sums
	close(stopSampling)
	<-sampleDone

	mu.Lock()
	defer mu.Unlock()
	for _, s := range secs {
		res.Requests += s.Requests
		res.OK += s.OK
		res.Shed += s.Shed
		res.Errors53300 += s.Errors53300
		res.OtherErrors += s.Other
		res.PeakConnections = max(res.PeakConnections, s.Connections)
		s.P50, s.P95, s.P99 = ms(s.hist, 50), ms(s.hist, 95), ms(s.hist, 99)
	}
	res.Lost = max(res.Requests-res.OK-res.Shed-res.Errors53300-res.OtherErrors, 0)
	res.P50ms, res.P95ms, res.P99ms = ms(total, 50), ms(total, 95), ms(total, 99)
	res.SlotsRecoveredAfterKillS = round(recovered, 2)
	res.Seconds = secs
	return res, nil
}

func sumFull(secs []*second) (n int) {
	for _, s := range secs {
		n += s.Errors53300
	}
	return n
}

func sumShed(secs []*second) (n int) {
	for _, s := range secs {
		n += s.Shed
	}
	return n
}

func ms(h *hdrhistogram.Histogram, q float64) float64 {
	if h.TotalCount() == 0 {
		return 0
	}
	return round(float64(h.ValueAtQuantile(q))/1000, 2)
}

func round(v float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	if v < 0 {
		return v
	}
	return float64(int64(v*p+0.5)) / p
}

func writeResults(o options, results []*modeResult) error {
	summary, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		return err
	}
	fmt.Println(string(summary))
	if err := os.WriteFile(filepath.Join(o.out, "summary.json"), append(summary, '\n'), 0o644); err != nil {
		return fmt.Errorf("fleetsim: write summary: %w", err)
	}
	if err := os.WriteFile(filepath.Join(o.out, "fleetsim.csv"), csvOf(results), 0o644); err != nil {
		return fmt.Errorf("fleetsim: write csv: %w", err)
	}
	if err := os.WriteFile(filepath.Join(o.out, "fleetsim.svg"), svgOf(results), 0o644); err != nil {
		return fmt.Errorf("fleetsim: write svg: %w", err)
	}
	fmt.Fprintf(os.Stderr, "fleetsim: wrote %s/{summary.json,fleetsim.csv,fleetsim.svg}\n", o.out)
	return nil
}

package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Run drives the scenario's schedule against the service and returns what
// it measured. Arrivals follow the schedule whether or not the service
// answers (open model); each request is bounded by Scenario.Timeout and
// the requests in flight by Scenario.MaxInFlight.
//
// progress (nil: none) gets a line at most once a second: rate sent,
// answered, p99 so far, shed and errors.
//
// When ctx ends, no new arrival is sent; requests in flight finish within
// Timeout, and Run returns what was measured with ctx's error.
func Run(ctx context.Context, sc Scenario, progress io.Writer) (*Result, error) {
	s, err := sc.withDefaults()
	if err != nil {
		return nil, err
	}
	if progress == nil {
		progress = io.Discard
	}
	m := newMix(s)
	client, car := newClient(s, m)
	defer client.CloseIdleConnections()
	atk := vegeta.NewAttacker(
		vegeta.Client(client),
		vegeta.Workers(uint64(min(s.MaxInFlight, 16))),
		vegeta.MaxWorkers(uint64(s.MaxInFlight)),
		vegeta.MaxBody(watchBytes(s)), // bodies are drained, at most 1 KiB kept per answer
	)

	began := time.Now()
	rn := &runner{
		s:        s,
		car:      car,
		began:    began,
		progress: progress,
		tg:       &targeter{s: s, mix: m, began: began, latency: &lockedHist{h: hdr.New(1, int64(time.Hour/time.Microsecond), 2)}},
		res: &Result{
			BaseURL: s.BaseURL, Schedule: s.Schedule, Timeout: s.Timeout, MaxInFlight: s.MaxInFlight, WatchFor: s.WatchFor,
		},
		keepOpen: keepOpen(s.Timeout),
	}
	for _, e := range s.Endpoints {
		rn.trackers = append(rn.trackers, newTracker(e.Name, e.SLO, s.Schedule, s.Timeout))
	}
	rn.trackers = append(rn.trackers, newTracker(AllEndpoints, SLO{}, s.Schedule, s.Timeout))

	scrapeCtx, stopScrape := context.WithCancel(context.Background())
	scrapeDone := make(chan struct{})
	log := &scrapeLog{}
	if s.Scrape != nil {
		go func() { defer close(scrapeDone); scrapeLoop(scrapeCtx, s.Scrape, began, log) }()
	} else {
		close(scrapeDone)
	}
	stopAttack := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stopAttack()

	results := atk.Attack(rn.tg.target, pacer{s.Schedule}, 0, "loadtest")
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for results != nil {
		select {
		case r, ok := <-results:
			if !ok {
				results = nil
				continue
			}
			rn.record(r)
		case now := <-tick.C:
			rn.tick(now)
		}
	}
	stopScrape()
	<-scrapeDone

	res := rn.finish()
	res.Hot = m.hot()
	res.Scrapes = log.result()
	return res, ctx.Err()
}

// runner is one run's state, owned by Run's goroutine.
type runner struct {
	s        Scenario
	car      *carrier
	tg       *targeter
	began    time.Time
	progress io.Writer
	res      *Result
	trackers []*tracker    // one per endpoint, then the aggregate
	keepOpen int           // windows kept open behind the current one
	last     time.Time     // the latest answer
	lastSend time.Duration // the latest arrival's offset
	sent     uint64        // arrivals at the last progress line
}

func (rn *runner) all() *tracker { return rn.trackers[len(rn.trackers)-1] }

// record files one vegeta result under its endpoint and the aggregate.
func (rn *runner) record(r *vegeta.Result) {
	if e := r.End(); e.After(rn.last) {
		rn.last = e
	}
	off := r.Timestamp.Sub(rn.began)
	rn.lastSend = max(rn.lastSend, off)
	st := rn.s.Schedule.stage(off)
	rf, ok := rn.car.take(r.Seq)
	if !ok || rf.ep < 0 || rf.ep >= len(rn.s.Endpoints) {
		// Never sent (a bad URL from Build): an error of the aggregate,
		// so "all: error_rate" thresholds see it.
		rn.res.Unattributed++
		rn.all().add(classTransportError, r.Latency, off, st, false)
		return
	}
	cl := classify(r)
	watched := rn.s.WatchFor != "" && bytes.Contains(r.Body, []byte(rn.s.WatchFor))
	rn.trackers[rf.ep].add(cl, r.Latency, off, st, watched)
	rn.all().add(cl, r.Latency, off, st, watched)
}

// keepOpen is how many windows stay open behind the current one: a window
// closes once nothing sent in it can still be running.
func keepOpen(timeout time.Duration) int { return int((timeout+window-1)/window) + 1 }

// watchBytes is how much of each body vegeta keeps: none unless
// Scenario.WatchFor needs to look.
func watchBytes(s Scenario) int64 {
	if s.WatchFor == "" {
		return 0
	}
	return 1 << 10
}

// tick closes the windows nothing can land in any more and writes the
// progress line.
func (rn *runner) tick(now time.Time) {
	el := now.Sub(rn.began)
	for _, t := range rn.trackers {
		t.closeBefore(int(el/window) - rn.keepOpen)
	}
	rn.res.PeakHistogramBytes = max(rn.res.PeakHistogramBytes, histBytes(rn.trackers))
	sent := rn.tg.calls.Load()
	tot := rn.all().total.stats()
	fmt.Fprintf(rn.progress, "loadtest %4.0fs  sent %5d/s (%d)  answered %d  p99 %s  shed %d  errors %d  in-flight %d  late %d\n",
		el.Seconds(), sent-rn.sent, sent, tot.Answered(), dur(tot.P99), tot.Shed, tot.Errors(), rn.car.inFlight(), rn.tg.late.Load())
	rn.sent = sent
}

// finish closes every window and fills the result.
func (rn *runner) finish() *Result {
	res := rn.res
	res.PeakHistogramBytes = max(res.PeakHistogramBytes, histBytes(rn.trackers))
	if !rn.last.IsZero() {
		res.Elapsed = rn.last.Sub(rn.began)
	}
	// Windows are by send time: the last is the schedule's, or a late
	// arrival's.
	n := int((max(rn.lastSend+1, rn.s.Schedule.Duration()) + window - 1) / window)
	for _, t := range rn.trackers {
		t.closeBefore(n)
	}
	for _, t := range rn.trackers[:len(rn.trackers)-1] {
		res.Endpoints = append(res.Endpoints, t.result())
	}
	res.All = rn.all().result()
	res.Arrivals = Arrivals{
		Late:    rn.tg.late.Load(),
		LateP99: rn.tg.latency.quantile(99),
		LateMax: rn.tg.latency.max(),
	}
	return res
}

func histBytes(ts []*tracker) int64 {
	var n int64
	for _, t := range ts {
		n += t.bytes()
	}
	return n
}

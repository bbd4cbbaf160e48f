package loadtest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
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
	car := &carrier{
		base: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: s.Timeout, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: s.MaxInFlight,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		},
		mix:  m,
		refs: map[uint64]ref{},
	}
	if s.Users.TokenHeader != "-" {
		car.tokenHeader = s.Users.TokenHeader
	}
	defer car.base.(*http.Transport).CloseIdleConnections()
	client := &http.Client{
		Transport: car,
		Timeout:   s.Timeout,
		// A load test measures the endpoint asked for, not where it
		// redirects: a 3xx is counted as Other.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	atk := vegeta.NewAttacker(
		vegeta.Client(client),
		vegeta.Workers(uint64(min(s.MaxInFlight, 16))),
		vegeta.MaxWorkers(uint64(s.MaxInFlight)),
		vegeta.MaxBody(0), // bodies are drained, never kept
	)

	ts := map[int]*tracker{}
	var trackers []*tracker
	for i, e := range s.Endpoints {
		ts[i] = newTracker(e.Name, e.SLO, s.Schedule, s.Timeout)
		trackers = append(trackers, ts[i])
	}
	all := newTracker(AllEndpoints, SLO{}, s.Schedule, s.Timeout)
	trackers = append(trackers, all)

	began := time.Now()
	tg := &targeter{s: s, mix: m, began: began, latency: &lockedHist{h: hdr.New(1, int64(time.Hour/time.Microsecond), 2)}}
	res := &Result{
		BaseURL: s.BaseURL, Schedule: s.Schedule, Timeout: s.Timeout, MaxInFlight: s.MaxInFlight,
		Started: began,
	}
	runCtx, stopScrape := context.WithCancel(context.Background())
	scrapeDone := make(chan struct{})
	log := &scrapeLog{}
	if s.Scrape != nil {
		go func() { defer close(scrapeDone); scrapeLoop(runCtx, s.Scrape, began, log) }()
	} else {
		close(scrapeDone)
	}
	stopAttack := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stopAttack()

	results := atk.Attack(tg.target, pacer{s.Schedule}, 0, "loadtest")
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	// Windows close once nothing sent in them can still be running.
	keepOpen := int((s.Timeout+window-1)/window) + 1
	var last time.Time
	var sentBefore uint64
	for results != nil {
		select {
		case r, ok := <-results:
			if !ok {
				results = nil
				continue
			}
			if e := r.End(); e.After(last) {
				last = e
			}
			off := r.Timestamp.Sub(began)
			st := s.Schedule.stage(off)
			rf, ok := car.take(r.Seq)
			if !ok || rf.ep < 0 || rf.ep >= len(s.Endpoints) {
				// Never sent (a bad URL from Build): an error of the
				// aggregate, so all: error_rate thresholds see it.
				res.Unattributed++
				all.add(classTransportError, r.Latency, off, st)
				continue
			}
			cl := classify(r)
			ts[rf.ep].add(cl, r.Latency, off, st)
			all.add(cl, r.Latency, off, st)
		case now := <-tick.C:
			el := now.Sub(began)
			for _, t := range trackers {
				t.closeBefore(int(el/window) - keepOpen)
			}
			res.PeakHistogramBytes = max(res.PeakHistogramBytes, histBytes(trackers))
			sent := tg.calls.Load()
			tot := all.total.stats()
			fmt.Fprintf(progress, "loadtest %4.0fs  sent %5d/s (%d)  answered %d  p99 %v  shed %d  errors %d  in-flight %d  late %d\n",
				el.Seconds(), sent-sentBefore, sent, tot.Answered(), tot.P99, tot.Shed, tot.Errors(), car.inFlight(), tg.late.Load())
			sentBefore = sent
		}
	}
	stopScrape()
	<-scrapeDone

	res.PeakHistogramBytes = max(res.PeakHistogramBytes, histBytes(trackers))
	if !last.IsZero() {
		res.Elapsed = last.Sub(began)
	}
	for _, t := range trackers {
		t.closeBefore(int((max(res.Elapsed, s.Schedule.Duration()) + window - 1) / window))
	}
	for _, t := range trackers[:len(trackers)-1] {
		res.Endpoints = append(res.Endpoints, t.result())
	}
	res.All = all.result()
	res.Arrivals = Arrivals{
		Scheduled: s.Schedule.Arrivals(),
		Sent:      tg.calls.Load(),
		Late:      tg.late.Load(),
		LateP99:   tg.latency.quantile(99),
		LateMax:   tg.latency.max(),
	}
	res.Hot = m.hot()
	res.Scrapes = log.result()
	return res, ctx.Err()
}

func histBytes(ts []*tracker) int64 {
	var n int64
	for _, t := range ts {
		n += t.bytes()
	}
	return n
}

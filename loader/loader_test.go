package loader_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgfleet/pgfleet/internal/demo/seed"
	"github.com/pgfleet/pgfleet/loader"
)

func TestOneKeepsKeyOrderAndReportsMissingKeys(t *testing.T) {
	t.Parallel()
	ctx := scoped(t)
	l := must(loader.NewOne(db(t), customersShuffled, loader.Config{}))(t)

	keys := []int64{5000, 1, 2000} // two missing
	for i := int64(2); i <= 200; i++ {
		keys = append(keys, i)
	}
	rand.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })

	got, err := l.LoadMany(ctx, keys)
	if !errors.Is(err, loader.ErrNotFound) {
		t.Fatalf("LoadMany error %v, want ErrNotFound for the missing keys", err)
	}
	var missing []int64
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var nf *loader.NotFoundError
		if !errors.As(e, &nf) || nf.Loader != "customers_shuffled" {
			t.Fatalf("per-key error %v, want a *NotFoundError", e)
		}
		missing = append(missing, nf.Key.(int64))
	}
	slices.Sort(missing)
	if !slices.Equal(missing, []int64{2000, 5000}) {
		t.Errorf("not found: %v, want [2000 5000]", missing)
	}
	for i, k := range keys {
		want := k
		if k > 1000 {
			want = 0
		}
		if got[i].ID != want {
			t.Fatalf("result %d is customer %d, want %d (key order lost)", i, got[i].ID, want)
		}
		if want != 0 && got[i].Email != fmt.Sprintf("customer%d@example.com", k) {
			t.Fatalf("customer %d has email %q", k, got[i].Email)
		}
	}
}

// Concurrent single Loads: each caller gets its own row or its own
// not-found, from one query. The batch is sent because it is full (60 keys,
// MaxBatch 60, an hour's Wait), so the test knows it is exactly one.
func TestOneConcurrentLoadsBatchWithPerKeyErrors(t *testing.T) {
	t.Parallel()
	ctx := scoped(t)
	q := &counting{Querier: db(t)}
	l := must(loader.NewOne(q, customersShuffled, whenFull(60)))(t)

	var wg sync.WaitGroup
	errs := make([]error, 60)
	for i := range errs {
		wg.Go(func() {
			id := int64(i + 1)
			if i%10 == 9 {
				id += 100000 // missing
			}
			c, err := l.Load(ctx, id)
			switch {
			case id > 100000 && !errors.Is(err, loader.ErrNotFound):
				errs[i] = fmt.Errorf("Load(%d) = %v, %v; want ErrNotFound", id, c.ID, err)
			case id < 100000 && (err != nil || c.ID != id):
				errs[i] = fmt.Errorf("Load(%d) = %v, %v", id, c.ID, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if n, sizes := q.count(); n != 1 || sizes[0] != 60 {
		t.Fatalf("60 concurrent loads: %d queries of %v keys, want one of 60", n, sizes)
	}
	// Cached: loading again queries nothing.
	if _, err := l.Load(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Load(ctx, 100010); !errors.Is(err, loader.ErrNotFound) {
		t.Fatalf("cached not-found: %v", err)
	}
	if n, _ := q.count(); n != 1 {
		t.Errorf("cached loads ran %d more queries", n-1)
	}
}

// Regression: Clear(k) while k's batch was still open let the next Load(k)
// join the same batch again; the batch held k twice, the rows were mapped
// to its last position only, and the first caller got ErrNotFound for a row
// that exists. Every caller of a repeated key gets the row, one-to-one and
// one-to-many, and the query gets each key once.
func TestClearThenLoadInOneBatchGivesEveryCallerTheRow(t *testing.T) {
	t.Parallel()
	ctx := scoped(t)
	q := &counting{Querier: db(t)}
	one := must(loader.NewOne(q, customersQuery, whenFull(3)))(t)
	many := must(loader.NewMany(q, ordersByCustomer, whenFull(3)))(t)
	customer := int64(1)
	for !seed.HasOrders(customer) {
		customer++
	}

	type res struct {
		v   any
		err error
	}
	// load runs f on its own goroutine and returns once the loader has
	// queued n keys in all.
	load := func(f func() (any, error), queued func() uint64, n uint64) chan res {
		ch := make(chan res, 1)
		go func() { v, err := f(); ch <- res{v, err} }()
		waitFor(t, func() bool { return queued() >= n })
		return ch
	}
	oneQueued := func() uint64 { return loader.Queued(ctx, one) }
	manyQueued := func() uint64 { return loader.Queued(ctx, many) }
	loadOne := func(k int64) func() (any, error) {
		return func() (any, error) { c, err := one.Load(ctx, k); return c, err }
	}
	loadOrders := func() (any, error) { o, err := many.Load(ctx, customer); return o, err }

	first := load(loadOne(7), oneQueued, 1)
	one.Clear(ctx, 7)
	second := load(loadOne(7), oneQueued, 2)
	if c, err := one.Load(ctx, 8); err != nil || c.ID != 8 { // the third key fills the batch: sent
		t.Fatalf("Load(8): %+v, %v", c, err)
	}
	for i, ch := range []chan res{first, second} {
		if r := <-ch; r.err != nil || r.v.(Customer).ID != 7 {
			t.Errorf("caller %d of key 7 (cleared in between): %+v, %v; want customer 7", i+1, r.v, r.err)
		}
	}

	first = load(loadOrders, manyQueued, 1)
	many.Clear(ctx, customer)
	second = load(loadOrders, manyQueued, 2)
	if _, err := many.Load(ctx, customer+1); err != nil {
		t.Fatal(err)
	}
	for i, ch := range []chan res{first, second} {
		if r := <-ch; r.err != nil || len(r.v.([]Order)) == 0 {
			t.Errorf("one-to-many caller %d of customer %d (cleared in between): %v, %v; want its orders", i+1, customer, r.v, r.err)
		}
	}
	if n, sizes := q.count(); n != 2 || !slices.Equal(sizes, []int{2, 2}) {
		t.Errorf("%d queries of %v keys, want 2 of 2 distinct keys each", n, sizes)
	}
}

// Regression: LoadMany joined one error per failed key into its message, so
// 5,000 missing keys made a 180 KB error. The message names the first
// KeyErrorsShown and counts the rest; every per-key error stays reachable.
func TestLoadManyErrorIsShortForManyMissingKeys(t *testing.T) {
	t.Parallel()
	ctx := scoped(t)
	l := must(loader.NewOne(db(t), customersQuery, loader.Config{}))(t)
	keys := []int64{1, 2, 3}
	for k := range int64(5000) {
		keys = append(keys, 1_000_000+k)
	}
	got, err := l.LoadMany(ctx, keys)
	var ke *loader.KeysError
	if !errors.As(err, &ke) || !errors.Is(err, loader.ErrNotFound) {
		t.Fatalf("LoadMany of 5000 missing keys: %T %v; want a *KeysError matching ErrNotFound", err, err)
	}
	msg := err.Error()
	if len(msg) > 1024 || !strings.HasPrefix(msg, "loader: customers: 5000 of 5003 keys failed:\n") ||
		!strings.HasSuffix(msg, "\n(and 4990 more)") || !strings.Contains(msg, "key 1000000: not found") {
		t.Errorf("message (%d bytes): %s", len(msg), msg)
	}
	if n := len(ke.Unwrap()); n != 5000 {
		t.Errorf("%d per-key errors wrapped, want 5000", n)
	}
	if got[2].ID != 3 {
		t.Errorf("found keys lost: %+v", got[:3])
	}
}

func TestManyGivesEmptySliceForParentsWithoutChildren(t *testing.T) {
	t.Parallel()
	ctx := scoped(t)
	l := must(loader.NewMany(db(t), ordersByCustomer, loader.Config{}))(t)

	keys := []int64{10, 7, 20, 3, 999999}
	got, err := l.LoadMany(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		orders := got[i]
		if orders == nil {
			t.Fatalf("customer %d: nil slice, want a non-nil (maybe empty) one", k)
		}
		if seed.HasOrders(k) && k < 1000 {
			if len(orders) == 0 {
				t.Fatalf("customer %d: no orders", k)
			}
			for j, o := range orders {
				if o.CustomerID != k {
					t.Fatalf("customer %d got order of customer %d", k, o.CustomerID)
				}
				if j > 0 && o.CreatedAt.After(orders[j-1].CreatedAt) {
					t.Fatalf("customer %d: orders not newest first (query order lost)", k)
				}
			}
		} else if len(orders) != 0 {
			t.Fatalf("customer %d: %d orders, want none", k, len(orders))
		}
	}
	one, err := l.Load(ctx, 30)
	if err != nil || one == nil || len(one) != 0 {
		t.Fatalf("Load(30) = %v, %v; want an empty slice", one, err)
	}
}

func TestCompositeKeys(t *testing.T) {
	t.Parallel()
	ctx := scoped(t)
	l := must(loader.NewOne(db(t), itemByKey, loader.Config{}))(t)

	var keys []ItemKey
	for o := int64(1); o <= 40; o++ {
		keys = append(keys, ItemKey{OrderID: o, Line: 1}) // every order has a line 1
	}
	keys = append(keys, ItemKey{OrderID: 3, Line: 99}, ItemKey{OrderID: 999999, Line: 1})
	rand.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })

	got, err := l.LoadMany(ctx, keys)
	var notFound int
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var nf *loader.NotFoundError
		if !errors.As(e, &nf) {
			t.Fatal(e)
		}
		if k := nf.Key.(ItemKey); k != (ItemKey{OrderID: 3, Line: 99}) && k != (ItemKey{OrderID: 999999, Line: 1}) {
			t.Fatalf("unexpected not found %v", k)
		}
		notFound++
	}
	if notFound != 2 {
		t.Fatalf("%d not found, want 2", notFound)
	}
	for i, k := range keys {
		if k.Line == 99 || k.OrderID == 999999 {
			continue
		}
		if (ItemKey{OrderID: got[i].OrderID, Line: got[i].Line}) != k || got[i].Quantity < 1 {
			t.Fatalf("result %d is %+v, want key %v", i, got[i], k)
		}
	}
}

func TestBatchesSplitAtMaxBatch(t *testing.T) {
	t.Parallel()
	ctx := scoped(t)
	q := &counting{Querier: db(t)}
	l := must(loader.NewMany(q, itemsByOrder, loader.Config{MaxBatch: 10}))(t)

	keys := make([]int64, 95)
	for i := range keys {
		keys[i] = int64(i + 1)
	}
	got, err := l.LoadMany(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	n, sizes := q.count()
	slices.Sort(sizes) // the batches run side by side, in any order
	if want := []int{5, 10, 10, 10, 10, 10, 10, 10, 10, 10}; !slices.Equal(sizes, want) {
		t.Fatalf("95 keys at MaxBatch 10: %d queries of %v keys, want %v", n, sizes, want)
	}
	for i, items := range got {
		if len(items) == 0 || items[0].OrderID != keys[i] {
			t.Fatalf("order %d: items %v", keys[i], items)
		}
	}
}

// The batch runs with the first caller's values but not its cancellation:
// a caller that gives up (or times out) returns at once, and the others still
// get their rows from the same batch (full at 3 keys, so exactly one).
func TestOneCallerGivingUpDoesNotFailTheOthers(t *testing.T) {
	t.Parallel()
	ctx := scoped(t)
	q := &counting{Querier: db(t), started: make(chan struct{}, 3), gate: make(chan struct{})}
	l := must(loader.NewOne(q, customersQuery, whenFull(3)))(t)
	// Three callers: two will give up (one cancelled, one past its deadline)
	// while the batch is held at the gate; the batch runs with the context of
	// whichever called first, and the test makes that one give up.
	type res struct {
		c   Customer
		err error
	}
	ctxs := make([]context.Context, 3)
	cancels := make([]context.CancelFunc, 3)
	results := make([]chan res, 3)
	for i := range ctxs {
		ctxs[i], cancels[i] = context.WithCancel(context.WithValue(ctx, callerKey{}, i))
		defer cancels[i]()
		results[i] = make(chan res, 1)
	}
	for i := range ctxs {
		go func() {
			v, err := l.Load(ctxs[i], int64(i+1))
			results[i] <- res{v, err}
		}()
	}
	<-q.started // the batch is running (held at the gate)
	first := q.firstCaller()
	cancels[first]()
	if r := <-results[first]; !errors.Is(r.err, context.Canceled) || !strings.HasPrefix(r.err.Error(), "loader: customers: ") {
		t.Fatalf("cancelled first caller: %v, want context.Canceled", r.err)
	}
	second := (first + 1) % 3
	short, cancelShort := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancelShort()
	if _, err := l.Load(short, int64(second+1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("caller with a 20ms deadline: %v, want its own deadline", err)
	}
	close(q.gate)
	for i := range 3 {
		if i == first {
			continue
		}
		if r := <-results[i]; r.err != nil || r.c.ID != int64(i+1) {
			t.Fatalf("caller %d, which waited: %+v, %v", i, r.c, r.err)
		}
	}
	if n, sizes := q.count(); n != 1 || sizes[0] != 3 {
		t.Fatalf("%d queries of %v keys, want one batch of 3", n, sizes)
	}
}

// A failed batch is not cached, even within the request: the next Load asks
// again.
func TestBatchErrorsAreNotCached(t *testing.T) {
	t.Parallel()
	ctx := scoped(t)
	q := &counting{Querier: noRows{}, fail: 1}
	l := must(loader.NewOne(q, identity, loader.Config{}))(t)

	_, err := l.Load(ctx, 1)
	var be *loader.BatchError
	if !errors.As(err, &be) || be.Keys != 1 || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("Load on a failing query: %v, want a *BatchError", err)
	}
	if c, err := l.Load(ctx, 1); err != nil || c != 1 {
		t.Fatalf("Load after the failure: %d, %v", c, err)
	}
}

// Scopes are per request: another scope queries again, an ended scope
// refuses, and no scope is an error that says what to do.
func TestScopes(t *testing.T) {
	t.Parallel()
	q := &counting{Querier: noRows{}}
	l := must(loader.NewOne(q, identity, loader.Config{}))(t)

	if _, err := l.Load(context.Background(), 1); !errors.Is(err, loader.ErrNoScope) {
		t.Fatalf("Load without a scope: %v, want ErrNoScope", err)
	}
	for range 2 {
		ctx, end := loader.WithScope(context.Background())
		if loader.ScopeID(ctx) == 0 {
			t.Fatal("no scope id")
		}
		for range 3 {
			if _, err := l.Load(ctx, 1); err != nil {
				t.Fatal(err)
			}
		}
		end()
		if _, err := l.Load(ctx, 1); !errors.Is(err, loader.ErrScopeEnded) {
			t.Fatalf("Load in an ended scope: %v, want ErrScopeEnded", err)
		}
	}
	if n, _ := q.count(); n != 2 {
		t.Fatalf("two scopes ran %d queries, want one each (no cross-request cache)", n)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	p := noRows{}
	for _, tc := range []struct {
		cfg  loader.Config
		q    loader.Query[int64, Customer]
		want string
	}{
		{loader.Config{MaxBatch: -1}, customersQuery, "loader: MaxBatch -1: must be >= 1"},
		{loader.Config{Wait: -time.Second}, customersQuery, "loader: Wait -1s: must be >= 0"},
		{loader.Config{Wait: time.Millisecond, MaxWait: time.Microsecond}, customersQuery, "loader: MaxWait 1µs is shorter than Wait 1ms"},
		{loader.Config{}, loader.Query[int64, Customer]{SQL: "x", Key: customersQuery.Key}, "loader: Query.Name is empty"},
		{loader.Config{}, loader.Query[int64, Customer]{Name: "c", Key: customersQuery.Key}, "loader: c: Query.SQL is empty"},
		{loader.Config{}, loader.Query[int64, Customer]{Name: "c", SQL: "x"}, "loader: c: Query.Key is nil"},
	} {
		_, err := loader.NewOne(p, tc.q, tc.cfg)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("NewOne(%+v): %v, want %q", tc.cfg, err, tc.want)
		}
	}
	if _, err := loader.NewDetector(loader.DetectorConfig{Threshold: -1}); err == nil || !strings.HasPrefix(err.Error(), "loader: Threshold -1: must be >= 1") {
		t.Errorf("NewDetector(Threshold -1): %v", err)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	ctx := scoped(t)
	m := loader.NewMetrics()
	q := &counting{Querier: noRows{}, fail: 1}
	l := must(loader.NewOne(q, identity, loader.Config{Metrics: m}))(t)
	_, _ = l.Load(ctx, 1)                    // fails
	_, _ = l.LoadMany(ctx, []int64{1, 2, 3}) // one batch of 3
	_, _ = l.Load(ctx, 2)                    // cached
	for name, want := range map[string]float64{
		"pgfleet_loader_loads_total":   5,
		"pgfleet_loader_batches_total": 2,
	} {
		if got := gauge(t, m, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

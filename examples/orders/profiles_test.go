package orders_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgfleet/pgfleet/examples/orders"
	"github.com/pgfleet/pgfleet/shard"
)

// TestProfilesOnTheRouterShard: every customer's profile is on the shard
// the router picks (and only there), in the bucket it computes, and the
// endpoint reads it from that shard.
func TestProfilesOnTheRouterShard(t *testing.T) {
	t.Parallel()
	c := serve(t, orders.Options{})
	d := databases(t)
	r := c.svc.Router()
	seen := 0
	for name, dsn := range d.ServiceOptions(orders.Options{}).Shards {
		conn, err := pgx.Connect(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		rows, _ := conn.Query(t.Context(), `SELECT customer_id, bucket FROM customer_profiles`)
		got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
			ID     int64
			Bucket int
		}])
		conn.Close(context.WithoutCancel(t.Context()))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range got {
			k := shard.Int(p.ID)
			if s := r.ShardOf(k); s != name || p.Bucket != r.Bucket(k) {
				t.Fatalf("customer %d is on %s in bucket %d; the router says %s, bucket %d", p.ID, name, p.Bucket, s, r.Bucket(k))
			}
		}
		seen += len(got)
	}
	if seen != d.Customers {
		t.Fatalf("%d profiles on the shards, want one per customer (%d)", seen, d.Customers)
	}
	for id := int64(1); id <= int64(d.Customers); id += 37 {
		var p orders.Profile
		c.get(fmt.Sprintf("/profiles/%d", id)).want(t, http.StatusOK, "profile").decode(t, &p)
		if k := shard.Int(id); p.CustomerID != id || p.Shard != r.ShardOf(k) || p.Bucket != r.Bucket(k) || p.DisplayName == "" {
			t.Fatalf("profile %d: %+v", id, p)
		}
	}
	c.get(fmt.Sprintf("/profiles/%d", d.Customers+1)).want(t, http.StatusNotFound, "unknown customer")
	c.get("/profiles/x").want(t, http.StatusBadRequest, "bad id")
	c.get("/debug/hotkeys?n=0").want(t, http.StatusBadRequest, "bad n")
}

// TestHotCustomerCached: one customer asked for far more than the others
// becomes the top hot key of its shard, and with the hot cache on its
// lookups are served from memory.
func TestHotCustomerCached(t *testing.T) {
	t.Parallel()
	c := serve(t, orders.Options{HotCache: true})
	const hot = 42
	for i := range 600 {
		c.get(fmt.Sprintf("/profiles/%d", hot)).want(t, http.StatusOK, "hot profile")
		if i%3 == 0 {
			c.get(fmt.Sprintf("/profiles/%d", 100+i)).want(t, http.StatusOK, "profile")
		}
	}
	var keys []struct {
		Key, Shard  string
		Rate, Share float64
	}
	c.get("/debug/hotkeys?n=3").want(t, http.StatusOK, "hotkeys").decode(t, &keys)
	if len(keys) == 0 || keys[0].Key != fmt.Sprint(hot) || keys[0].Shard != c.svc.Router().ShardOf(shard.Int(hot)) || keys[0].Share < 0.05 {
		t.Fatalf("hot keys %+v: want customer %d first, on its shard, above 5%%", keys, hot)
	}
	c.get("/profiles/999999").want(t, http.StatusNotFound, "unknown customer, through the cache")
	st := c.svc.Stats()
	if st.HotCache == nil || st.HotCache.Hits == 0 {
		t.Fatalf("hot cache %+v: no hits for a hot customer", st.HotCache)
	}
	t.Logf("hot cache: %+v; hot keys: %+v", *st.HotCache, keys)
}

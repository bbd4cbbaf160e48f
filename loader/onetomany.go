package loader

import "github.com/graph-gophers/dataloader/v7"

// NewMany returns a one-to-many loader: all the rows of each key, such as
// the items of orders:
//
//	items, err := loader.NewMany(db, loader.Query[int64, Item]{
//		Name: "order_items",
//		SQL:  `SELECT order_id, line, product_id, quantity, price_cents
//		       FROM order_items WHERE order_id = ANY($1) ORDER BY order_id, line`,
//		Key:  func(i Item) int64 { return i.OrderID },
//	}, loader.Config{})
//
// Each key's rows keep the query's order. A key without rows gets an empty
// (non-nil) slice, not an error.
func NewMany[K comparable, V any](db Querier, q Query[K, V], cfg Config) (*Loader[K, []V], error) {
	return newLoader(db, q, cfg, assembleMany[K, V])
}

func assembleMany[K comparable, V any](_ string, key func(V) K, keys []K, idx map[K]int, rows []V) []*dataloader.Result[[]V] {
	results := make([]dataloader.Result[[]V], len(keys))
	for _, row := range rows {
		if i, ok := idx[key(row)]; ok {
			results[i].Data = append(results[i].Data, row)
		}
	}
	out := make([]*dataloader.Result[[]V], len(keys))
	for i := range out {
		if results[i].Data == nil {
			results[i].Data = []V{}
		}
		out[i] = &results[i]
	}
	return out
}

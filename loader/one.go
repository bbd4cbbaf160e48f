package loader

import "github.com/graph-gophers/dataloader/v7"

// NewOne returns a one-to-one loader: at most one row per key, such as
// customers by id:
//
//	customers, err := loader.NewOne(db, loader.Query[int64, Customer]{
//		Name: "customers",
//		SQL:  `SELECT id, email, name, region, created_at FROM customers WHERE id = ANY($1)`,
//		Key:  func(c Customer) int64 { return c.ID },
//	}, loader.Config{})
//
// A key without a row gets a [*NotFoundError] (errors.Is(err,
// [ErrNotFound])), a key with several rows an error; neither affects the
// other keys of the batch.
func NewOne[K comparable, V any](db Querier, q Query[K, V], cfg Config) (*Loader[K, V], error) {
	return newLoader(db, q, cfg, assembleOne[K, V])
}

func assembleOne[K comparable, V any](name string, key func(V) K, keys []K, idx map[K]int, rows []V) []*dataloader.Result[V] {
	results := make([]dataloader.Result[V], len(keys))
	found := make([]bool, len(keys))
	for _, row := range rows {
		i, ok := idx[key(row)]
		switch {
		case !ok: // a row for a key nobody asked for: not ours to report
		case found[i]:
			results[i] = dataloader.Result[V]{Error: duplicateError(name, keys[i])}
		default:
			found[i] = true
			results[i].Data = row
		}
	}
	out := make([]*dataloader.Result[V], len(keys))
	for i := range out {
		if !found[i] {
			results[i].Error = &NotFoundError{Loader: name, Key: keys[i]}
		}
		out[i] = &results[i]
	}
	return out
}

package loader

// Columns2 returns a [Query].Args function for two-column composite keys: it
// splits the batch's keys into one array per column, for
// unnest($1::type1[], $2::type2[]) WITH ORDINALITY. The ordinality gives the
// rows a stable order (the keys'), which one-to-many loaders keep.
//
//	type ItemKey struct{ OrderID int64; Line int32 }
//
//	items, err := loader.NewOne(db, loader.Query[ItemKey, Item]{
//		Name: "order_item",
//		SQL: `SELECT i.order_id, i.line, i.product_id, i.quantity, i.price_cents
//		      FROM unnest($1::int8[], $2::int4[]) WITH ORDINALITY AS k(order_id, line, ord)
//		      JOIN order_items i USING (order_id, line)
//		      ORDER BY k.ord`,
//		Key:  func(i Item) ItemKey { return ItemKey{i.OrderID, i.Line} },
//		Args: loader.Columns2(func(k ItemKey) (int64, int32) { return k.OrderID, k.Line }),
//	}, loader.Config{})
func Columns2[K any, A, B any](split func(K) (A, B)) func([]K) []any {
	return func(keys []K) []any {
		as, bs := make([]A, len(keys)), make([]B, len(keys))
		for i, k := range keys {
			as[i], bs[i] = split(k)
		}
		return []any{as, bs}
	}
}

// Columns3 is [Columns2] for three-column keys.
func Columns3[K any, A, B, C any](split func(K) (A, B, C)) func([]K) []any {
	return func(keys []K) []any {
		as, bs, cs := make([]A, len(keys)), make([]B, len(keys)), make([]C, len(keys))
		for i, k := range keys {
			as[i], bs[i], cs[i] = split(k)
		}
		return []any{as, bs, cs}
	}
}

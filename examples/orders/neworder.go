package orders

// The body of POST /orders, and its rules.

// NewOrder is what a client orders.
type NewOrder struct {
	CustomerID int64     `json:"customer_id"`
	Items      []NewItem `json:"items"`
}

type NewItem struct {
	ProductID int64 `json:"product_id"`
	Quantity  int32 `json:"quantity"`
}

// Bounds of a NewOrder: a request cannot make the transaction arbitrarily long.
const (
	MaxItems    = 50
	MaxQuantity = 1000
)

func (in NewOrder) validate() error {
	switch {
	case in.CustomerID <= 0:
		return inputErrorf("customer_id: %d: must be a customer id (> 0)", in.CustomerID)
	case len(in.Items) == 0 || len(in.Items) > MaxItems:
		return inputErrorf("items: %d given: an order has 1 to %d items", len(in.Items), MaxItems)
	}
	for i, it := range in.Items {
		if it.ProductID <= 0 {
			return inputErrorf("items[%d].product_id: %d: must be a product id (> 0)", i, it.ProductID)
		}
		if it.Quantity < 1 || it.Quantity > MaxQuantity {
			return inputErrorf("items[%d].quantity: %d: must be 1 to %d", i, it.Quantity, MaxQuantity)
		}
	}
	return nil
}

package loader_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/pgfleet/pgfleet/loader"
)

func ExampleShape() {
	fmt.Println(loader.Shape("SELECT * FROM customers WHERE id = $1"))
	fmt.Println(loader.Shape("select *\n  from customers -- by id\n where id = 42"))
	fmt.Println(loader.Shape("SELECT * FROM t WHERE id IN (1, 2, 3)"))
	// Output:
	// select * from customers where id = ?
	// select * from customers where id = ?
	// select * from t where id in (?)
}

func ExampleMiddleware() {
	mux := http.NewServeMux()
	mux.HandleFunc("/orders", func(w http.ResponseWriter, r *http.Request) {
		// Loads made with r.Context() share this request's batches and cache.
		fmt.Fprintln(w, loader.ScopeID(r.Context()) != 0)
	})
	h := loader.Middleware(mux) // http.ListenAndServe(addr, loader.Middleware(mux))

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/orders", nil))
	fmt.Print(w.Body)
	// Output: true
}

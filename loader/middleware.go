package loader

import "net/http"

// Middleware opens a loader scope ([WithScope]) for every request and ends
// it when next returns, so that the loaders used while serving the request
// share its batches and cache, and nothing outlives it.
//
//	http.ListenAndServe(addr, loader.Middleware(mux))
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, end := WithScope(r.Context())
		defer end()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

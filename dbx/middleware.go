package dbx

import (
	"net/http"
	"time"
)

// The names under which [Cluster.Middleware] carries causal tokens.
const (
	TokenHeader = "Pgfleet-Causal-Token" // request and response header
	TokenCookie = "pgfleet_causal"       // cookie
)

// TokenMaxAge is the causal cookie's lifetime. A token matters only until
// the replicas have replayed its commit (milliseconds, or MaxLagTime at
// worst); past that a replica serves the read anyway.
const TokenMaxAge = 5 * time.Minute

// Middleware carries a client's causal token from one request to the next,
// so that a user reads their own writes on the replicas. It reads the
// token from the TokenHeader header, else the TokenCookie cookie (a token
// that does not parse or belongs to another cluster is ignored and counted:
// see [Cluster.AcceptToken]), and puts it in the request's context, where
// [Reader] reads honour it and [Cluster.TxToken] and [Cluster.Token] raise
// it. When the handler committed something, the response carries the new
// token in the header and the cookie (HttpOnly, SameSite=Lax, Path=/,
// TokenMaxAge), set before the handler's first byte.
func (cl *Cluster) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in Token
		text := r.Header.Get(TokenHeader)
		if text == "" {
			if c, err := r.Cookie(TokenCookie); err == nil {
				text = c.Value
			}
		}
		if text != "" {
			in, _ = cl.AcceptToken(text) // refused: counted, ignored
		}
		ctx := WithToken(r.Context(), in)
		tw := &tokenWriter{ResponseWriter: w, scope: ctx.Value(tokenKey{}).(*tokenScope), in: in}
		next.ServeHTTP(tw, r.WithContext(ctx))
		tw.setToken() // a handler that wrote nothing: net/http sends the header after this
	})
}

// tokenWriter sets the token on the response before its header is written.
type tokenWriter struct {
	http.ResponseWriter
	scope *tokenScope
	in    Token
	wrote bool
}

func (w *tokenWriter) WriteHeader(code int) {
	w.setToken()
	w.ResponseWriter.WriteHeader(code)
}

func (w *tokenWriter) Write(b []byte) (int, error) {
	w.setToken()
	return w.ResponseWriter.Write(b)
}

// Flush sets the token, then flushes, for handlers that assert
// http.Flusher (streaming responses).
func (w *tokenWriter) Flush() {
	w.setToken()
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the deadlines and the rest.
func (w *tokenWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *tokenWriter) setToken() {
	if w.wrote {
		return
	}
	w.wrote = true
	t := w.scope.get()
	if t.lsn <= w.in.lsn {
		return
	}
	w.Header().Set(TokenHeader, t.String())
	http.SetCookie(w, &http.Cookie{Name: TokenCookie, Value: t.String(), Path: "/", MaxAge: int(TokenMaxAge / time.Second), HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

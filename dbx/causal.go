package dbx

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
)

// Token is a causal token: the primary's WAL position after a commit, and
// the identity of the database cluster it belongs to (its system
// identifier, which its streaming replicas share). A [Reader] read that
// carries one in its context runs only where that commit is visible: on a
// replica that has replayed that far, else on the primary. The zero Token
// asks for nothing.
type Token struct {
	system uint64
	lsn    LSN
}

// tokenPrefix versions the text form, so that a later form can be told apart.
const tokenPrefix = "pgf1."

// maxTokenLen bounds what ParseToken reads: "pgf1." + 16 + "." + 16 hex digits.
const maxTokenLen = len(tokenPrefix) + 16 + 1 + 16

// LSN is the WAL position the token asks a replica to have replayed.
func (t Token) LSN() LSN { return t.lsn }

// IsZero reports whether the token asks for nothing.
func (t Token) IsZero() bool { return t.lsn == 0 }

// String is the token's text form for a cookie or a header:
// "pgf1.<system identifier>.<LSN>" in hexadecimal; "" for the zero Token.
func (t Token) String() string {
	if t.IsZero() {
		return ""
	}
	return tokenPrefix + strconv.FormatUint(t.system, 16) + "." + strconv.FormatUint(uint64(t.lsn), 16)
}

// MarshalText is String, for encoders.
func (t Token) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText is ParseToken.
func (t *Token) UnmarshalText(b []byte) error {
	v, err := ParseToken(string(b))
	if err == nil {
		*t = v
	}
	return err
}

// ParseToken reads a token's text form. It checks the form only: a token of
// another cluster parses, and [Cluster.AcceptToken] refuses it.
func ParseToken(s string) (Token, error) {
	bad := func(why string) (Token, error) {
		shown := s
		if len(shown) > maxTokenLen {
			shown = shown[:maxTokenLen] + "..."
		}
		return Token{}, fmt.Errorf("dbx: causal token %q: %s", shown, why)
	}
	if len(s) > maxTokenLen {
		return bad(fmt.Sprintf("longer than %d bytes", maxTokenLen))
	}
	rest, ok := strings.CutPrefix(s, tokenPrefix)
	if !ok {
		return bad("not a pgfleet token (it starts with " + tokenPrefix + ")")
	}
	sys, pos, ok := strings.Cut(rest, ".")
	if !ok {
		return bad("want pgf1.<system>.<lsn>")
	}
	system, err1 := strconv.ParseUint(sys, 16, 64)
	lsn, err2 := strconv.ParseUint(pos, 16, 64)
	if err1 != nil || err2 != nil || sys == "" || pos == "" || lsn == 0 {
		return bad("want pgf1.<system>.<lsn> with two hexadecimal numbers, the LSN not 0")
	}
	return Token{system: system, lsn: LSN(lsn)}, nil
}

// later returns the token that asks for more: the one with the higher LSN.
func (t Token) later(u Token) Token {
	if u.lsn > t.lsn {
		return u
	}
	return t
}

type tokenKey struct{}

// tokenScope holds a request's token: the one it came with, raised by the
// commits it makes, so that a read after a write in the same request, and
// the response's cookie, carry the latest.
type tokenScope struct {
	mu sync.Mutex
	t  Token
}

func (s *tokenScope) raise(t Token) {
	s.mu.Lock()
	s.t = s.t.later(t)
	s.mu.Unlock()
}

func (s *tokenScope) get() Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.t
}

// WithToken returns a context whose reads carry t (or the token ctx already
// carries, if it asks for more). Commits through [Cluster.TxToken] and
// [Cluster.Token] with the returned context raise its token.
func WithToken(ctx context.Context, t Token) context.Context {
	return context.WithValue(ctx, tokenKey{}, &tokenScope{t: TokenFrom(ctx).later(t)})
}

// TokenFrom returns the token ctx carries; the zero Token when none.
func TokenFrom(ctx context.Context) Token {
	if s, ok := ctx.Value(tokenKey{}).(*tokenScope); ok {
		return s.get()
	}
	return Token{}
}

func recordToken(ctx context.Context, t Token) {
	if s, ok := ctx.Value(tokenKey{}).(*tokenScope); ok {
		s.raise(t)
	}
}

// AcceptToken parses a token that came from a client. A token that does not
// parse, or that belongs to another database cluster, is refused (counted
// in pgfleet_causal_tokens_rejected_total by reason) and must be ignored,
// never trusted: its read then goes where a read without a token goes.
func (cl *Cluster) AcceptToken(s string) (Token, error) {
	rs := cl.replicas
	t, err := ParseToken(s)
	if err != nil {
		rs.stats.rejectedMalformed.Add(1)
		return Token{}, err
	}
	if sys := rs.system.Load(); sys != 0 && t.system != sys {
		rs.stats.rejectedForeign.Add(1)
		return Token{}, fmt.Errorf("dbx: causal token of database system %x, not this cluster's (%x): ignored", t.system, sys)
	}
	return t, nil
}

// tokenFor is the token a read must honour: ctx's, unless it belongs to
// another cluster (then none, counted).
func (cl *Cluster) tokenFor(ctx context.Context) Token {
	t := TokenFrom(ctx)
	if t.IsZero() {
		return t
	}
	if sys := cl.replicas.system.Load(); sys != 0 && t.system != sys {
		cl.replicas.stats.rejectedForeign.Add(1)
		return Token{}
	}
	return t
}

// commitLSNSQL reads the WAL position after COMMIT. Sent in the same batch
// as the COMMIT (one round trip): Postgres runs a COMMIT of the extended
// protocol to its end, flush included, before the next statement.
const commitLSNSQL = `SELECT pg_current_wal_lsn()::text, (SELECT system_identifier FROM pg_control_system())`

// TxToken runs fn in a transaction on the primary, as [Cluster.TxWith]
// does (same options, same retries), and returns the causal token of its
// commit: pass it on (Middleware does, as a cookie) so that later reads see
// this write. The COMMIT and the read of the WAL position travel in one
// round trip. The token is also recorded in ctx's token, if ctx carries
// one ([WithToken], [Cluster.Middleware]).
func (cl *Cluster) TxToken(ctx context.Context, opts TxOptions, fn func(pgx.Tx) error) (Token, error) {
	var tok Token
	err := cl.retryTx(ctx, opts, func() (err error) {
		tok, err = cl.runTxToken(ctx, opts.TxOptions, fn)
		return err
	})
	if err != nil {
		return Token{}, err
	}
	recordToken(ctx, tok)
	return tok, nil
}

func (cl *Cluster) runTxToken(ctx context.Context, opts pgx.TxOptions, fn func(pgx.Tx) error) (Token, error) {
	conn, err := cl.primary.acquire(ctx)
	if err != nil {
		return Token{}, err
	}
	defer conn.Release()
	tx, err := conn.conn.BeginTx(ctx, opts)
	if err != nil {
		return Token{}, cl.primary.fail(err)
	}
	if err := within(ctx, tx, fn); err != nil {
		return Token{}, err
	}
	// tx is left unfinished on purpose: the batch commits it on the server,
	// and Release finds the connection idle.
	b := &pgx.Batch{}
	b.Queue("COMMIT")
	b.Queue(commitLSNSQL)
	br := conn.conn.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return Token{}, cl.primary.fail(err)
	}
	var text string
	var sys int64
	err = br.QueryRow().Scan(&text, &sys)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Token{}, fmt.Errorf("dbx: committed, but reading the WAL position failed (no token): %w", cl.primary.fail(err))
	}
	return cl.token(text, sys)
}

func (cl *Cluster) token(text string, sys int64) (Token, error) {
	lsn, err := ParseLSN(text)
	if err != nil {
		return Token{}, err
	}
	cl.replicas.system.CompareAndSwap(0, uint64(sys))
	return Token{system: uint64(sys), lsn: lsn}, nil
}

// Token returns a causal token for everything committed on the primary so
// far, at the cost of one round trip: take it after writes made outside
// [Cluster.TxToken] (Exec, Tx, sqlc queries on the Cluster). It is also
// recorded in ctx's token, if ctx carries one.
func (cl *Cluster) Token(ctx context.Context) (Token, error) {
	var text string
	var sys int64
	if err := cl.primary.queryRow(ctx, commitLSNSQL).Scan(&text, &sys); err != nil {
		return Token{}, err
	}
	tok, err := cl.token(text, sys)
	if err == nil {
		recordToken(ctx, tok)
	}
	return tok, err
}

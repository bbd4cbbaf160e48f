package dbx_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgfleet/pgfleet/dbx"
)

// instantServer is a connection to a Postgres that answers every statement
// at once with one text row, in the caller's goroutine: the server's reply
// is computed inside Write and waits in the read buffer. With no socket, no
// scheduler hand-off and no server process, a benchmark over it measures
// the client's own CPU per statement, which a real server's round trip
// buries in noise on a shared machine (BenchmarkClientOverhead).
type instantServer struct {
	mu      sync.Mutex
	written sync.Cond // on mu: the server wrote or closed
	in      []byte    // the client's bytes not yet parsed
	out     bytes.Buffer
	started bool
	closed  bool
	params  int // of the last Parse
}

// instantDSN is a DSN for dialInstant's connections (nothing listens there).
const instantDSN = "postgres://bench@127.0.0.1:5432/bench?sslmode=disable"

// openInstant opens a Cluster of size connections to instant servers, not
// verified against a server, closed when tb ends.
func openInstant(tb testing.TB, size int) *dbx.Cluster {
	tb.Helper()
	cfg, err := dbx.ParseConfig(instantDSN)
	if err != nil {
		tb.Fatal(err)
	}
	cfg.Pool.ConnConfig.DialFunc = dialInstant
	cfg.MaxConns, cfg.Logger, cfg.Verify = size, slog.New(slog.DiscardHandler), dbx.VerifyOff
	cl, err := dbx.OpenConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(cl.Close)
	return cl
}

// dialInstant is a pgconn.DialFunc.
func dialInstant(context.Context, string, string) (net.Conn, error) {
	s := &instantServer{}
	s.written.L = &s.mu
	return &instantPGConn{s: s}, nil
}

type instantPGConn struct {
	net.Conn // nil: the methods below are all pgx calls
	s        *instantServer
}

var errInstantClosed = errors.New("instant server: connection closed")

func (c *instantPGConn) Write(p []byte) (int, error) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, errInstantClosed
	}
	s.in = append(s.in, p...)
	for s.step() {
	}
	s.written.Broadcast()
	return len(p), nil
}

func (c *instantPGConn) Read(p []byte) (int, error) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	// Nothing to read waits for a write, as on a socket: pgx's
	// background reader reads ahead when a write seems slow.
	for s.out.Len() == 0 && !s.closed {
		s.written.Wait()
	}
	if s.out.Len() == 0 {
		return 0, io.EOF
	}
	return s.out.Read(p)
}

func (c *instantPGConn) Close() error {
	c.s.mu.Lock()
	c.s.closed = true
	c.s.written.Broadcast()
	c.s.mu.Unlock()
	return nil
}

func (c *instantPGConn) LocalAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (c *instantPGConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5432}
}
func (c *instantPGConn) SetDeadline(time.Time) error      { return nil }
func (c *instantPGConn) SetReadDeadline(time.Time) error  { return nil }
func (c *instantPGConn) SetWriteDeadline(time.Time) error { return nil }

// step answers one complete message of s.in, if there is one.
func (s *instantServer) step() bool {
	if !s.started {
		if len(s.in) < 4 {
			return false
		}
		n := int(binary.BigEndian.Uint32(s.in))
		if len(s.in) < n {
			return false
		}
		s.in = s.in[n:]
		s.started = true
		s.send(&pgproto3.AuthenticationOk{})
		for _, kv := range [][2]string{{"server_version", "15.0"}, {"client_encoding", "UTF8"}, {"standard_conforming_strings", "on"}, {"DateStyle", "ISO, MDY"}, {"integer_datetimes", "on"}} {
			s.send(&pgproto3.ParameterStatus{Name: kv[0], Value: kv[1]})
		}
		s.send(&pgproto3.BackendKeyData{ProcessID: 1, SecretKey: []byte{0, 0, 0, 1}})
		s.send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
		return true
	}
	if len(s.in) < 5 {
		return false
	}
	n := 1 + int(binary.BigEndian.Uint32(s.in[1:]))
	if len(s.in) < n {
		return false
	}
	typ, body := s.in[0], s.in[5:n]
	s.in = s.in[n:]
	switch typ {
	case 'P': // Parse: remember nothing, count the parameters when described
		var m pgproto3.Parse
		if m.Decode(body) == nil {
			s.params = strings.Count(m.Query, "$")
		}
		s.send(&pgproto3.ParseComplete{})
	case 'D':
		if body[0] == 'S' {
			oids := make([]uint32, s.params)
			for i := range oids {
				oids[i] = 23 // int4
			}
			s.send(&pgproto3.ParameterDescription{ParameterOIDs: oids})
		}
		s.send(instantRow)
	case 'B':
		s.send(&pgproto3.BindComplete{})
	case 'E':
		s.send(instantData)
		s.send(instantTag)
	case 'S':
		s.send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	case 'Q':
		s.send(instantRow)
		s.send(instantData)
		s.send(instantTag)
		s.send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	case 'X':
		s.closed = true
	}
	return true
}

var (
	instantRow  = &pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{{Name: []byte("v"), DataTypeOID: 25, DataTypeSize: -1, TypeModifier: -1}}}
	instantData = &pgproto3.DataRow{Values: [][]byte{[]byte("value")}}
	instantTag  = &pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")}
)

func (s *instantServer) send(m pgproto3.BackendMessage) {
	b, err := m.Encode(s.out.AvailableBuffer())
	if err != nil {
		panic(err)
	}
	s.out.Write(b)
}

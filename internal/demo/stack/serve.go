package stack

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/pgfleet/pgfleet/examples/orders"
)

// Server is the orders service listening on a loopback port.
type Server struct {
	BaseURL string // http://127.0.0.1:PORT
	Service *orders.Service
	http    *http.Server
	done    chan error
}

// shutdownTimeout bounds Close's wait for requests in flight (each is
// bounded by its class's budget, at most a second).
const shutdownTimeout = 5 * time.Second

// Serve opens the service with opts and serves it on 127.0.0.1 at a free
// port.
func Serve(ctx context.Context, opts orders.Options) (*Server, error) {
	svc, err := orders.Open(ctx, opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		svc.Close()
		return nil, err
	}
	s := &Server{BaseURL: "http://" + ln.Addr().String(), Service: svc, done: make(chan error, 1),
		http: &http.Server{Handler: svc.Handler(), ReadHeaderTimeout: 5 * time.Second}}
	go func() { s.done <- s.http.Serve(ln) }()
	return s, nil
}

// Close stops accepting requests, waits for those in flight, and closes
// the service's pools.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := s.http.Shutdown(ctx)
	if serr := <-s.done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	s.Service.Close()
	return err
}

// Stack is the whole example: databases and the service.
type Stack struct {
	*Server
	Databases *Databases
	Timings   Timings
}

// Launch starts the databases (StartDatabases) and serves the service on
// them (Serve). Close stops everything: no server process is left.
func Launch(ctx context.Context, opts Options) (*Stack, error) {
	d, err := StartDatabases(ctx, opts)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	srv, err := Serve(ctx, d.ServiceOptions(opts.Service))
	if err != nil {
		return nil, errors.Join(err, d.Close())
	}
	t := d.Timings
	t.Open = time.Since(start)
	return &Stack{Server: srv, Databases: d, Timings: t}, nil
}

// Close shuts the service down, then stops every server.
func (s *Stack) Close() error {
	return errors.Join(s.Server.Close(), s.Databases.Close())
}

package main

import (
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"time"
)

// slowProxy forwards TCP connections to a server and delays a fraction of
// the server's replies: a replica with a latency tail (a noisy neighbour, a
// checkpoint, a GC'd network path), which power of two choices on reads in
// flight cannot see coming.
type slowProxy struct {
	ln       net.Listener
	target   string
	fraction float64
	delay    time.Duration
	wg       sync.WaitGroup
}

func newSlowProxy(target string, fraction float64, delay time.Duration) (*slowProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &slowProxy{ln: ln, target: target, fraction: fraction, delay: delay}
	p.wg.Go(p.accept)
	return p, nil
}

// dsn rewrites a URL DSN to go through the proxy.
func (p *slowProxy) dsn(dsn string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", err
	}
	u.Host = p.ln.Addr().String()
	return u.String(), nil
}

func (p *slowProxy) close() {
	p.ln.Close()
	p.wg.Wait()
}

func (p *slowProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		go func() { _, _ = io.Copy(s, c); s.Close() }()
		go func() { p.replies(c, s); c.Close() }()
	}
}

// replies copies the server's bytes to the client, holding a fraction of
// the reads back for the delay.
func (p *slowProxy) replies(c, s net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := s.Read(buf)
		if n > 0 {
			if rand.Float64() < p.fraction {
				time.Sleep(p.delay)
			}
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

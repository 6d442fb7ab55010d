package files_test

import (
	"bytes"
	"io"
	"net"
	"sync"
	"testing"
)

// proxy forwards TCP connections to a server and can cut one of them
// after a number of bytes, the way a failing network would.
type proxy struct {
	t      *testing.T
	ln     net.Listener
	target string

	mu sync.Mutex
	// cutUp cuts the first connection whose request bytes (client to
	// server) pass it; cutDown the first whose reply bytes pass it.
	// Zero cuts nothing. Each is used once.
	cutUp, cutDown int64
	cuts           int
	up             bytes.Buffer // the first bytes of each request stream, for inspection
	conns          sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, ln: ln, target: target}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.conns.Add(1)
			go p.serve(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		p.conns.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

// cut arranges for the next connection to be cut after n bytes, going
// up (client to server) or down.
func (p *proxy) cut(up bool, n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if up {
		p.cutUp = n
	} else {
		p.cutDown = n
	}
}

func (p *proxy) cutCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cuts
}

func (p *proxy) requests() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.up.String()
}

func (p *proxy) serve(c net.Conn) {
	defer p.conns.Done()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	var once sync.Once
	cut := func() {
		once.Do(func() {
			p.mu.Lock()
			p.cuts++
			p.mu.Unlock()
			// A reset on both sides, as when a network path dies.
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			if tc, ok := s.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			c.Close()
			s.Close()
		})
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		p.pipe(s, c, true, cut)
	}()
	go func() {
		defer wg.Done()
		p.pipe(c, s, false, cut)
	}()
	wg.Wait()
	c.Close()
	s.Close()
}

// pipe copies src to dst; if a cut is set for its direction, it cuts the
// connection once that many bytes have passed.
func (p *proxy) pipe(dst, src net.Conn, upstream bool, cut func()) {
	buf := make([]byte, 32<<10)
	var n int64
	for {
		k, err := src.Read(buf)
		if k > 0 {
			if upstream {
				p.mu.Lock()
				// Keep request heads only.
				b := buf[:k]
				if i := bytes.Index(b, []byte(" HTTP/1.1\r\n")); i >= 0 && p.up.Len() < 1<<20 {
					if j := bytes.LastIndexByte(b[:i], '\n'); j >= 0 {
						b = b[j+1:]
					}
					if j := bytes.Index(b, []byte("\r\n\r\n")); j >= 0 {
						b = b[:j+4]
					}
					p.up.Write(b)
				}
				p.mu.Unlock()
			}
			if limit := p.take(upstream, n+int64(k)); limit > 0 {
				dst.Write(buf[:limit-n])
				cut()
				return
			}
			n += int64(k)
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return
			}
		}
		if err != nil {
			if err == io.EOF {
				if tc, ok := dst.(*net.TCPConn); ok {
					tc.CloseWrite()
				}
			} else {
				dst.Close()
			}
			return
		}
	}
}

// take uses up the cut for a direction if a stream that has passed n
// bytes reaches it, and returns where to cut, or 0.
func (p *proxy) take(upstream bool, n int64) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := &p.cutDown
	if upstream {
		c = &p.cutUp
	}
	if *c == 0 || n < *c {
		return 0
	}
	limit := *c
	*c = 0
	return limit
}

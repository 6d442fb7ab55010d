// Package chat is the client side of Parley's chat protocol: dialing,
// the hello/login handshake, requests and their replies, events, and a
// Session that reconnects by itself, resumes with its token, catches up on
// what it missed and re-sends what was not acknowledged.
package chat

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"sync"
	"syscall"
	"time"

	"golang.org/x/time/rate"

	"github.com/parley-chat/parley/shared/protocol"
)

// ClientName is sent in hello.
const ClientName = "parley-client/1"

// writeTimeout bounds one write to the socket.
const writeTimeout = 10 * time.Second

// conn is one connection to the server. The Session owns it.
//
// Everything the client says on a connection goes through its writer
// goroutine, one frame at a time, paced by a token bucket that follows the
// rate and burst the server announced in welcome, so that the server never
// has to refuse a frame for going over its limit. Requests wait in a queue
// ordered by request id, so they go out in the order they were made even
// when one is put back after a refusal or a reconnect. Only pong skips the
// queue and the bucket: the server does not count it.
type conn struct {
	nc      net.Conn
	r       *protocol.Reader
	welcome *protocol.Frame
	early   []*protocol.Frame // frames that came before the login reply
	more    bool              // the login's catch-up was cut short

	lim *rate.Limiter // nil: the server announced no rate

	mu      sync.Mutex
	queue   []*outgoing // by request id
	pongDue bool
	resume  time.Time // no counted frame is written before this
	wake    chan struct{}
	dead    chan struct{} // closed by close
	once    sync.Once
	wdone   chan struct{} // closed when the writer has stopped
}

// outgoing is a frame waiting for the writer.
type outgoing struct {
	f       *protocol.Frame
	written chan struct{} // closed once it is on the wire; nil if nobody waits
}

// dial connects and exchanges hello and welcome, then starts the
// connection's writer.
func dial(ctx context.Context, addr string, tlsConf *tls.Config) (*conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	var nc net.Conn
	var err error
	if tlsConf != nil {
		if tlsConf.ServerName == "" {
			// Each node is checked against its own name.
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			tlsConf = tlsConf.Clone()
			tlsConf.ServerName = host
		}
		td := tls.Dialer{NetDialer: &d, Config: tlsConf}
		nc, err = td.DialContext(ctx, "tcp", addr)
	} else {
		nc, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	c := &conn{nc: nc, r: protocol.NewReader(nc, protocol.DefaultMaxFrame),
		wake: make(chan struct{}, 1), dead: make(chan struct{}), wdone: make(chan struct{})}
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
	defer stop()
	nc.SetDeadline(time.Now().Add(15 * time.Second))
	// hello is the first frame of a fresh bucket: it cannot be refused,
	// and it is counted below once the bucket's size is known.
	if _, err := nc.Write(protocol.Encode(&protocol.Frame{Type: protocol.TypeHello, Version: protocol.Version, Client: ClientName})); err != nil {
		nc.Close()
		return nil, err
	}
	f, err := c.read()
	if err != nil {
		nc.Close()
		if tlsConf == nil && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
			return nil, fmt.Errorf("the server closed the connection before saying welcome; if it uses TLS, connect with -tls or -ca FILE (%w)", err)
		}
		return nil, fmt.Errorf("waiting for welcome: %w", err)
	}
	switch f.Type {
	case protocol.TypeWelcome:
	case protocol.TypeError, protocol.TypeBye:
		nc.Close()
		return nil, &protocol.Error{Code: f.Code, Message: f.Message}
	default:
		nc.Close()
		return nil, fmt.Errorf("expected welcome, got %q", f.Type)
	}
	c.welcome = f
	if f.Limits != nil && f.Limits.Frame > 0 {
		c.r = protocol.NewReader(nc, f.Limits.Frame)
	}
	if f.Limits != nil {
		c.lim = pacer(f.Limits.RatePerSec, f.Limits.RateBurst)
	}
	if c.lim != nil {
		c.lim.Allow() // the hello
	}
	nc.SetDeadline(time.Time{})
	go c.writeLoop()
	return c, nil
}

// pacer returns the token bucket the client keeps to a server's rate and
// burst, or nil for a server that announces no rate. Every frame the
// server counts (pings included, pongs not) goes through it. The server
// takes a token for a frame when it reads it, never before the client
// took one for sending it, so a bucket of the same rate and size would be
// enough as long as the two clocks agree; a fifth of the burst and a
// fiftieth of the rate are left over for clocks that do not, and for
// frames the server counts that the client cannot know of.
func pacer(perSec, burst int) *rate.Limiter {
	if perSec <= 0 {
		return nil
	}
	b := burst - max(1, burst/5)
	if b < 1 {
		b = 1
	}
	return rate.NewLimiter(rate.Limit(float64(perSec)*0.98), b)
}

// send queues a frame for the writer, after every queued frame with a
// lower request id.
func (c *conn) send(f *protocol.Frame) { c.enqueue(&outgoing{f: f}) }

// sendWait queues a frame and waits until it is written, the connection
// is closed, or the timeout passes. It reports whether it was written.
func (c *conn) sendWait(f *protocol.Frame, timeout time.Duration) bool {
	o := &outgoing{f: f, written: make(chan struct{})}
	c.enqueue(o)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-o.written:
		return true
	case <-c.dead:
	case <-t.C:
	}
	return false
}

func (c *conn) enqueue(o *outgoing) {
	c.mu.Lock()
	i := sort.Search(len(c.queue), func(i int) bool { return c.queue[i].f.ID > o.f.ID })
	c.queue = append(c.queue, nil)
	copy(c.queue[i+1:], c.queue[i:])
	c.queue[i] = o
	c.mu.Unlock()
	c.poke()
}

// unqueue takes a request that nobody waits for any more out of the
// queue, if it has not been written yet.
func (c *conn) unqueue(id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, o := range c.queue {
		if o.f.ID == id {
			c.queue = append(c.queue[:i], c.queue[i+1:]...)
			return
		}
	}
}

// pong asks the writer to answer the server's ping.
func (c *conn) pong() {
	c.mu.Lock()
	c.pongDue = true
	c.mu.Unlock()
	c.poke()
}

// hold stops counted frames for d after the server refused one for going
// over its rate: its bucket is empty, whatever ours says, so ours is
// emptied too and both fill again from now.
func (c *conn) hold(d time.Duration) {
	now := time.Now()
	c.mu.Lock()
	if until := now.Add(d); until.After(c.resume) {
		c.resume = until
	}
	c.mu.Unlock()
	if c.lim != nil {
		if n := int(c.lim.TokensAt(now)); n > 0 {
			c.lim.AllowN(now, n)
		}
	}
	c.poke()
}

func (c *conn) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// writeLoop writes queued frames in order, each when the bucket has a
// token for it, until the connection is closed.
func (c *conn) writeLoop() {
	defer close(c.wdone)
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		var next *outgoing
		pong := false
		var wait time.Duration
		c.mu.Lock()
		switch {
		case c.pongDue:
			c.pongDue, pong = false, true
		case len(c.queue) > 0:
			now := time.Now()
			if wait = c.resume.Sub(now); wait <= 0 {
				wait = 0
				if c.lim != nil && !c.lim.AllowN(now, 1) {
					// The time until the bucket holds a whole token.
					wait = time.Duration((1 - c.lim.TokensAt(now)) / float64(c.lim.Limit()) * float64(time.Second))
					wait = max(wait, time.Millisecond)
				}
			}
			if wait == 0 {
				next = c.queue[0]
				c.queue = c.queue[1:]
			}
		default:
			wait = -1 // nothing to write
		}
		c.mu.Unlock()

		switch {
		case pong:
			if c.write(&protocol.Frame{Type: protocol.TypePong}) != nil {
				c.close()
			}
			continue
		case next != nil:
			if c.write(next.f) != nil {
				c.close()
				continue
			}
			if next.written != nil {
				close(next.written)
			}
			continue
		}
		var fire <-chan time.Time
		if wait > 0 {
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			fire = timer.C
		}
		select {
		case <-fire:
		case <-c.wake:
			if timer != nil {
				timer.Stop()
			}
		case <-c.dead:
			return
		}
	}
}

// write puts one frame on the wire. Only the writer goroutine calls it
// once the connection is set up.
func (c *conn) write(f *protocol.Frame) error {
	c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := c.nc.Write(protocol.Encode(f))
	return err
}

func (c *conn) read() (*protocol.Frame, error) {
	line, err := c.r.ReadFrame()
	if err != nil {
		return nil, err
	}
	return protocol.Decode(line)
}

// login sends a login and reads until its reply. The login's catch-up
// comes before the reply; it is returned with it, in order. A login the
// server refuses for now (over the rate, or too many logins at once) is
// sent again on the same connection after the wait the server asks for.
func (c *conn) login(ctx context.Context, f *protocol.Frame) (*protocol.Frame, []*protocol.Frame, error) {
	stop := context.AfterFunc(ctx, func() { c.nc.SetReadDeadline(time.Now()) })
	defer stop()
	c.nc.SetReadDeadline(time.Now().Add(60 * time.Second))
	defer c.nc.SetReadDeadline(time.Time{})
	c.send(f)
	var early []*protocol.Frame
	refused := 0
	for {
		r, err := c.read()
		if err != nil {
			if pe, ok := err.(*protocol.Error); ok && pe.Code == protocol.CodeBadFrame {
				continue
			}
			if ctx.Err() != nil {
				return nil, nil, fmt.Errorf("waiting for login reply: %w", ctx.Err())
			}
			return nil, nil, fmt.Errorf("waiting for login reply: %w", err)
		}
		switch {
		case r.Type == protocol.TypeError && (r.Re == f.ID || r.Re == 0) && retryable(r.Code):
			refused++
			d := retryWait(r.RetryMS, refused)
			if r.Code == protocol.CodeRateLimited {
				c.hold(d)
			} else {
				// Not the rate: the wait is the login's own.
				t := time.NewTimer(d)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return nil, nil, fmt.Errorf("waiting to log in again: %w", ctx.Err())
				}
			}
			early = nil // the retry's catch-up is sent in full again
			c.send(f)
		case r.Type == protocol.TypeOK && r.Re == f.ID:
			return r, early, nil
		case r.Type == protocol.TypeError && r.Re == f.ID:
			return nil, nil, &protocol.Error{Code: r.Code, Message: r.Message}
		case r.Type == protocol.TypeBye:
			return nil, nil, &protocol.Error{Code: r.Code, Message: r.Message}
		case r.Type == protocol.TypePing:
			c.pong()
		default:
			early = append(early, r)
		}
	}
}

// retryable reports whether a login refused with code may simply be sent
// again after a wait.
func retryable(code string) bool {
	return code == protocol.CodeRateLimited || code == protocol.CodeBusy
}

// close closes the connection and stops its writer.
func (c *conn) close() {
	c.once.Do(func() {
		close(c.dead)
		c.nc.Close()
	})
}

// IsCode reports whether err is a protocol error with code.
func IsCode(err error, code string) bool {
	var pe *protocol.Error
	return errors.As(err, &pe) && pe.Code == code
}

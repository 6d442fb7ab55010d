package netconn

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/time/rate"

	"github.com/parley-chat/parley/chatserver/hub"
	"github.com/parley-chat/parley/shared/protocol"
)

var errTooManyFiles = syscall.EMFILE

// conn is one client connection. Its reader goroutine (serve) reads and
// dispatches frames; its writer goroutine (writeLoop) is the only one that
// writes to the socket. Anyone may queue frames with Send; nobody waits for
// the socket but the writer.
type conn struct {
	srv *Server
	nc  net.Conn
	log *slog.Logger

	mu     sync.Mutex // guards the fields below; taken after the hub's work, never before
	queue  net.Buffers
	queued int
	closed bool   // no more frames are accepted
	bye    []byte // the last frame to write, then close
	drop   bool   // discard what is queued: the client is not reading
	reason string // why the connection is closing

	wake        chan struct{} // capacity 1: the writer has something to do
	writerDone  chan struct{}
	readerAlive bool
}

func newConn(s *Server, nc net.Conn, id uint64) *conn {
	return &conn{
		srv:        s,
		nc:         nc,
		log:        s.log.With("conn", id, "remote", nc.RemoteAddr().String()),
		wake:       make(chan struct{}, 1),
		writerDone: make(chan struct{}),
	}
}

// Queue adds one encoded frame to the outbound queue. It never blocks and
// does not wake the writer; Flush does. If the queue would grow past the
// limit, the client is not keeping up: it is disconnected with
// slow_consumer, and nobody else waits for it.
func (c *conn) Queue(b []byte) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	if c.queued+len(b) > c.srv.cfg.MaxQueue {
		c.closeLocked(protocol.CodeSlowConsumer, "you were not reading fast enough", true)
		c.mu.Unlock()
		c.signal()
		return false
	}
	c.queue = append(c.queue, b)
	c.queued += len(b)
	c.mu.Unlock()
	return true
}

// Flush wakes the writer to write what is queued.
func (c *conn) Flush() { c.signal() }

// send queues a frame and wakes the writer: for the connection's own
// replies, outside the hub's batches.
func (c *conn) send(b []byte) {
	if c.Queue(b) {
		c.signal()
	}
}

// Close writes what is queued, then a bye frame with the reason, then
// closes the connection. It does not wait.
func (c *conn) Close(code, message string) {
	c.mu.Lock()
	c.closeLocked(code, message, false)
	c.mu.Unlock()
	c.signal()
}

func (c *conn) closeLocked(code, message string, drop bool) {
	if c.closed {
		return
	}
	c.closed = true
	c.reason = code
	c.drop = drop
	c.srv.countClose(code)
	if code != "" {
		c.bye = protocol.Encode(&protocol.Frame{Type: protocol.TypeBye, Code: code, Message: message})
	}
	if drop {
		c.queue, c.queued = nil, 0
	}
}

func (c *conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *conn) closeReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

// writeLoop writes queued frames in batches (one writev each) until the
// connection closes.
func (c *conn) writeLoop() {
	defer close(c.writerDone)
	defer c.nc.Close() // also ends the reader
	wt := c.srv.cfg.WriteTimeout
	// Two queues take turns: Queue appends to one while this writes the
	// other, so steady traffic allocates nothing. They are swapped only
	// when there is something to write, so they never share an array.
	var spare net.Buffers
	var deadlineSet time.Time
	for range c.wake {
		c.mu.Lock()
		var bufs net.Buffers
		if len(c.queue) > 0 {
			bufs = c.queue
			c.queue, c.queued = spare[:0], 0
		}
		closed, bye := c.closed, c.bye
		c.mu.Unlock()

		if len(bufs) > 0 {
			// The deadline is pushed back at most a few times per period,
			// not before every write: a write may take between 7/8 and
			// all of WriteTimeout before the connection is dropped.
			if now := time.Now(); now.Sub(deadlineSet) > wt/8 {
				c.nc.SetWriteDeadline(now.Add(wt))
				deadlineSet = now
			}
			all := bufs
			_, err := bufs.WriteTo(c.nc) // consumes bufs
			clear(all)                   // drop the frames for the collector
			spare = all[:0]
			if err != nil {
				c.mu.Lock()
				if errors.Is(err, os.ErrDeadlineExceeded) {
					c.closeLocked(protocol.CodeSlowConsumer, "", true)
				} else {
					c.closeLocked("write_failed", "", true)
				}
				c.mu.Unlock()
				c.log.Debug("write failed", "err", err)
				return
			}
		}
		if closed {
			if bye != nil {
				c.nc.SetWriteDeadline(time.Now().Add(time.Second))
				c.nc.Write(bye)
			}
			if tcp, ok := c.nc.(*net.TCPConn); ok {
				tcp.CloseWrite()
			}
			return
		}
	}
}

// serve runs the connection: handshake, login, then requests until the
// client goes away or the connection is closed.
func (c *conn) serve() {
	go c.writeLoop()
	var sess *hub.Session
	defer func() {
		c.Close("", "") // the client went away: nothing more to say
		<-c.writerDone
		if sess != nil {
			c.srv.cfg.Hub.Leave(sess)
		}
		reason := c.closeReason()
		if reason == "" {
			reason = "client_closed"
			c.srv.countClose(reason)
		}
		c.log.Info("connection closed", "reason", reason)
		c.srv.remove(c)
	}()

	cfg := &c.srv.cfg
	r := protocol.NewReader(c.nc, cfg.Limits.Frame)
	limiter := rate.NewLimiter(rate.Limit(cfg.Limits.RatePerSec), cfg.Limits.RateBurst)
	// Refusals for going over the rate have their own, smaller budget;
	// a client that exhausts it is flooding and is disconnected.
	refusals := rate.NewLimiter(1, 10)

	handshakeEnd := time.Now().Add(cfg.HandshakeTimeout)
	c.nc.SetReadDeadline(handshakeEnd)
	helloDone := false
	pinged := false
	var deadlineSet time.Time

	for {
		line, err := r.ReadFrame()
		if err != nil {
			c.readError(err, sess != nil, &pinged)
			if sess != nil && pinged && c.isTimeout(err) && !c.isClosed() {
				// We pinged; give the client PingTimeout to answer.
				c.nc.SetReadDeadline(time.Now().Add(cfg.PingTimeout))
				deadlineSet = time.Time{}
				continue
			}
			return
		}
		if sess != nil {
			pinged = false
			// Push the idle deadline back, at most a few times per interval.
			if now := time.Now(); now.Sub(deadlineSet) > cfg.PingInterval/8 {
				c.nc.SetReadDeadline(now.Add(cfg.PingInterval))
				deadlineSet = now
			}
		}
		// Every frame counts against the rate, garbage included.
		if !limiter.Allow() {
			var id uint64
			if f, err := protocol.Decode(line); err == nil {
				if f.Type == protocol.TypePong {
					continue
				}
				id = f.ID
			}
			c.send(protocol.Encode(protocol.Errorf(protocol.CodeRateLimited,
				"slow down: at most %d requests a second", cfg.Limits.RatePerSec).Frame(id)))
			if !refusals.Allow() {
				c.Close(protocol.CodeFlood, "too many requests")
				return
			}
			continue
		}
		f, err := protocol.Decode(line)
		if err != nil {
			c.send(protocol.Encode(err.(*protocol.Error).Frame(0)))
			continue
		}
		if f.Type == protocol.TypePong {
			continue
		}
		switch {
		case !helloDone:
			if f.Type != protocol.TypeHello {
				c.send(protocol.Encode(protocol.Errorf(protocol.CodeBadRequest, "say hello first").Frame(f.ID)))
				continue
			}
			if f.Version != protocol.Version {
				c.send(protocol.Encode(protocol.Errorf(protocol.CodeBadVersion,
					"this server speaks protocol version %d, not %d", protocol.Version, f.Version).Frame(f.ID)))
				c.Close(protocol.CodeBadVersion, "unsupported protocol version")
				return
			}
			helloDone = true
			limits := cfg.Limits
			c.send(protocol.Encode(&protocol.Frame{Type: protocol.TypeWelcome, Server: cfg.Name,
				Version: protocol.Version, Limits: &limits, FilesURL: c.filesURL()}))
		case f.ID == 0 && protocol.IsRequest(f.Type):
			c.send(protocol.Encode(protocol.Errorf(protocol.CodeBadRequest, "a %s request needs a non-zero id", f.Type).Frame(0)))
		case sess == nil:
			switch f.Type {
			case protocol.TypeLogin:
				s, err := cfg.Hub.Login(context.Background(), c, f)
				if err != nil {
					perr, ok := err.(*protocol.Error)
					if !ok {
						perr = protocol.Errorf(protocol.CodeInternal, "login failed")
					}
					c.send(protocol.Encode(perr.Frame(f.ID)))
					continue
				}
				sess = s
				c.log = c.log.With("user", s.Name)
				c.nc.SetReadDeadline(time.Now().Add(cfg.PingInterval))
				deadlineSet = time.Now()
			case protocol.TypePing:
				c.send(protocol.Encode(&protocol.Frame{Type: protocol.TypeOK, Re: f.ID}))
			case protocol.TypeQuit:
				c.send(protocol.Encode(&protocol.Frame{Type: protocol.TypeOK, Re: f.ID}))
				c.Close(protocol.CodeQuit, "goodbye")
				return
			case protocol.TypeHello:
				c.send(protocol.Encode(protocol.Errorf(protocol.CodeBadRequest, "hello was already said").Frame(f.ID)))
			default:
				if protocol.IsRequest(f.Type) {
					c.send(protocol.Encode(protocol.Errorf(protocol.CodeNotLoggedIn, "log in first").Frame(f.ID)))
				} else {
					c.send(protocol.Encode(protocol.Errorf(protocol.CodeUnknownType, "unknown frame type %q", f.Type).Frame(f.ID)))
				}
			}
		default:
			cfg.Hub.Handle(sess, f)
		}
	}
}

func (c *conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func (c *conn) isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// readError decides what a failed read means. On the first idle timeout
// of a logged-in session it sends a ping and sets *pinged.
func (c *conn) readError(err error, loggedIn bool, pinged *bool) {
	switch {
	case errors.Is(err, protocol.ErrFrameTooLarge):
		c.Close(protocol.CodeFrameTooLarge, "a frame was larger than the limit")
	case c.isTimeout(err) && !loggedIn:
		c.Close(protocol.CodeHandshakeTimeout, "no login in time")
	case c.isTimeout(err) && !*pinged:
		*pinged = true
		c.send(protocol.Encode(&protocol.Frame{Type: protocol.TypePing}))
	case c.isTimeout(err):
		c.Close(protocol.CodePingTimeout, "no answer to ping")
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	default:
		c.log.Debug("read failed", "err", err)
	}
}

// filesURL is the file server's URL for this client, with "{host}"
// replaced by the address the client reached us on.
func (c *conn) filesURL() string {
	u := c.srv.cfg.FilesURL
	if !strings.Contains(u, "{host}") {
		return u
	}
	host, _, err := net.SplitHostPort(c.nc.LocalAddr().String())
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		host = "[" + host + "]"
	}
	return strings.ReplaceAll(u, "{host}", host)
}

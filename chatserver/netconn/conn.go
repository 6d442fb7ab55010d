package netconn

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/time/rate"

	"github.com/parley-chat/parley/chatserver/event"
	"github.com/parley-chat/parley/chatserver/hub"
	"github.com/parley-chat/parley/shared/protocol"
)

var errTooManyFiles = syscall.EMFILE

// conn is one client connection. Its reader goroutine (serve) reads and
// dispatches frames. Anyone may queue frames; nobody waits for the socket
// but a writer goroutine (writeLoop). Frames are written by the
// connection's flusher while the socket takes them at once, and by a
// writer goroutine when it does not, for TLS, and to close; one writes at
// a time, and an idle connection has no writer.
type conn struct {
	srv *Server
	nc  net.Conn
	id  uint64
	raw syscall.RawConn // nil for TLS (its own buffering makes waiting without a buffer moot), and off Unix

	flusher *flusher // writes for this connection when the socket takes it all; nil for TLS
	poller  *poller  // watches the socket while the connection is parked; nil for TLS or if there is none

	// The fields are in an order that keeps padding small: a connection's
	// state fits a 320-byte allocation, with nothing to spare.

	mu     sync.Mutex // guards the fields below; taken after the hub's work, never before
	q      frameQueue
	bye    []byte // the last frame to write, then close
	reason string // why the connection is closing
	user   string // for logs, once logged in
	// finished is closed when the socket is closed. It is made only when
	// something waits for it (see finishedC): an idle connection has none.
	finished  chan struct{}
	waits     int32 // times a flusher's write did not go whole and a writer goroutine took over
	writing   bool  // a flusher or a writer goroutine is writing
	closed    bool  // no more frames are accepted
	dropped   bool  // closed, and what was queued is not to be written
	fed       bool  // frames were queued since ringTimed was set
	ringTimed bool  // the poller will look at the queue's ring soon
	ended     bool  // the socket is closed

	// The reader's state. It lives here, not in a goroutine's variables,
	// so that a parked connection, which has no reader goroutine, can be
	// resumed by a new one. One reader runs at a time.
	helloDone bool
	pinged    bool // an idle ping is unanswered

	idle atomic.Bool // parked, for the writers' side

	r        *protocol.Reader // nil while parked
	sess     *hub.Session
	limiter  *rate.Limiter // nil while parked with a full bucket
	refusals *rate.Limiter
	readSet  time.Time // when the read deadline was last pushed back

	parkMu       sync.Mutex // guards the fields below
	parked       bool       // waiting in the poller, with no reader goroutine
	polled       bool       // the socket is registered with the poller
	readDeadline time.Time

	// The poller's place for this connection in its deadline heap,
	// guarded by the heap's lock.
	wakeAt  time.Duration
	wakeIdx int
}

func newConn(s *Server, nc net.Conn, id uint64, f *flusher, p *poller) *conn {
	c := &conn{srv: s, nc: nc, id: id}
	if sc, ok := nc.(syscall.Conn); ok && rawSockets {
		c.raw, _ = sc.SyscallConn()
	}
	if c.raw != nil {
		c.flusher, c.poller = f, p
	}
	return c
}

// logAttrs identify the connection in logs.
func (c *conn) logAttrs(args ...any) []any {
	c.mu.Lock()
	user := c.user
	c.mu.Unlock()
	a := []any{"conn", c.id, "remote", c.nc.RemoteAddr().String()}
	if user != "" {
		a = append(a, "user", user)
	}
	return append(a, args...)
}

// Queue adds an event to the outbound queue, encoded as NDJSON: the
// first connection to queue an event encodes it, and the others queue
// the same bytes. It never blocks and does not start the writer; Flush
// does.
func (c *conn) Queue(ev *event.Event) bool { return c.queue(ev.JSON()) }

// queue adds encoded frames to the outbound queue. If the queue would
// grow past the limit, the client is not keeping up: it is disconnected
// with slow_consumer, and nobody else waits for it.
func (c *conn) queue(b []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	if c.q.bytes+len(b) > c.srv.cfg.MaxQueue {
		c.closeLocked(protocol.CodeSlowConsumer, "you were not reading fast enough", true)
		return false
	}
	c.q.push(b)
	c.fed = true
	return true
}

// Flush starts writing what is queued, unless a write is under way: that
// one goes on until the queue is empty. The connection's flusher writes
// it if the socket takes it at once; TLS connections have a writer
// goroutine.
func (c *conn) Flush() {
	c.mu.Lock()
	if c.writing || c.q.n == 0 {
		c.mu.Unlock()
		return
	}
	c.writing = true
	if c.flusher == nil {
		go c.writeLoop()
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.flusher.add(c)
}

// send queues a frame and flushes it: for the connection's own replies,
// outside the hub's batches.
func (c *conn) send(b []byte) {
	if c.queue(b) {
		c.Flush()
	}
}

// Close writes what is queued, then a bye frame with the reason, then
// closes the connection. It does not wait.
func (c *conn) Close(code, message string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked(code, message, false)
}

// closeLocked marks the connection closing and starts the writer, which
// writes what is left and closes the socket. drop discards the queue: the
// client is not reading it.
func (c *conn) closeLocked(code, message string, drop bool) {
	if c.closed {
		return
	}
	c.closed = true
	c.reason = code
	c.srv.countClose(code)
	if code != "" {
		c.bye = protocol.Encode(&protocol.Frame{Type: protocol.TypeBye, Code: code, Message: message})
	}
	if drop {
		c.dropped = true
		if !c.writing {
			c.q = frameQueue{}
		}
		// Otherwise the writer empties the queue when its write is done,
		// keeping the rest of a frame it cut (wroteLocked).
	}
	c.startWriterLocked()
}

// startWriterLocked starts a writer goroutine to close the connection,
// unless someone is writing already: they start it when they are done.
func (c *conn) startWriterLocked() {
	if !c.writing {
		c.writing = true
		go c.writeLoop()
	}
}

func (c *conn) closeReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

// maxWritev is the most frames one write of a writer goroutine carries:
// the runtime keeps an iovec array per socket as large as the largest
// write, for the socket's lifetime. Flushers have their own array and
// write up to maxFlushv.
const (
	maxWritev = 64
	maxFlushv = 256
)

// wroteLocked records that n bytes of the run bufs, taken from the front
// of the queue, were written, and returns how many frames went whole. The
// rest of a frame the write cut goes out before anything else, even the
// bye of a dropped connection: the client never reads half a frame glued
// to another.
func (c *conn) wroteLocked(bufs [][]byte, n int) (whole int) {
	off := n
	for whole < len(bufs) && off >= len(bufs[whole]) {
		off -= len(bufs[whole])
		whole++
	}
	c.doneLocked(whole, off)
	return whole
}

// doneLocked drops what a write took off the front of the queue: k whole
// frames and off bytes of the next. A dropped connection's queue is
// emptied then, but for the rest of a frame the write cut.
func (c *conn) doneLocked(k, off int) {
	c.q.done(k, off)
	switch {
	case c.dropped:
		c.q.keepCut()
	case c.q.n == 0 && !c.idle.Load():
		c.q.trim()
	case c.q.n == 0 && len(c.q.ring) < busyRing:
		// A parked connection that was sent a few frames, such as
		// others' presence, holds no ring until the next ones.
		c.q = frameQueue{}
	case c.q.n == 0 && !c.ringTimed:
		// A ring this large was grown by a parked connection fed faster
		// than it is written, such as a member of a busy room who only
		// reads. Growing it again after every write would cost more
		// than keeping it, so it goes only once frames have stopped
		// coming for a while (see deadlinePassed).
		c.lingerRing()
	}
}

// lingerRing has the poller look at the queue's ring once Config.ringLinger
// has passed, and notes whether frames came meanwhile. c.mu is held.
func (c *conn) lingerRing() {
	c.fed = false
	c.ringTimed = c.poller.soon(c, time.Now().Add(c.srv.cfg.ringLinger))
}

// busyRing is the smallest ring a parked connection keeps when its queue
// empties, for Config.ringLinger.
const busyRing = 128

// writeFailed closes the connection after a failed write.
func (c *conn) writeFailed(err error) {
	c.mu.Lock()
	if errors.Is(err, os.ErrDeadlineExceeded) {
		c.closeLocked(protocol.CodeSlowConsumer, "", true)
	} else {
		c.closeLocked("write_failed", "", true)
	}
	c.mu.Unlock()
	c.srv.log.Debug("write failed", c.logAttrs("err", err)...)
	c.finish()
}

// writeLoop writes queued frames in batches, one writev each, until the
// queue is empty; then it exits, or, if the connection is closing, writes
// the bye and closes the socket. It waits for the socket, under the write
// deadline: it runs for TLS connections, for sockets that did not take a
// flusher's write whole, and to close.
func (c *conn) writeLoop() {
	wt := c.srv.cfg.WriteTimeout
	var (
		wbufs       net.Buffers // the frames of a write
		deadlineSet time.Time   // when the write deadline was last pushed back
	)
	for {
		c.mu.Lock()
		// The frames are copied: writing consumes the slice it is given.
		wbufs = append(wbufs[:0], c.q.front(maxWritev)...)
		closed, bye := c.closed, c.bye
		if len(wbufs) == 0 && !closed {
			if !deadlineSet.IsZero() {
				// Flushers write without a deadline, and would find this
				// one passed.
				c.nc.SetWriteDeadline(time.Time{})
			}
			c.writing = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()

		if k := len(wbufs); k > 0 {
			// The deadline is pushed back at most a few times per period,
			// not before every write: a write may take between 7/8 and
			// all of WriteTimeout before the connection is dropped.
			if now := time.Now(); now.Sub(deadlineSet) > wt/8 {
				c.nc.SetWriteDeadline(now.Add(wt))
				deadlineSet = now
			}
			bufs := wbufs
			_, err := bufs.WriteTo(c.nc)
			clear(wbufs)
			if err != nil {
				c.writeFailed(err)
				return
			}
			c.mu.Lock()
			c.doneLocked(k, 0)
			c.mu.Unlock()
			continue
		}
		// Closing, and everything queued is written.
		if bye != nil {
			c.nc.SetWriteDeadline(time.Now().Add(time.Second))
			c.nc.Write(bye)
		}
		if tcp, ok := c.nc.(*net.TCPConn); ok {
			tcp.CloseWrite()
		}
		c.finish()
		return
	}
}

// finish closes the socket, which also ends the reader.
func (c *conn) finish() {
	c.nc.Close()
	c.unpark(nil) // a parked connection's reader is needed to clean up
	c.mu.Lock()
	c.ended = true
	if c.finished != nil {
		close(c.finished)
	}
	c.mu.Unlock()
}

// finishedC returns a channel that is closed when the socket is closed.
func (c *conn) finishedC() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finished == nil {
		c.finished = make(chan struct{})
		if c.ended {
			close(c.finished)
		}
	}
	return c.finished
}

// serve runs the connection: handshake, login, then requests until the
// client goes away or the connection is closed.
func (c *conn) serve() {
	cfg := &c.srv.cfg
	c.r = protocol.NewReader(c.nc, cfg.Limits.Frame)
	c.r.Use(c.srv.readers.Get().(*bufio.Reader))
	c.limiter = c.newLimiter()
	c.setReadDeadline(time.Now().Add(cfg.HandshakeTimeout))
	c.run(nil, false)
}

// run reads and handles frames until the connection ends, when it cleans
// up, or parks, when it returns and a later goroutine resumes it. A
// resumed run starts with what ended the wait: nil when the socket is
// readable, os.ErrDeadlineExceeded when the read deadline passed.
func (c *conn) run(waitErr error, resumed bool) {
	if c.loop(waitErr, resumed) {
		return
	}
	c.Close("", "") // the client went away: nothing more to say
	<-c.finishedC()
	if c.sess != nil {
		c.srv.cfg.Hub.Leave(c.sess)
	}
	reason := c.closeReason()
	if reason == "" {
		reason = "client_closed"
		c.srv.countClose(reason)
	}
	c.srv.log.Info("connection closed", c.logAttrs("reason", reason)...)
	c.releaseBuffer()
	if c.poller != nil {
		c.poller.noWake(c)
	}
	c.srv.remove(c)
}

// loop is run's reading loop. It reports whether the connection parked.
func (c *conn) loop(waitErr error, resumed bool) (parked bool) {
	cfg := &c.srv.cfg
	if c.r == nil {
		c.r = protocol.NewReader(c.nc, cfg.Limits.Frame)
	}
	if c.limiter == nil {
		c.limiter = c.newLimiter()
	}
	r := c.r
	for {
		// A logged-in connection with nothing unread gives its read buffer
		// back while it waits, and parks if it can, so that an idle
		// connection costs little.
		if resumed || c.sess != nil && c.raw != nil && r.Idle() {
			err := waitErr
			if !resumed {
				c.releaseBuffer()
				if c.parkIdle() {
					return true
				}
				if c.poller == nil {
					err = c.waitReadable()
				}
			}
			resumed, waitErr = false, nil
			r.Use(c.srv.readers.Get().(*bufio.Reader))
			if err != nil {
				if c.readError(err, true) {
					continue
				}
				return false
			}
		}
		line, err := r.ReadFrame()
		if err != nil {
			if c.sess != nil && errors.Is(err, io.EOF) {
				// The client has stopped sending but may still read:
				// let its last requests be answered before closing.
				select {
				case <-cfg.Hub.Finish(c.sess):
				case <-c.finishedC():
				}
			}
			if c.readError(err, c.sess != nil) {
				continue
			}
			return false
		}
		if c.sess != nil {
			c.pinged = false
			// Push the idle deadline back, at most a few times per interval.
			if now := time.Now(); now.Sub(c.readSet) > cfg.PingInterval/8 {
				c.setReadDeadline(now.Add(cfg.PingInterval))
				c.readSet = now
			}
		}
		if !c.handle(line) {
			return false
		}
	}
}

// handle acts on one frame. It reports false when the connection is to
// end.
func (c *conn) handle(line []byte) bool {
	cfg := &c.srv.cfg
	// Every frame counts against the rate, garbage included.
	if !c.limiter.Allow() {
		var id uint64
		if f, err := protocol.Decode(line); err == nil {
			if f.Type == protocol.TypePong {
				return true
			}
			id = f.ID
		}
		refusal := protocol.Errorf(protocol.CodeRateLimited,
			"slow down: at most %d requests a second", cfg.Limits.RatePerSec).Frame(id)
		refusal.RetryMS = retryAfter(c.limiter).Milliseconds()
		c.send(protocol.Encode(refusal))
		// Refusals for going over the rate have their own, smaller
		// budget; a client that exhausts it is flooding and is
		// disconnected. Most clients never need one.
		if c.refusals == nil {
			c.refusals = rate.NewLimiter(1, 10)
		}
		if !c.refusals.Allow() {
			c.Close(protocol.CodeFlood, "too many requests")
			return false
		}
		return true
	}
	f, err := protocol.Decode(line)
	if err != nil {
		var id uint64
		if f != nil && protocol.IsRequest(f.Type) {
			id = f.ID // the refusal answers the request
		}
		c.send(protocol.Encode(err.(*protocol.Error).Frame(id)))
		return true
	}
	if f.Type == protocol.TypePong {
		return true
	}
	switch {
	case !c.helloDone:
		if f.Type != protocol.TypeHello {
			c.send(protocol.Encode(protocol.Errorf(protocol.CodeBadRequest, "say hello first").Frame(f.ID)))
			return true
		}
		if f.Version != protocol.Version {
			c.send(protocol.Encode(protocol.Errorf(protocol.CodeBadVersion,
				"this server speaks protocol version %d, not %d", protocol.Version, f.Version).Frame(f.ID)))
			c.Close(protocol.CodeBadVersion, "unsupported protocol version")
			return false
		}
		c.helloDone = true
		limits := cfg.Limits
		c.send(protocol.Encode(&protocol.Frame{Type: protocol.TypeWelcome, Server: cfg.Name,
			Version: protocol.Version, Limits: &limits, FilesURL: c.filesURL()}))
	case f.ID == 0 && protocol.IsRequest(f.Type):
		c.send(protocol.Encode(protocol.Errorf(protocol.CodeBadRequest, "a %s request needs a non-zero id", f.Type).Frame(0)))
	case c.sess == nil:
		switch f.Type {
		case protocol.TypeLogin:
			s, err := cfg.Hub.Login(context.Background(), c, f, c.remoteIP())
			if err != nil {
				perr, ok := err.(*protocol.Error)
				if !ok {
					perr = protocol.Errorf(protocol.CodeInternal, "login failed")
				}
				c.send(protocol.Encode(perr.Frame(f.ID)))
				return true
			}
			c.sess = s
			c.mu.Lock()
			c.user = s.Name
			c.mu.Unlock()
			c.setReadDeadline(time.Now().Add(cfg.PingInterval))
			c.readSet = time.Now()
		case protocol.TypePing:
			c.send(protocol.Encode(&protocol.Frame{Type: protocol.TypeOK, Re: f.ID}))
		case protocol.TypeQuit:
			c.send(protocol.Encode(&protocol.Frame{Type: protocol.TypeOK, Re: f.ID}))
			c.Close(protocol.CodeQuit, "goodbye")
			return false
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
		cfg.Hub.Handle(c.sess, f)
	}
	return true
}

// parkIdle parks a reader with nothing unread, its buffer given back. A
// parked connection keeps no frame reader, which holds nothing between
// frames, and no rate limiter that is full; resuming makes new ones, so
// a client's budget of requests is the same either way. If the
// connection cannot park, it keeps both.
func (c *conn) parkIdle() bool {
	r, limiter := c.r, c.limiter
	c.r = nil
	if limiter.Tokens() >= float64(c.srv.cfg.Limits.RateBurst) {
		c.limiter = nil
	}
	if c.park() {
		return true
	}
	c.r, c.limiter = r, limiter
	return false
}

// retryAfter is how long until l has a token again, at least a
// millisecond, so that a refusal always says to wait.
func retryAfter(l *rate.Limiter) time.Duration {
	r := l.Reserve()
	d := r.Delay()
	r.Cancel()
	return max(d, time.Millisecond)
}

func (c *conn) newLimiter() *rate.Limiter {
	return rate.NewLimiter(rate.Limit(c.srv.cfg.Limits.RatePerSec), c.srv.cfg.Limits.RateBurst)
}

// releaseBuffer gives the read buffer back to the server's pool.
func (c *conn) releaseBuffer() {
	if c.r == nil {
		return
	}
	if br := c.r.Release(); br != nil {
		br.Reset(nil)
		c.srv.readers.Put(br)
	}
}

// setReadDeadline sets the socket's read deadline, and remembers it for
// waking the connection if it is parked then.
func (c *conn) setReadDeadline(t time.Time) {
	c.parkMu.Lock()
	c.readDeadline = t
	c.parkMu.Unlock()
	c.nc.SetReadDeadline(t)
}

// park hands the wait for the socket, and for the read deadline, to the
// server's poller, so that the reader goroutine can end. It reports false
// if the connection cannot park: there is no poller, or the socket is
// closed, which the caller finds out by reading.
func (c *conn) park() bool {
	p := c.poller
	if p == nil {
		return false
	}
	// If nothing is being written either, the queue's ring goes too.
	c.mu.Lock()
	if !c.writing && c.q.n == 0 {
		c.q = frameQueue{}
	}
	c.ringTimed = false
	c.mu.Unlock()
	c.parkMu.Lock()
	defer c.parkMu.Unlock()
	c.parked = true
	c.idle.Store(true)
	if !p.watch(c) {
		c.parked = false
		c.idle.Store(false)
		return false
	}
	p.wakeAt(c, c.readDeadline)
	return true
}

// deadlinePassed acts for a parked connection whose read deadline passed.
// The first time, it pings the client and waits PingTimeout more, still
// parked; if that passes too, it resumes the connection to close it.
func (c *conn) deadlinePassed() {
	c.parkMu.Lock()
	if c.parked && time.Now().Before(c.readDeadline) {
		// Woken early, to see whether the queue's ring can go.
		c.poller.wakeAt(c, c.readDeadline)
		c.parkMu.Unlock()
		c.mu.Lock()
		switch {
		case c.writing || c.q.n > 0:
			c.ringTimed = false // the queue looks again when it empties
		case c.fed:
			c.lingerRing() // frames came and went: look again later
		default:
			c.q = frameQueue{}
			c.ringTimed = false
		}
		c.mu.Unlock()
		return
	}
	if c.parked && !c.pinged && !time.Now().Before(c.readDeadline) {
		// The reader is not running: its state is ours while parked.
		c.pinged = true
		c.readSet = time.Time{}
		c.readDeadline = time.Now().Add(c.srv.cfg.PingTimeout)
		c.nc.SetReadDeadline(c.readDeadline)
		c.poller.wakeAt(c, c.readDeadline)
		c.parkMu.Unlock()
		c.send(pingFrame)
		return
	}
	c.parkMu.Unlock()
	c.unpark(os.ErrDeadlineExceeded)
}

// pingFrame is the encoded idle ping; it is never modified.
var pingFrame = protocol.Encode(&protocol.Frame{Type: protocol.TypePing})

// unpark resumes a parked connection in a new goroutine: its socket is
// readable (err nil), its read deadline passed, or it has been closed.
// It does nothing for a connection that is not parked.
func (c *conn) unpark(err error) {
	c.parkMu.Lock()
	defer c.parkMu.Unlock()
	if !c.parked {
		return
	}
	if err != nil && time.Now().Before(c.readDeadline) {
		return // resumed and parked again since the wakeup was due
	}
	c.parked = false
	c.idle.Store(false)
	c.poller.noWake(c)
	c.poller.forget(c)
	go c.run(err, true)
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
// of a logged-in session it sends a ping, gives the client PingTimeout to
// answer, and reports that reading goes on.
func (c *conn) readError(err error, loggedIn bool) (goOn bool) {
	switch {
	case errors.Is(err, protocol.ErrFrameTooLarge):
		c.Close(protocol.CodeFrameTooLarge, "a frame was larger than the limit")
	case c.isTimeout(err) && !loggedIn:
		c.Close(protocol.CodeHandshakeTimeout, "no login in time")
	case c.isTimeout(err) && !c.pinged:
		c.pinged = true
		c.send(pingFrame)
		c.setReadDeadline(time.Now().Add(c.srv.cfg.PingTimeout))
		c.readSet = time.Time{}
		return !c.isClosed()
	case c.isTimeout(err):
		c.Close(protocol.CodePingTimeout, "no answer to ping")
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	default:
		c.srv.log.Debug("read failed", c.logAttrs("err", err)...)
	}
	return false
}

// remoteIP is the client's address, which the hub's login limits go by.
func (c *conn) remoteIP() netip.Addr {
	if a, ok := c.nc.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	ap, _ := netip.ParseAddrPort(c.nc.RemoteAddr().String())
	return ap.Addr()
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

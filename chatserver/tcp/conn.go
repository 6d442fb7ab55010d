package tcp

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/parley-chat/parley/chatserver/event"
	"github.com/parley-chat/parley/chatserver/session"
	"github.com/parley-chat/parley/shared/protocol"
)

// conn is one client connection. A reader goroutine (serve, later run)
// reads frames and hands them to the session while the connection has
// something to read; an idle one parks with none. Anyone may queue
// frames; nobody waits for the socket but a writer goroutine
// (writeLoop). Frames are written by the connection's flusher while the
// socket takes them at once, and by a writer goroutine when it does not,
// for TLS, and to close; one writes at a time, and an idle connection
// has no writer.
type conn struct {
	srv *Server
	id  uint64
	// nc is the socket as Go holds it. A connection parked for a while
	// sheds it and keeps only a duplicate of the descriptor (see
	// shed_linux.go); nc is nil then. It changes, and is closed, only
	// under parkMu.
	nc     net.Conn
	remote netip.AddrPort // the client's address, kept for when nc is shed

	flusher *flusher // writes for this connection when the socket takes it all; nil for TLS
	poller  *poller  // watches the socket while the connection is parked; nil for TLS or if there is none

	// The fields are in an order that keeps padding small: a connection's
	// state fits a 256-byte allocation, with nothing to spare.

	mu     sync.Mutex // guards the fields below; taken after the hub's work, never before
	q      frameQueue
	reason string // why the connection is closing: the bye frame's code, if not empty
	byeMsg string // the bye frame's message
	user   string // for logs, once logged in
	// finished is closed when the socket is closed. It is made only when
	// something waits for it (see finishedC): an idle connection has none.
	finished chan struct{}
	waits    int32 // times a flusher's write did not go whole and a writer goroutine took over
	// fd is the socket's descriptor, Go's or the shed duplicate, which the
	// flusher and the poller use directly; -1 for TLS, off Unix, and once
	// closed. It is used, and closed, only under parkMu, so that nothing
	// reaches a later socket given the same number.
	fd        int32
	writing   bool // a flusher or a writer goroutine is writing
	closed    bool // no more frames are accepted
	dropped   bool // closed, and what was queued is not to be written
	fed       bool // frames were queued since ringTimed was set
	ringTimed bool // the poller will look at the queue's ring soon
	ended     bool // the socket is closed

	// The reader's state. It lives here, not in a goroutine's variables,
	// so that a parked connection, which has no reader goroutine, can be
	// resumed by a new one. One reader runs at a time; while the
	// connection is parked, the poller's goroutine may act for it.
	s *session.Session
	r *protocol.Reader // nil while parked

	idle atomic.Bool // parked, for the writers' side

	parkMu       sync.Mutex    // guards the fields below
	parked       bool          // waiting in the poller, with no reader goroutine
	polled       bool          // the socket is registered with the poller
	readDeadline time.Duration // since the server's epoch; 0 for none (see deadlineTime)

	// The poller's place for this connection in its deadline heap,
	// guarded by the heap's lock, and in its table of parked connections,
	// guarded by the poller's lock.
	wakeAt  time.Duration
	wakeIdx int32
	slot    uint32
}

func newConn(s *Server, nc net.Conn, id uint64, f *flusher, p *poller) *conn {
	c := &conn{srv: s, nc: nc, id: id, fd: -1, remote: addrPortOf(nc.RemoteAddr())}
	if sc, ok := nc.(syscall.Conn); ok && rawSockets && f != nil {
		if raw, err := sc.SyscallConn(); err == nil {
			raw.Control(func(fd uintptr) { c.fd = int32(fd) })
		}
	}
	if c.fd >= 0 {
		c.flusher, c.poller = f, p
	}
	return c
}

// logAttrs identify the connection in logs.
func (c *conn) logAttrs(args ...any) []any {
	c.mu.Lock()
	user := c.user
	c.mu.Unlock()
	a := []any{"conn", c.id, "remote", c.remote.String()}
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

// offerBacklog is the queue past which a connection is offered nothing
// more (see hub.Offerer): a reader that far behind is not keeping up.
const offerBacklog = 16 << 10

// Offer queues ev if the queue holds less than offerBacklog, and drops
// it otherwise; it never closes the connection (see hub.Offerer).
func (c *conn) Offer(ev *event.Event) bool {
	b := ev.JSON()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || int(c.q.bytes)+len(b) > min(offerBacklog, c.srv.cfg.MaxQueue) {
		return false
	}
	c.q.push(b)
	c.fed = true
	return true
}

// queue adds encoded frames to the outbound queue. If the queue would
// grow past the limit, the client is not keeping up: it is disconnected
// with slow_consumer, and nobody else waits for it.
func (c *conn) queue(b []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	if int(c.q.bytes)+len(b) > c.srv.cfg.MaxQueue {
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
		c.byeMsg = message
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
	// Waiting for the socket takes Go's socket, with its deadlines.
	if err := c.unshed(); err != nil {
		c.writeFailed(err)
		return
	}
	wt := c.srv.cfg.WriteTimeout
	var (
		wbufs       net.Buffers // the frames of a write
		deadlineSet time.Time   // when the write deadline was last pushed back
	)
	for {
		c.mu.Lock()
		// The frames are copied: writing consumes the slice it is given.
		wbufs = append(wbufs[:0], c.q.front(maxWritev)...)
		closed, code, msg := c.closed, c.reason, c.byeMsg
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
		if code != "" {
			c.nc.SetWriteDeadline(time.Now().Add(time.Second))
			c.nc.Write(protocol.Encode(&protocol.Frame{Type: protocol.TypeBye, Code: code, Message: msg}))
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
	c.closeSocket()
	c.unpark(nil) // a parked connection's reader is needed to clean up
	c.mu.Lock()
	if !c.ended {
		c.ended = true
		if c.finished != nil {
			close(c.finished)
		}
	}
	c.mu.Unlock()
}

// closeSocket closes the socket, Go's or the shed descriptor. Closing
// Go's socket returns once its descriptor is closed, after a read under
// way has been woken.
func (c *conn) closeSocket() {
	c.parkMu.Lock()
	defer c.parkMu.Unlock()
	if c.nc == nil {
		c.closeShed()
		return
	}
	c.nc.Close()
	c.fd = -1
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
	c.r = protocol.NewReader(c.nc, c.srv.maxFrame)
	c.r.Use(c.srv.readers.Get().(*bufio.Reader))
	c.s = c.srv.cfg.Sessions.Accept(c)
	c.run(nil, false)
}

// run reads and handles frames until the connection ends, when it cleans
// up, or parks, when it returns and a later goroutine resumes it. A
// resumed run starts with what ended the wait: nil when the socket is
// readable, os.ErrDeadlineExceeded when the read deadline passed.
func (c *conn) run(waitErr error, resumed bool) {
	if resumed {
		// Reading takes Go's socket back, if the connection shed it.
		if err := c.unshed(); err != nil {
			waitErr = err
		}
	}
	if c.loop(waitErr, resumed) {
		return
	}
	c.Close("", "") // the client went away: nothing more to say
	<-c.finishedC()
	c.s.End()
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
	if c.r == nil {
		c.r = protocol.NewReader(c.nc, c.srv.maxFrame)
	}
	r := c.r
	for {
		// A logged-in connection with nothing unread gives its read buffer
		// back while it waits, and parks if it can, so that an idle
		// connection costs little.
		if resumed || c.s.LoggedIn() && c.flusher != nil && r.Idle() {
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
				if c.readError(err) {
					continue
				}
				return false
			}
		}
		line, err := r.ReadFrame()
		if err != nil {
			if errors.Is(err, io.EOF) {
				// The client has stopped sending but may still read:
				// let its last requests be answered before closing.
				c.s.InputEnded(c.finishedC())
			}
			if c.readError(err) {
				continue
			}
			return false
		}
		if !c.s.Frame(line) {
			return false
		}
	}
}

// parkIdle parks a reader with nothing unread, its buffer given back. A
// parked connection keeps no frame reader, which holds nothing between
// frames, and its session sheds what it can (see session.Idle). If the
// connection cannot park, it keeps its reader.
func (c *conn) parkIdle() bool {
	r := c.r
	c.r = nil
	c.s.Idle()
	if c.park() {
		return true
	}
	c.r = r
	return false
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

// SetReadDeadline sets the socket's read deadline, and remembers it for
// waking the connection if it is parked then. The session calls it.
func (c *conn) SetReadDeadline(t time.Time) { c.setReadDeadline(t) }

func (c *conn) setReadDeadline(t time.Time) {
	c.parkMu.Lock()
	c.readDeadline = c.sinceEpoch(t)
	if c.nc != nil { // a shed socket gets it when it is taken back
		c.nc.SetReadDeadline(t)
	}
	c.parkMu.Unlock()
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
	p.wakeAt(c, c.deadlineTime(c.readDeadline))
	if c.nc != nil && c.srv.cfg.shedAfter > 0 {
		p.soon(c, time.Now().Add(c.srv.cfg.shedAfter)) // see deadlinePassed
	}
	return true
}

// sinceEpoch keeps a deadline in 8 bytes rather than a time.Time's 24,
// on the monotonic clock as the time was: the time since the server's
// epoch. The zero time, no deadline, is 0; a deadline at the epoch itself
// is kept a nanosecond later.
func (c *conn) sinceEpoch(t time.Time) time.Duration {
	if t.IsZero() {
		return 0
	}
	if d := t.Sub(c.srv.epoch); d != 0 {
		return d
	}
	return 1
}

// deadlineTime is the deadline sinceEpoch kept.
func (c *conn) deadlineTime(d time.Duration) time.Time {
	if d == 0 {
		return time.Time{}
	}
	return c.srv.epoch.Add(d)
}

// beforeDeadline reports whether now is before the read deadline d;
// never, if there is none (as time.Time's Before).
func (c *conn) beforeDeadline(d time.Duration) bool {
	return d != 0 && time.Since(c.srv.epoch) < d
}

// deadlinePassed acts for a parked connection whose read deadline passed.
// The first time, it pings the client and waits PingTimeout more, still
// parked; if that passes too, it resumes the connection to close it.
func (c *conn) deadlinePassed() {
	c.parkMu.Lock()
	if c.parked && c.beforeDeadline(c.readDeadline) {
		// Woken early, to see whether the queue's ring can go, and whether
		// the connection can shed Go's socket.
		c.poller.wakeAt(c, c.deadlineTime(c.readDeadline))
		unshed := c.nc != nil && c.srv.cfg.shedAfter > 0
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
		shed := false
		switch {
		case !unshed || c.closed:
		case c.writing:
			// Someone is writing: look again later.
			c.poller.soon(c, time.Now().Add(c.srv.cfg.shedAfter))
		default:
			// Shedding changes the socket under the writers' feet, so it
			// takes the writing turn.
			c.writing = true
			shed = true
		}
		c.mu.Unlock()
		if shed {
			c.shed()
			c.doneShedding()
		}
		return
	}
	if c.parked && !c.beforeDeadline(c.readDeadline) {
		// The reader is not running: the session is ours while parked.
		// It pings the client, and the connection waits on, parked, for
		// the answer; or it closes the connection, whose writer then
		// resumes it to clean up.
		if next, goOn := c.s.Timeout(); goOn {
			c.readDeadline = c.sinceEpoch(next)
			if c.nc != nil {
				c.nc.SetReadDeadline(next)
			}
			c.poller.wakeAt(c, next)
		}
		c.parkMu.Unlock()
		return
	}
	c.parkMu.Unlock()
	c.unpark(os.ErrDeadlineExceeded)
}

// doneShedding ends the writing turn that shedding took (see
// deadlinePassed): frames queued meanwhile, or a close, are the flusher's.
func (c *conn) doneShedding() {
	c.mu.Lock()
	if c.q.n > 0 || c.closed {
		c.mu.Unlock()
		c.flusher.add(c) // the turn is the flusher's now
		return
	}
	c.writing = false
	c.mu.Unlock()
}

// unpark resumes a parked connection in a new goroutine: its socket is
// readable (err nil), its read deadline passed, or it has been closed.
// It does nothing for a connection that is not parked.
func (c *conn) unpark(err error) {
	c.parkMu.Lock()
	defer c.parkMu.Unlock()
	if !c.parked {
		return
	}
	if err != nil && c.beforeDeadline(c.readDeadline) {
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

// readError decides what a failed read means; a read deadline that
// passed is the session's to judge (see session.Timeout). It reports
// whether reading goes on.
func (c *conn) readError(err error) (goOn bool) {
	switch {
	case errors.Is(err, protocol.ErrFrameTooLarge):
		c.s.TooLarge()
	case c.isTimeout(err):
		next, goOn := c.s.Timeout()
		if goOn {
			c.setReadDeadline(next)
		}
		return goOn && !c.isClosed()
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	default:
		c.srv.log.Debug("read failed", c.logAttrs("err", err)...)
	}
	return false
}

// RemoteAddr is the client's address, which the hub's login limits go
// by.
func (c *conn) RemoteAddr() netip.Addr { return c.remote.Addr().Unmap() }

// Host is the address the client reached us on.
func (c *conn) Host() string {
	c.parkMu.Lock()
	var a netip.Addr
	if c.nc != nil {
		a = addrOf(c.nc.LocalAddr())
	} else {
		a = c.shedLocalAddr()
	}
	c.parkMu.Unlock()
	if a.IsValid() {
		return a.String()
	}
	return ""
}

// SetUser names the logged-in user in the connection's logs.
func (c *conn) SetUser(name string) {
	c.mu.Lock()
	c.user = name
	c.mu.Unlock()
}

func addrOf(a net.Addr) netip.Addr { return addrPortOf(a).Addr().Unmap() }

func addrPortOf(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

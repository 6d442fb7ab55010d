// Package ws is the chat protocol's WebSocket transport: the same frames
// as over TCP, for browsers, in text messages of one frame or of several
// separated by newlines. Each connection has a reader goroutine, which
// hands what it reads to the connection's
// session (package session); a writer goroutine while something is
// queued, so that nobody waits for a slow client's socket; a bounded
// outbound queue whose overflow disconnects a slow consumer; a timer for
// the read deadline the session asks for; and a write deadline.
package ws

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/parley-chat/parley/chatserver/event"
	"github.com/parley-chat/parley/chatserver/session"
	"github.com/parley-chat/parley/shared/protocol"
)

// Config configures a Server. Sessions is required; zero values elsewhere
// mean the defaults.
type Config struct {
	Sessions *session.Server
	Logger   *slog.Logger
	// AllowOrigins are the hosts (patterns as in path.Match, such as
	// "chat.example.org" or "*.example.org") whose pages may connect,
	// besides the server's own: a browser sends the page's origin, and a
	// page elsewhere must not act for a user who is logged in here.
	AllowOrigins []string
	// AllowOrigin, if set, allows more hosts (host[:port], as in the
	// Origin header): a cluster's nodes, whose pages move to this node
	// when theirs goes away (see NodeOrigins).
	AllowOrigin  func(host string) bool
	WriteTimeout time.Duration // for one message to the client (default 10 s)
	MaxQueue     int           // bytes queued for one client before it counts as slow (default 8 MiB)
}

// Server serves WebSocket connections; it is an http.Handler for the
// path it is mounted at.
type Server struct {
	cfg      Config
	log      *slog.Logger
	maxFrame int

	reg session.Registry[*conn] // open connections, close reasons, shutdown
}

// New returns a Server.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = session.DefaultWriteTimeout
	}
	if cfg.MaxQueue == 0 {
		cfg.MaxQueue = session.DefaultMaxQueue
	}
	return &Server{cfg: cfg, log: cfg.Logger, maxFrame: cfg.Sessions.Limits().Frame}
}

// ServeHTTP upgrades the request to a WebSocket and serves the chat
// protocol over it, on a goroutine of its own: the HTTP server's, whose
// stack has grown with the request's handling, ends here.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, ok := s.reg.Open()
	if !ok {
		http.Error(w, "the server is shutting down", http.StatusServiceUnavailable)
		return
	}
	served := false
	defer func() {
		if !served {
			s.reg.Cancel()
		}
	}()

	opts := &websocket.AcceptOptions{OriginPatterns: s.cfg.AllowOrigins}
	if s.cfg.AllowOrigin != nil {
		if o, err := url.Parse(r.Header.Get("Origin")); err == nil && o.Host != "" && s.cfg.AllowOrigin(o.Host) {
			opts.InsecureSkipVerify = true // the origin is checked: it is allowed
		}
	}
	wc, err := websocket.Accept(w, r, opts)
	if err != nil {
		// Accept has answered: 403 for an origin not allowed, 400 or
		// 426 for a request that is no WebSocket handshake.
		s.log.Info("websocket refused", "remote", r.RemoteAddr, "origin", r.Header.Get("Origin"), "err", err)
		return
	}
	// A frame larger than the limit is refused by the session with a
	// reason; one far larger is cut off by the library.
	wc.SetReadLimit(int64(s.maxFrame) + 4096)
	c := &conn{srv: s, wc: wc, id: id, remote: remoteAddr(r), host: hostOf(r), ended: make(chan struct{})}
	if !s.reg.Add(c) {
		wc.Close(websocket.StatusGoingAway, "server is shutting down")
		return
	}
	served = true
	go func() {
		defer s.reg.Remove(c)
		c.serve()
	}()
}

// Shutdown tells every client server_shutdown and closes its
// connection after what is queued for it, then waits for the
// connections to end or ctx to expire, when it closes the rest.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.reg.Shutdown(ctx,
		func(c *conn) { c.Close(protocol.CodeShutdown, "server is shutting down; reconnect in a moment") },
		func(c *conn) { c.wc.CloseNow() })
}

// Stats counts open connections and why others closed.
type Stats struct {
	Open   int
	Closed map[string]int
}

// Stats returns the server's counts.
func (s *Server) Stats() Stats {
	open, closed := s.reg.Counts()
	return Stats{Open: open, Closed: closed}
}

func (s *Server) countClose(reason string) { s.reg.CountClose(reason) }

// conn is one WebSocket connection.
type conn struct {
	srv    *Server
	wc     *websocket.Conn
	id     uint64
	remote netip.Addr
	host   string

	// sessMu is held while the session is told something: by the reader
	// for each frame, and by the deadline timer when it fires.
	sessMu sync.Mutex
	s      *session.Session

	mu       sync.Mutex // guards what follows
	q        [][]byte   // frames to write, without their newlines
	qBytes   int
	writing  bool // a writer goroutine runs
	closed   bool // no more frames are accepted
	dropped  bool // and what is queued is not to be written
	bye      *protocol.Frame
	reason   string
	user     string
	deadline time.Time
	timer    *time.Timer
	ended    chan struct{} // closed when the WebSocket is closed
}

func (c *conn) serve() {
	c.s = c.srv.cfg.Sessions.Accept(c)
	defer func() {
		c.Close("", "")
		<-c.ended
		c.mu.Lock()
		if c.timer != nil {
			c.timer.Stop()
		}
		reason := c.reason
		c.mu.Unlock()
		if reason == "" {
			reason = "client_closed"
			c.srv.countClose(reason)
		}
		c.sessMu.Lock()
		c.s.End()
		c.sessMu.Unlock()
		c.srv.log.Info("connection closed", c.logAttrs("reason", reason)...)
	}()
	for {
		_, msg, err := c.wc.Read(context.Background())
		if err != nil {
			if errors.Is(err, io.EOF) || websocket.CloseStatus(err) != -1 {
				// The client closed its side; it may still read what
				// it asked for, but the library cannot read on after a
				// close frame: answer, and go.
				c.sessMu.Lock()
				c.s.InputEnded(c.ended)
				c.sessMu.Unlock()
			} else if !errors.Is(err, net.ErrClosed) {
				c.srv.log.Debug("read failed", c.logAttrs("err", err)...)
			}
			return
		}
		if !c.frames(msg) {
			return
		}
	}
}

// frames hands the session each frame of one message: one, but a client
// that sends several lines in one is understood too.
func (c *conn) frames(msg []byte) bool {
	c.sessMu.Lock()
	defer c.sessMu.Unlock()
	for len(msg) > 0 {
		line := msg
		if i := bytes.IndexByte(msg, '\n'); i >= 0 {
			line, msg = msg[:i], msg[i+1:]
		} else {
			msg = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if len(line) > c.srv.maxFrame {
			c.s.TooLarge()
			return false
		}
		if !c.s.Frame(line) {
			return false
		}
	}
	return true
}

// SetReadDeadline arms the timer that tells the session its client has
// been silent too long. The session calls it while it is being told
// something, so that a deadline pushed back meanwhile is seen.
func (c *conn) SetReadDeadline(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	d := time.Until(t)
	if c.timer == nil {
		c.timer = time.AfterFunc(d, c.deadlinePassed)
		return
	}
	c.timer.Reset(d)
}

// deadlinePassed runs on the timer's goroutine.
func (c *conn) deadlinePassed() {
	c.sessMu.Lock()
	defer c.sessMu.Unlock()
	c.mu.Lock()
	due := !time.Now().Before(c.deadline) && !c.closed
	c.mu.Unlock()
	if !due {
		return // pushed back, or closing, meanwhile
	}
	if next, goOn := c.s.Timeout(); goOn {
		c.SetReadDeadline(next)
	}
}

func (c *conn) RemoteAddr() netip.Addr { return c.remote }
func (c *conn) Host() string           { return c.host }

func (c *conn) SetUser(name string) {
	c.mu.Lock()
	c.user = name
	c.mu.Unlock()
}

func (c *conn) logAttrs(args ...any) []any {
	c.mu.Lock()
	user := c.user
	c.mu.Unlock()
	a := []any{"conn", c.id, "transport", "websocket", "remote", c.remote.String()}
	if user != "" {
		a = append(a, "user", user)
	}
	return append(a, args...)
}

// Queue adds an event's frames to the outbound queue. It
// never blocks; a client whose queue would grow past the limit is
// disconnected as a slow consumer.
func (c *conn) Queue(ev *event.Event) bool {
	b := ev.JSON()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	if c.qBytes+len(b) > c.srv.cfg.MaxQueue {
		c.closeLocked(protocol.CodeSlowConsumer, "you were not reading fast enough", true)
		return false
	}
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		c.q = append(c.q, b[:i]) // without the newline, which joins frames in a message
		b = b[i+1:]
		c.qBytes += i + 1
	}
	return true
}

// offerBacklog is the queue past which a connection is offered nothing
// more (see hub.Offerer).
const offerBacklog = 16 << 10

// Offer queues ev if the queue holds less than offerBacklog, and drops
// it otherwise; it never closes the connection (see hub.Offerer).
func (c *conn) Offer(ev *event.Event) bool {
	c.mu.Lock()
	closed, full := c.closed, c.qBytes+len(ev.JSON()) > min(offerBacklog, c.srv.cfg.MaxQueue)
	c.mu.Unlock()
	if closed || full {
		return false
	}
	return c.Queue(ev)
}

// Flush starts the writer if something is queued.
func (c *conn) Flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.writing && len(c.q) > 0 {
		c.writing = true
		go c.writeLoop()
	}
}

// Close writes what is queued, then a bye frame, then closes.
func (c *conn) Close(code, message string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked(code, message, false)
}

func (c *conn) closeLocked(code, message string, drop bool) {
	if c.closed {
		return
	}
	c.closed, c.reason = true, code
	c.srv.countClose(code)
	if code != "" {
		c.bye = &protocol.Frame{Type: protocol.TypeBye, Code: code, Message: message}
	}
	if drop {
		c.dropped = true
		c.q, c.qBytes = nil, 0
	}
	if !c.writing {
		c.writing = true
		go c.writeLoop()
	}
}

// writeLoop writes what is queued, in as few messages as fit (see
// MaxMessage), until the queue is empty; then it exits, or, if the
// connection is closing, sends the bye and closes it.
func (c *conn) writeLoop() {
	for {
		c.mu.Lock()
		if c.dropped {
			c.q, c.qBytes = nil, 0
		}
		batch := c.q
		c.q, c.qBytes = nil, 0
		closed, bye := c.closed, c.bye
		if len(batch) == 0 && !closed {
			c.writing = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		wrote := len(batch) > 0
		for len(batch) > 0 {
			var msg []byte
			msg, batch = nextMessage(batch)
			if err := c.write(msg); err != nil {
				c.mu.Lock()
				if errors.Is(err, context.DeadlineExceeded) {
					c.closeLocked(protocol.CodeSlowConsumer, "", true)
				} else {
					c.closeLocked("write_failed", "", true)
				}
				c.mu.Unlock()
				c.wc.CloseNow()
				close(c.ended)
				return
			}
		}
		if wrote {
			continue
		}
		// Closing, and everything queued is written.
		status, reason := websocket.StatusNormalClosure, ""
		if bye != nil {
			b := protocol.Encode(bye)
			c.write(b[:len(b)-1])
			reason = bye.Code
			switch bye.Code {
			case protocol.CodeQuit, protocol.CodeReplaced:
			case protocol.CodeShutdown:
				status = websocket.StatusGoingAway
			default:
				status = websocket.StatusPolicyViolation
			}
		}
		closeWithin(c.wc, status, reason, time.Second)
		close(c.ended)
		return
	}
}

// MaxMessage bounds a message of several frames: what is queued for a
// client is written as few messages as fit, each frames joined by
// newlines, so that a burst (a login wave's presence, a busy room) costs a
// write and a frame header for many frames, not one each. A frame larger
// than MaxMessage goes in a message of its own. 32 KiB is the read limit
// many WebSocket libraries keep by default.
const MaxMessage = 32 << 10

// nextMessage takes the first message's worth of frames off batch: one
// frame as it is, or several joined into a new buffer of the message's
// size. (A pool of MaxMessage buffers would keep one for every writer
// that ran at once, as in a login wave, until the collector empties it.)
func nextMessage(batch [][]byte) (msg []byte, rest [][]byte) {
	n, size := 1, len(batch[0])
	for n < len(batch) && size+1+len(batch[n]) <= MaxMessage {
		size += 1 + len(batch[n])
		n++
	}
	if n == 1 {
		return batch[0], batch[1:]
	}
	m := make([]byte, 0, size)
	for i, f := range batch[:n] {
		if i > 0 {
			m = append(m, '\n')
		}
		m = append(m, f...)
	}
	return m, batch[n:]
}

func (c *conn) write(m []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.srv.cfg.WriteTimeout)
	defer cancel()
	return c.wc.Write(ctx, websocket.MessageText, m)
}

// closeWithin closes the WebSocket with a close handshake, waiting at most
// wait for the client's answer.
func closeWithin(wc *websocket.Conn, status websocket.StatusCode, reason string, wait time.Duration) {
	done := make(chan struct{})
	go func() { wc.Close(status, reason); close(done) }()
	select {
	case <-done:
	case <-time.After(wait):
		wc.CloseNow()
		<-done
	}
}

// remoteAddr is the client's address from the request.
func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// hostOf is the host the client reached, without the port.
func hostOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	if len(host) > 1 && host[0] == '[' {
		host = host[1 : len(host)-1]
	}
	return host
}

// NodeOrigins allows the origins of a cluster's nodes: the host and port
// of each node's HTTP door, compared without case.
func NodeOrigins(nodes func() []protocol.Node) func(host string) bool {
	return func(host string) bool {
		for _, n := range nodes() {
			if u, err := url.Parse(n.HTTP); err == nil && u.Host != "" && strings.EqualFold(u.Host, host) {
				return true
			}
		}
		return false
	}
}

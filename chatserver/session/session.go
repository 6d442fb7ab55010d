// Package session is the chat protocol's session layer, the same for
// every transport: the hello/welcome handshake, login, the dispatch of
// requests to the hub, the rate limit and flood policy, the handshake
// deadline and idle pings. A transport (TCP, WebSocket) accepts a
// connection, hands it to Server.Accept, and then tells the Session
// what it reads: each frame, a read deadline that passed, the end of
// the client's input, the end of the connection. How it reads and
// writes, and how it waits while nothing comes, is the transport's
// business; what the frames mean is the hub's.
//
// A Session is driven by one goroutine at a time: the transport's reader
// for the connection, or whatever waits for the connection while it has
// no reader (a poller that parks idle connections, say).
package session

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/parley-chat/parley/chatserver/event"
	"github.com/parley-chat/parley/chatserver/hub"
	"github.com/parley-chat/parley/shared/protocol"
)

// Conn is a transport's connection as the session layer sees it.
type Conn interface {
	// Queue, Flush and Close are the hub's Peer: Close sends a bye
	// frame with code and message after what is queued, then closes.
	hub.Peer
	// SetReadDeadline says by when the session wants to hear from the
	// client; when it passes with nothing read, the transport calls
	// Session.Timeout. The session calls it from Accept and Frame.
	SetReadDeadline(t time.Time)
	// RemoteAddr is the client's address, which login limits go by.
	RemoteAddr() netip.Addr
	// Host is the host name or address the client reached the server
	// by, for the file server's URL.
	Host() string
	// SetUser names the logged-in user, for the transport's logs.
	SetUser(name string)
}

// Hub is the chat hub that sessions log in to: a *hub.Hub through Local,
// or, on a node of a cluster, the node's way to the cluster's hub.
type Hub interface {
	// Login is hub.Hub's Login: it authenticates a login frame from the
	// address from and attaches a session for peer, whose ok reply has
	// been queued to peer when Login returns.
	Login(ctx context.Context, peer hub.Peer, f *protocol.Frame, from netip.Addr) (Member, error)
}

// Member is a logged-in session of a Hub.
type Member interface {
	User() string             // the user's display name
	Handle(f *protocol.Frame) // a request, answered through the peer
	Finish() <-chan struct{}  // closed once every earlier request is answered
	Leave()                   // the connection has ended
}

// Local is the Hub of a chat server that is not part of a cluster.
func Local(h *hub.Hub) Hub { return local{h} }

type local struct{ h *hub.Hub }

func (l local) Login(ctx context.Context, peer hub.Peer, f *protocol.Frame, from netip.Addr) (Member, error) {
	s, err := l.h.Login(ctx, peer, f, from)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Config configures a Server. Hub is required; zero values elsewhere
// mean the defaults.
type Config struct {
	Hub    Hub
	Logger *slog.Logger
	// Name is announced in the welcome frame.
	Name string
	// FilesURL is the file server's address, announced in the welcome
	// frame; "{host}" in it becomes the host the client reached.
	FilesURL string
	// Nodes, if set, returns the cluster's current nodes, announced in
	// the welcome frame so that clients know where else to reconnect.
	// It is called on the connection's goroutine, once per handshake,
	// and must not block. nil announces none.
	Nodes func() []protocol.Node
	// Limits are announced in the welcome frame. RatePerSec, RateBurst
	// and PingSecs are enforced here; Frame by the transports.
	Limits protocol.Limits

	HandshakeTimeout time.Duration // from accept to a logged-in session
	PingInterval     time.Duration // silence before the server pings
	PingTimeout      time.Duration // time to answer a ping
	// ReadRate and ReadBurst bound the requests of a session that read
	// the store (history pages, and joins, which send the room's
	// history): per second, and at once. A person paging back never
	// needs more; a flood of them from many accounts would take the
	// store's time from everyone. Default 5 and 20.
	ReadRate, ReadBurst int

	// Observe, if set, is told of each login's outcome, for metrics.
	Observe Observer
}

// Observer sees what the session layer does, for metrics.
type Observer interface {
	// Login is told of a login's outcome: its error code, or "" if it
	// succeeded.
	Login(code string)
}

// Defaults of Config.
const (
	DefaultRate             = 20
	DefaultBurst            = 50
	DefaultHandshakeTimeout = 15 * time.Second
	DefaultPingInterval     = time.Minute
	DefaultPingTimeout      = 30 * time.Second
	DefaultReadRate         = 5
	DefaultReadBurst        = 20
)

// The slow-consumer policy every transport enforces on its connections:
// a client whose outbound queue would grow past DefaultMaxQueue bytes, or
// whose socket takes longer than DefaultWriteTimeout for one write, is
// disconnected with slow_consumer. DefaultMaxQueue holds a full history
// page and a login's catch-up with room to spare; a client that stops
// reading is usually caught sooner by the write deadline.
const (
	DefaultMaxQueue     = 8 << 20
	DefaultWriteTimeout = 10 * time.Second
)

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Name == "" {
		c.Name = "parley"
	}
	if c.Limits.Frame == 0 {
		c.Limits.Frame = protocol.DefaultMaxFrame
	}
	if c.Limits.RatePerSec == 0 {
		c.Limits.RatePerSec = DefaultRate
	}
	if c.Limits.RateBurst == 0 {
		c.Limits.RateBurst = DefaultBurst
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.PingInterval == 0 {
		c.PingInterval = time.Duration(c.Limits.PingSecs) * time.Second
	}
	if c.PingInterval == 0 {
		c.PingInterval = DefaultPingInterval
	}
	c.Limits.PingSecs = int(c.PingInterval / time.Second)
	if c.PingTimeout == 0 {
		c.PingTimeout = DefaultPingTimeout
	}
	if c.ReadRate == 0 {
		c.ReadRate = DefaultReadRate
	}
	if c.ReadBurst == 0 {
		c.ReadBurst = DefaultReadBurst
	}
}

// Server starts sessions.
type Server struct {
	cfg Config
}

// New returns a Server.
func New(cfg Config) *Server {
	cfg.setDefaults()
	return &Server{cfg: cfg}
}

// Limits are the limits in force, as the welcome frame announces them.
func (srv *Server) Limits() protocol.Limits { return srv.cfg.Limits }

// Accept starts the session of a new connection: the handshake's
// deadline runs from now.
func (srv *Server) Accept(c Conn) *Session {
	s := &Session{srv: srv, c: c}
	c.SetReadDeadline(time.Now().Add(srv.cfg.HandshakeTimeout))
	return s
}

// Session is one connection's session.
type Session struct {
	srv *Server
	c   Conn

	helloDone bool
	pinged    bool // an idle ping is unanswered
	sess      Member
	limiter   *rate.Limiter // nil while the connection is idle with a full bucket
	reads     *rate.Limiter // for requests that read the store; made at the first
	refusals  *rate.Limiter // made at the first refusal
	readSet   time.Time     // when the read deadline was last pushed back
}

// LoggedIn reports whether the session has logged in.
func (s *Session) LoggedIn() bool { return s.sess != nil }

// Idle tells the session that its connection is waiting for the client,
// with nothing unread, so that it holds as little as it can meanwhile:
// a rate limiter whose bucket is full is dropped and made anew at the
// next frame, which gives the client the same budget.
func (s *Session) Idle() {
	if s.limiter != nil && s.limiter.Tokens() >= float64(s.srv.cfg.Limits.RateBurst) {
		s.limiter = nil
	}
}

// Frame handles one frame as read from the connection: an NDJSON line
// without its terminator. It reports false when the connection is to
// end.
func (s *Session) Frame(line []byte) bool {
	if !s.heard() {
		var id uint64
		if f, err := protocol.Decode(line); err == nil {
			if f.Type == protocol.TypePong {
				return true
			}
			id = f.ID
		}
		return s.refuseFlood(id)
	}
	f, err := protocol.Decode(line)
	if err != nil {
		var id uint64
		if f != nil && protocol.IsRequest(f.Type) {
			id = f.ID // the refusal answers the request
		}
		s.send(event.Error(err.(*protocol.Error), id))
		return true
	}
	return s.Request(f)
}

// Input tells the session that the client sent something that is not a
// frame of ours: a line of a transport that speaks another protocol
// (IRC), which builds its requests from such lines. It counts against
// the same rate as frames and shows that the client is there, as Frame
// does. It reports whether the input is within the rate (ok) and whether
// the connection goes on: over the rate, the session sends a
// rate_limited error answering request id, and closes the connection of
// a client that goes on flooding.
func (s *Session) Input(id uint64) (ok, goOn bool) {
	if s.heard() {
		return true, true
	}
	return false, s.refuseFlood(id)
}

// heard notes that the client sent something: it pushes the idle
// deadline back and takes a token from the rate limiter, reporting
// whether there was one.
func (s *Session) heard() bool {
	cfg := &s.srv.cfg
	if s.sess != nil {
		s.pinged = false
		// Push the idle deadline back, at most a few times per interval.
		if now := time.Now(); now.Sub(s.readSet) > cfg.PingInterval/8 {
			s.c.SetReadDeadline(now.Add(cfg.PingInterval))
			s.readSet = now
		}
	}
	if s.limiter == nil {
		s.limiter = newLimiter(s.srv)
	}
	// Everything counts against the rate, garbage included.
	return s.limiter.Allow()
}

func (s *Session) refuseFlood(id uint64) bool {
	return s.refuse(id, s.limiter, fmt.Sprintf("slow down: at most %d requests a second", s.srv.cfg.Limits.RatePerSec), true)
}

// Request handles one decoded frame from the client. It reports false
// when the connection is to end.
func (s *Session) Request(f *protocol.Frame) bool {
	cfg := &s.srv.cfg
	if f.Type == protocol.TypePong {
		return true
	}
	switch {
	case !s.helloDone:
		if f.Type != protocol.TypeHello {
			s.send(event.Error(protocol.Errorf(protocol.CodeBadRequest, "say hello first"), f.ID))
			return true
		}
		if f.Version != protocol.Version {
			s.send(event.Error(protocol.Errorf(protocol.CodeBadVersion,
				"this server speaks protocol version %d, not %d", protocol.Version, f.Version), f.ID))
			s.c.Close(protocol.CodeBadVersion, "unsupported protocol version")
			return false
		}
		s.helloDone = true
		limits := cfg.Limits
		s.send(event.New(event.Welcome, &protocol.Frame{Type: protocol.TypeWelcome, Server: cfg.Name,
			Version: protocol.Version, Limits: &limits, FilesURL: s.filesURL(),
			Nodes: s.nodes()}))
	case f.ID == 0 && protocol.IsRequest(f.Type):
		s.send(event.Error(protocol.Errorf(protocol.CodeBadRequest, "a %s request needs a non-zero id", f.Type), 0))
	case s.sess == nil:
		return s.beforeLogin(f)
	default:
		if readsStore(f.Type) {
			if s.reads == nil {
				s.reads = rate.NewLimiter(rate.Limit(cfg.ReadRate), cfg.ReadBurst)
			}
			if !s.reads.Allow() {
				// Not counted as flooding: the frame itself was within
				// the rate, and refusing it costs next to nothing.
				return s.refuse(f.ID, s.reads, fmt.Sprintf("slow down: at most %d history pages, joins or searches a second", cfg.ReadRate), false)
			}
		}
		s.sess.Handle(f)
	}
	return true
}

// readsStore reports whether a request of type t reads the store for
// its answer, and counts against Config.ReadRate. (A sync reads too, but
// it is the next part of a catch-up, which the client must get, and
// comes only after a cut-short login.)
func readsStore(t string) bool {
	return t == protocol.TypeHistory || t == protocol.TypeJoin || t == protocol.TypeSearch
}

// refuse answers request id with rate_limited, saying when l has room
// again. Refusals of frames over the rate have a small budget of their
// own (flood): a client that exhausts it is flooding and is
// disconnected. Most clients never need one. It reports whether the
// connection goes on.
func (s *Session) refuse(id uint64, l *rate.Limiter, message string, flood bool) bool {
	refusal := protocol.Errorf(protocol.CodeRateLimited, "%s", message)
	refusal.RetryMS = retryAfter(l).Milliseconds()
	s.send(event.Error(refusal, id))
	if !flood {
		return true
	}
	if s.refusals == nil {
		s.refusals = rate.NewLimiter(1, 10)
	}
	if !s.refusals.Allow() {
		s.c.Close(protocol.CodeFlood, "too many requests")
		return false
	}
	return true
}

func (s *Session) beforeLogin(f *protocol.Frame) bool {
	cfg := &s.srv.cfg
	switch f.Type {
	case protocol.TypeLogin:
		sess, err := cfg.Hub.Login(context.Background(), s.c, f, s.c.RemoteAddr())
		if err != nil {
			perr, ok := err.(*protocol.Error)
			if !ok {
				perr = protocol.Errorf(protocol.CodeInternal, "login failed")
			}
			s.observeLogin(perr.Code)
			s.send(event.Error(perr, f.ID))
			return true
		}
		s.observeLogin("")
		s.sess = sess
		s.c.SetUser(sess.User())
		s.c.SetReadDeadline(time.Now().Add(cfg.PingInterval))
		s.readSet = time.Now()
	case protocol.TypePing:
		s.send(event.NewReply(&protocol.Frame{Type: protocol.TypeOK, Re: f.ID}))
	case protocol.TypeQuit:
		s.send(event.NewReply(&protocol.Frame{Type: protocol.TypeOK, Re: f.ID}))
		s.c.Close(protocol.CodeQuit, "goodbye")
		return false
	case protocol.TypeHello:
		s.send(event.Error(protocol.Errorf(protocol.CodeBadRequest, "hello was already said"), f.ID))
	default:
		if protocol.IsRequest(f.Type) {
			s.send(event.Error(protocol.Errorf(protocol.CodeNotLoggedIn, "log in first"), f.ID))
		} else {
			s.send(event.Error(protocol.Errorf(protocol.CodeUnknownType, "unknown frame type %q", f.Type), f.ID))
		}
	}
	return true
}

func (s *Session) observeLogin(code string) {
	if s.srv.cfg.Observe != nil {
		s.srv.cfg.Observe.Login(code)
	}
}

// Timeout acts on a read deadline that passed with nothing read. Before
// login the handshake is over: the connection is closed. The first time
// a logged-in client has been silent that long, it is pinged and given
// PingTimeout to answer; if it does not, the connection is closed. It
// reports whether the connection goes on, and if so the next read
// deadline, which the transport sets: it may call Timeout where it
// cannot take a call of SetReadDeadline (see Conn).
func (s *Session) Timeout() (next time.Time, goOn bool) {
	switch {
	case s.sess == nil:
		s.c.Close(protocol.CodeHandshakeTimeout, "no login in time")
		return time.Time{}, false
	case !s.pinged:
		s.pinged = true
		s.readSet = time.Time{}
		s.send(pingEvent)
		return time.Now().Add(s.srv.cfg.PingTimeout), true
	default:
		s.c.Close(protocol.CodePingTimeout, "no answer to ping")
		return time.Time{}, false
	}
}

// pingEvent is the idle ping; the same event for every connection.
var pingEvent = event.New(event.Ping, &protocol.Frame{Type: protocol.TypePing})

// TooLarge closes the connection for a frame over the size limit: the
// stream cannot be read on after one.
func (s *Session) TooLarge() {
	s.c.Close(protocol.CodeFrameTooLarge, "a frame was larger than the limit")
}

// InputEnded is called when the client has stopped sending but may
// still read. It returns once the replies to what it asked for are
// queued, or when closed is, so that the client gets its last replies.
func (s *Session) InputEnded(closed <-chan struct{}) {
	if s.sess == nil {
		return
	}
	select {
	case <-s.sess.Finish():
	case <-closed:
	}
}

// End is called once, when the connection has ended.
func (s *Session) End() {
	if s.sess != nil {
		s.sess.Leave()
	}
}

// send queues an event of the session's own and flushes it.
func (s *Session) send(ev *event.Event) {
	if s.c.Queue(ev) {
		s.c.Flush()
	}
}

func newLimiter(srv *Server) *rate.Limiter {
	return rate.NewLimiter(rate.Limit(srv.cfg.Limits.RatePerSec), srv.cfg.Limits.RateBurst)
}

// retryAfter is how long until l has a token again, at least a
// millisecond, so that a refusal always says to wait.
func retryAfter(l *rate.Limiter) time.Duration {
	r := l.Reserve()
	d := r.Delay()
	r.Cancel()
	return max(d, time.Millisecond)
}

// filesURL is the file server's URL for this client, with "{host}"
// replaced by the host the client reached us by.
func (s *Session) filesURL() string {
	u := s.srv.cfg.FilesURL
	if !strings.Contains(u, "{host}") {
		return u
	}
	host := s.c.Host()
	if host == "" {
		return ""
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.Is6() && !ip.Is4In6() {
		host = "[" + host + "]"
	}
	return strings.ReplaceAll(u, "{host}", host)
}

// nodes is the cluster's node list for the welcome frame, if the server
// has one.
func (s *Session) nodes() []protocol.Node {
	if s.srv.cfg.Nodes == nil {
		return nil
	}
	return s.srv.cfg.Nodes()
}

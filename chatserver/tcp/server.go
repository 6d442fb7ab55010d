// Package tcp is the chat protocol's TCP transport, with TLS when
// configured. It owns the connections' sockets: the framing with a hard
// size limit; a reader goroutine per connection while it has something
// to read, and none while it is idle, when the connection parks in an
// epoll poller with its read buffer given back; flushers that write for
// many connections at once, with one writev each, and a writer goroutine
// per connection only while its socket is full or it is closing; a
// bounded outbound queue whose overflow disconnects a slow consumer; the
// read deadlines the session layer asks for, a write deadline, and
// graceful shutdown. Each connection's session (package session) does
// the handshake, login, rate limit and pings; what the frames mean is
// the hub's business.
package tcp

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-chat/parley/chatserver/session"
	"github.com/parley-chat/parley/shared/protocol"
)

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("tcp: server closed")

// Config configures a Server. Sessions is required; zero values
// elsewhere mean the defaults.
type Config struct {
	// Sessions starts the session of each connection.
	Sessions *session.Server
	Logger   *slog.Logger
	// TLS, if set, wraps every accepted connection.
	TLS *tls.Config

	WriteTimeout time.Duration // for one write to the socket (default session.DefaultWriteTimeout)
	MaxQueue     int           // bytes queued for one client before it counts as slow (default session.DefaultMaxQueue)
	// Flushers is how many goroutines write the hub's frames, each for
	// its share of the connections (see flusher). The default, half of
	// GOMAXPROCS and at least one, leaves the other cores to the readers,
	// the hub and the store: on two cores, one flusher took 0.40-0.44 µs
	// of CPU per delivery flat out against 0.47-0.57 for two (chatserver/BENCHMARKS.md).
	Flushers int
	// Coalesce is how long a flusher that is woken lets frames gather
	// before it writes (see flusher): at a steady rate, a socket then gets
	// one write for several frames. 0 writes at once.
	Coalesce time.Duration

	// ringLinger is how long a parked connection keeps a busy queue ring
	// with no frames coming; tests lengthen it.
	ringLinger time.Duration
	// shedAfter is how long a connection stays parked before it sheds Go's
	// socket and keeps only the descriptor (see shed_linux.go); below
	// zero, never. Tests change it.
	shedAfter time.Duration
}

func (c *Config) setDefaults() {
	if c.ringLinger == 0 {
		c.ringLinger = time.Second
	}
	if c.shedAfter == 0 {
		c.shedAfter = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = session.DefaultWriteTimeout
	}
	if c.MaxQueue == 0 {
		c.MaxQueue = session.DefaultMaxQueue
	}
	// A queue counts its bytes in 32 bits.
	c.MaxQueue = min(c.MaxQueue, 1<<30)
	if c.Flushers <= 0 {
		c.Flushers = max(1, runtime.GOMAXPROCS(0)/2)
	}
}

// Server accepts chat connections.
type Server struct {
	cfg      Config
	log      *slog.Logger
	maxFrame int
	epoch    time.Time // connections keep their read deadlines as durations since it

	reg  session.Registry[*conn] // open connections, close reasons, shutdown
	shed atomic.Int64            // connections holding only their descriptor

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	readers   sync.Pool  // *bufio.Reader, lent to connections while they read
	flushers  []*flusher // Config.Flushers of them, started by the first Serve
	poller    *poller    // parks idle connections; started by the first Serve
}

// New returns a Server.
func New(cfg Config) *Server {
	cfg.setDefaults()
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		epoch:     time.Now(),
		maxFrame:  protocol.DefaultMaxFrame,
		listeners: make(map[net.Listener]struct{}),
	}
	if cfg.Sessions != nil { // tests of the writing side may have none
		s.maxFrame = cfg.Sessions.Limits().Frame
	}
	s.readers.New = func() any { return bufio.NewReaderSize(nil, 4096) }
	return s
}

// Serve accepts connections on ln until Shutdown. It always returns a
// non-nil error; after Shutdown, ErrServerClosed.
func (s *Server) Serve(ln net.Listener) error {
	if s.cfg.TLS != nil {
		ln = tls.NewListener(ln, s.cfg.TLS)
	}
	s.mu.Lock()
	if s.reg.Closing() {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	if len(s.flushers) == 0 {
		for range s.cfg.Flushers {
			s.flushers = append(s.flushers, newFlusher(s.cfg.Coalesce))
		}
	}
	if s.poller == nil {
		p, err := newPoller()
		if err != nil {
			s.log.Debug("idle connections keep their reader goroutines", "err", err)
		}
		s.poller = p
	}
	flushers, p := s.flushers, s.poller
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()

	closed := false
	err := session.Accept(ln, s.log, s.reg.Closing, func(nc net.Conn) {
		c, ok := s.reg.Admit(func(id uint64) *conn {
			return newConn(s, nc, id, flushers[id%uint64(len(flushers))], p)
		})
		if !ok {
			nc.Close()
			closed = true
			ln.Close() // the loop ends with ErrListenerClosed
			return
		}
		go c.serve()
	})
	if closed || errors.Is(err, session.ErrListenerClosed) {
		return ErrServerClosed
	}
	return err
}

// Shutdown stops accepting, tells every client server_shutdown and closes
// its connection after the frames already queued, then waits for the
// connection goroutines to end or ctx to expire, when it closes the rest.
func (s *Server) Shutdown(ctx context.Context) error {
	s.reg.Stop()
	s.mu.Lock()
	for ln := range s.listeners {
		ln.Close()
	}
	s.mu.Unlock()
	err := s.reg.Shutdown(ctx,
		func(c *conn) { c.Close(protocol.CodeShutdown, "server is shutting down; reconnect in a moment") },
		func(c *conn) { c.closeSocket(); c.unpark(nil) })
	// Every connection has finished, so nothing is left to flush.
	s.mu.Lock()
	flushers, p := s.flushers, s.poller
	s.flushers, s.poller = nil, nil
	s.mu.Unlock()
	for _, f := range flushers {
		f.close()
	}
	if p != nil {
		p.close()
	}
	return err
}

func (s *Server) remove(c *conn) { s.reg.Remove(c) }

// countClose counts a connection closed for reason. It is called when the
// decision is made, so Stats reflect it at once.
func (s *Server) countClose(reason string) { s.reg.CountClose(reason) }

// Stats is a snapshot of the server's connections.
type Stats struct {
	Open   int
	Parked int           // open and idle, with no goroutine of their own
	Shed   int           // parked, holding only the socket's descriptor
	Closed []ReasonCount // by reason, most frequent first
}

// ReasonCount counts connections closed for one reason.
type ReasonCount struct {
	Reason string
	Count  int
}

// Stats returns the number of open connections and why others closed.
func (s *Server) Stats() Stats {
	open, closed := s.reg.Counts()
	st := Stats{Open: open, Shed: int(s.shed.Load())}
	s.mu.Lock()
	if s.poller != nil {
		st.Parked = s.poller.count()
	}
	s.mu.Unlock()
	for r, n := range closed {
		st.Closed = append(st.Closed, ReasonCount{r, n})
	}
	sort.Slice(st.Closed, func(i, j int) bool { return st.Closed[i].Count > st.Closed[j].Count })
	return st
}

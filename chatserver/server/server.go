// Package server assembles a chat server from its parts (store, hub,
// session layer, transports, HTTP door, metrics) and runs it. The
// chatserver command and the end-to-end tests both start servers
// through it.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/parley-chat/parley/chatserver/auth"
	"github.com/parley-chat/parley/chatserver/cluster"
	"github.com/parley-chat/parley/chatserver/hub"
	"github.com/parley-chat/parley/chatserver/irc"
	"github.com/parley-chat/parley/chatserver/metrics"
	"github.com/parley-chat/parley/chatserver/session"
	"github.com/parley-chat/parley/chatserver/store"
	"github.com/parley-chat/parley/chatserver/store/inmem"
	"github.com/parley-chat/parley/chatserver/store/postgres"
	"github.com/parley-chat/parley/chatserver/store/sqlite"
	"github.com/parley-chat/parley/chatserver/tcp"
	"github.com/parley-chat/parley/chatserver/web"
	"github.com/parley-chat/parley/chatserver/ws"
	"github.com/parley-chat/parley/shared/filetoken"
	"github.com/parley-chat/parley/shared/protocol"
)

// Config is everything a chat server needs. The chatserver command fills
// it from flags; zero values mean the parts' defaults.
type Config struct {
	Addr     string // TCP listen address, host:port
	HTTPAddr string // the HTTP door's address (WebSocket, health, metrics); empty for none
	// AllowOrigins are the hosts, besides the server's own, whose web
	// pages may open WebSocket connections.
	AllowOrigins []string
	DataDir      string // SQLite database directory; empty means in memory
	// DB is a PostgreSQL database's URL; when set, the server keeps its
	// data there instead of in DataDir.
	DB string
	// NATS, with DB, makes the server a node of a cluster: nats://HOST:4222
	// (several comma-separated). Node names it in the cluster; Advertise
	// is the host its clients reach it by, passed on to the clients of
	// the other nodes (default: the listener's, or the machine's name).
	NATS, Node, Advertise string
	// ClusterBeat is how often nodes tell each other they are alive
	// (default 1 s); a node silent for ClusterTTL (default 5 beats) is
	// counted gone, and its users offline.
	ClusterBeat, ClusterTTL time.Duration
	TLSCert                 string // certificate file; with TLSKey, serve TLS on both doors
	TLSKey                  string

	// IRC is the IRC door's address; empty for none. IRCTLS, with a
	// certificate, is its TLS address (irc.Config says the rest).
	IRC, IRCTLS      string
	IRCServerName    string
	IRCGuests        bool
	IRCGuestPassword string
	IRCMOTD          []string
	// Operators are the server operators (see hub.Config.Operators).
	Operators []hub.Operator

	// FilesURL is the file server's address, told to clients. "{host}"
	// in it becomes the address the client connected to.
	FilesURL string
	// FilesSecret signs file-access tokens; nil issues none.
	FilesSecret []byte
	// FilesTTL is how long a file-access token is valid.
	FilesTTL time.Duration
	// Nodes, if set, returns the cluster's nodes, which the welcome frame
	// announces to clients (see session.Config); the web client's pages
	// may connect to their /ws, and theirs to this server's.
	Nodes func() []protocol.Node

	RecallWindow     time.Duration
	Retention        time.Duration // how long messages are kept; 0 keeps them all
	ResumeTTL        time.Duration
	JoinHistory      int
	Limits           protocol.Limits
	PingInterval     time.Duration
	PingTimeout      time.Duration
	HandshakeTimeout time.Duration
	ReadRate         int // history pages and joins a second, per connection (burst 4×)
	MaxQueue         int
	Flushers         int           // goroutines writing to TCP connections; 0 means the tcp package's default
	Coalesce         time.Duration // how long TCP writes wait for more frames; 0 writes at once
	HashParams       auth.Params
	HashParallel     int
	Logins           auth.Limits // bounds on password logins per address and account

	Logger *slog.Logger
}

// Server is a running chat server.
type Server struct {
	cfg     Config
	store   store.Store
	hub     *hub.Hub      // one server's own; nil on a node of a cluster
	node    *cluster.Node // on a node of a cluster
	core    core
	net     *tcp.Server
	ws      *ws.Server
	irc     *irc.Server
	ircTLS  *irc.Server
	ircLns  []net.Listener
	ircDone sync.WaitGroup
	http    *http.Server
	ln      net.Listener
	httpLn  net.Listener
	log     *slog.Logger
	metrics *metrics.Metrics

	hubDone   chan struct{}
	serveDone chan struct{} // closed when Serve returns
	httpDone  chan struct{}
	serveErr  error
}

// Start opens the store, loads the hub, listens on cfg.Addr (and
// cfg.HTTPAddr) and starts serving. Stop it with Shutdown.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tlsConf, err := protocol.ServerTLS(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, err
	}

	var st store.Store
	var shared *postgres.Store
	switch {
	case cfg.NATS != "":
		if !strings.HasPrefix(cfg.DB, "postgres://") && !strings.HasPrefix(cfg.DB, "postgresql://") {
			return nil, errors.New("-nats needs -db postgres://…: the nodes of a cluster share one PostgreSQL database")
		}
		s, err := postgres.OpenShared(ctx, cfg.DB)
		if err != nil {
			return nil, fmt.Errorf("-db: %w", err)
		}
		st, shared = s, s
	case cfg.DB != "":
		s, err := postgres.Open(ctx, cfg.DB)
		if err != nil {
			return nil, fmt.Errorf("-db: %w", err)
		}
		st = s
	case cfg.DataDir == "":
		st = inmem.New()
	default:
		s, err := sqlite.Open(ctx, cfg.DataDir)
		if err != nil {
			return nil, err
		}
		st = s
	}
	hashParams := cfg.HashParams
	if hashParams == (auth.Params{}) {
		hashParams = auth.DefaultParams
	}
	limits := cfg.Limits
	if limits.Frame == 0 {
		limits.Frame = protocol.DefaultMaxFrame
	}
	if limits.Text == 0 {
		limits.Text = protocol.MaxTextBytes
	}
	limits.Name = protocol.MaxNameRunes
	limits.History = protocol.MaxHistory
	var filesToken func(string) (string, time.Time, error)
	if cfg.FilesSecret != nil {
		ttl := cfg.FilesTTL
		if ttl == 0 {
			ttl = filetoken.DefaultTTL
		}
		limits.FilesTTLSecs = int(ttl / time.Second)
		filesToken = func(user string) (string, time.Time, error) {
			return filetoken.Issue(cfg.FilesSecret, user, time.Now(), ttl)
		}
	}
	s := &Server{
		cfg:       cfg,
		store:     st,
		log:       log,
		hubDone:   make(chan struct{}),
		serveDone: make(chan struct{}),
		httpDone:  make(chan struct{}),
	}
	hubCfg := hub.Config{
		Store:         st,
		Logger:        log,
		Hasher:        auth.NewHasher(hashParams, cfg.HashParallel, auth.DefaultQueue),
		Throttle:      auth.NewThrottle(cfg.Logins, nil),
		RecallWindow:  cfg.RecallWindow,
		Retention:     cfg.Retention,
		ResumeTTL:     cfg.ResumeTTL,
		JoinHistory:   cfg.JoinHistory,
		MaxText:       limits.Text,
		CatchUpBytes:  catchUpBytes(cfg.MaxQueue),
		FilesToken:    filesToken,
		Operators:     cfg.Operators,
		ObserveCommit: func(d time.Duration) { s.metrics.ObserveCommit(d) },
	}
	if shared == nil {
		if s.hub, err = hub.New(ctx, hubCfg); err != nil {
			st.Close()
			return nil, err
		}
		s.core = localCore{s.hub, session.Local(s.hub)}
	} else {
		nodeName := cfg.Node
		if nodeName == "" {
			nodeName, _ = os.Hostname()
		}
		s.node, err = cluster.Start(ctx, cluster.Config{
			NATS: cfg.NATS, Node: nodeName, Store: shared, Hub: hubCfg,
			Beat: cfg.ClusterBeat, TTL: cfg.ClusterTTL, Logger: log,
		})
		if err != nil {
			st.Close()
			return nil, err
		}
		s.core = s.node
		if cfg.Nodes == nil {
			node := s.node
			cfg.Nodes = func() []protocol.Node {
				var out []protocol.Node
				for _, n := range node.Nodes() {
					if n.TCP != "" || n.HTTP != "" {
						out = append(out, protocol.Node{TCP: n.TCP, HTTP: n.HTTP})
					}
				}
				return out
			}
		}
	}
	set := hubCfg.WithDefaults()
	limits.RecallSecs = int(set.RecallWindow / time.Second)
	limits.ResumeSecs = int(set.ResumeTTL / time.Second)

	s.metrics = metrics.New(s.core.Stats, map[string]func() metrics.Transport{
		"tcp": func() metrics.Transport {
			st := s.net.Stats()
			t := metrics.Transport{Open: st.Open, Closed: map[string]int{}}
			for _, r := range st.Closed {
				t.Closed[r.Reason] = r.Count
			}
			return t
		},
		"websocket": func() metrics.Transport {
			st := s.ws.Stats()
			return metrics.Transport{Open: st.Open, Closed: st.Closed}
		},
		"irc": func() metrics.Transport {
			st := s.irc.Stats()
			return metrics.Transport{Open: st.Open, Closed: st.Closed}
		},
	})
	sessions := session.New(session.Config{
		Hub:              s.core,
		Logger:           log,
		Name:             "parley-chatserver",
		FilesURL:         cfg.FilesURL,
		Nodes:            cfg.Nodes,
		Limits:           limits,
		PingInterval:     cfg.PingInterval,
		PingTimeout:      cfg.PingTimeout,
		HandshakeTimeout: cfg.HandshakeTimeout,
		ReadRate:         cfg.ReadRate,
		ReadBurst:        4 * cfg.ReadRate,
		Observe:          s.metrics,
	})
	s.net = tcp.New(tcp.Config{
		Sessions: sessions,
		Logger:   log,
		TLS:      tlsConf,
		MaxQueue: cfg.MaxQueue,
		Flushers: cfg.Flushers,
		Coalesce: cfg.Coalesce,
	})
	// The pages of a cluster's nodes may move to this node's /ws.
	var allowNode func(string) bool
	if cfg.Nodes != nil {
		allowNode = ws.NodeOrigins(cfg.Nodes)
	}
	s.ws = ws.New(ws.Config{
		Sessions:     sessions,
		Logger:       log,
		AllowOrigins: cfg.AllowOrigins,
		AllowOrigin:  allowNode,
		MaxQueue:     cfg.MaxQueue,
	})

	filesBase := cfg.FilesURL
	if strings.Contains(filesBase, "{host}") {
		host := cfg.IRCServerName
		if host == "" || !strings.Contains(host, ".") {
			host = "localhost"
		}
		filesBase = strings.ReplaceAll(filesBase, "{host}", host)
	}
	s.irc = irc.New(irc.Config{
		Sessions:      sessions,
		Logger:        log,
		ServerName:    cfg.IRCServerName,
		Online:        s.core.Online,
		Guests:        cfg.IRCGuests,
		GuestPassword: cfg.IRCGuestPassword,
		FilesURL:      filesBase,
		MOTD:          cfg.IRCMOTD,
		MaxQueue:      cfg.MaxQueue,
	})
	var ircTLS *irc.Server
	if s.ln, err = net.Listen("tcp", cfg.Addr); err != nil {
		st.Close()
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	closeAll := func() {
		s.ln.Close()
		for _, l := range s.ircLns {
			l.Close()
		}
		if s.node != nil {
			s.node.Close() // and the store
		} else {
			st.Close()
		}
	}
	if cfg.IRC != "" {
		l, err := net.Listen("tcp", cfg.IRC)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("listen on %s (-irc): %w", cfg.IRC, err)
		}
		s.ircLns = append(s.ircLns, l)
	}
	if cfg.IRCTLS != "" && tlsConf != nil {
		l, err := net.Listen("tcp", cfg.IRCTLS)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("listen on %s (-irc-tls): %w", cfg.IRCTLS, err)
		}
		s.ircLns = append(s.ircLns, l)
		ircTLS = irc.New(irc.Config{
			Sessions: sessions, Logger: log, TLS: tlsConf, ServerName: cfg.IRCServerName, Online: s.core.Online,
			Guests: cfg.IRCGuests, GuestPassword: cfg.IRCGuestPassword, FilesURL: filesBase, MOTD: cfg.IRCMOTD, MaxQueue: cfg.MaxQueue,
		})
		s.ircTLS = ircTLS
	}
	if cfg.HTTPAddr != "" {
		if s.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			closeAll()
			return nil, fmt.Errorf("listen on %s (-http): %w", cfg.HTTPAddr, err)
		}
		s.http = &http.Server{
			Handler: web.Handler(web.Config{WS: s.ws, Metrics: s.metrics.Handler(), Alive: s.core.Alive, FilesURL: cfg.FilesURL, Nodes: cfg.Nodes}),
			// The WebSocket connections, once upgraded, keep their own
			// deadlines; these bound the requests before that.
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			// A copy of its own: the HTTP server adds its protocols
			// (h2) to the configuration it is given, while the other
			// doors read theirs.
			TLSConfig: tlsConf.Clone(),
			ErrorLog:  slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		}
	}
	if s.node != nil {
		s.metrics.Register(s.node.Metrics().Collectors()...)
		s.node.SetAddrs(advertised(cfg.Advertise, s.ln.Addr().String()), advertisedURL(cfg.Advertise, s.HTTPAddr(), tlsConf != nil))
		close(s.hubDone)
	} else {
		go func() { s.hub.Run(); close(s.hubDone) }()
	}
	go func() { s.serveErr = s.net.Serve(s.ln); close(s.serveDone) }()
	for i, l := range s.ircLns {
		srv := s.irc
		if i == 1 || cfg.IRC == "" {
			srv = ircTLS
		}
		s.ircDone.Add(1)
		go func() {
			defer s.ircDone.Done()
			if err := srv.Serve(l); !errors.Is(err, irc.ErrServerClosed) {
				log.Error("IRC listener failed", "addr", l.Addr().String(), "err", err)
			}
		}()
	}
	if s.http != nil {
		go func() {
			defer close(s.httpDone)
			var err error
			if tlsConf != nil {
				err = s.http.ServeTLS(s.httpLn, "", "")
			} else {
				err = s.http.Serve(s.httpLn)
			}
			if !errors.Is(err, http.ErrServerClosed) {
				log.Error("HTTP listener failed", "err", err)
			}
		}()
	} else {
		close(s.httpDone)
	}
	log.Info("chat server listening", "addr", s.ln.Addr().String(), "http", s.HTTPAddr(), "irc", s.IRCAddr(), "irc-tls", s.IRCTLSAddr(),
		"tls", tlsConf != nil, "data", dataDesc(cfg))
	return s, nil
}

// core is the hub the doors' sessions log in to, with what the server
// asks of it besides: one server's own hub, or a cluster node.
type core interface {
	session.Hub
	Online(name string) bool
	Alive(ctx context.Context) error
	Stats() hub.Stats
}

type localCore struct {
	h *hub.Hub
	session.Hub
}

func (c localCore) Online(name string) bool         { return c.h.Online(name) }
func (c localCore) Alive(ctx context.Context) error { return c.h.Alive(ctx) }
func (c localCore) Stats() hub.Stats                { return c.h.Stats() }

// Node is the server's cluster node, or nil if it is not one.
func (s *Server) Node() *cluster.Node { return s.node }

// advertised is the address that clients reach a listener at addr by:
// host, when given, with the listener's port; the listener's address if
// it is bound to one; the machine's name if it listens on every address.
func advertised(host, addr string) string {
	if addr == "" {
		return ""
	}
	h, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" {
		if ip, err := netip.ParseAddr(h); err == nil && !ip.IsUnspecified() {
			return addr
		}
		host, _ = os.Hostname()
	}
	return net.JoinHostPort(host, port)
}

func advertisedURL(host, addr string, tls bool) string {
	a := advertised(host, addr)
	if a == "" {
		return ""
	}
	if tls {
		return "https://" + a
	}
	return "http://" + a
}

// catchUpBytes bounds a login's catch-up to a quarter of the connection's
// queue, so that it never counts as a slow consumer.
func catchUpBytes(maxQueue int) int {
	if maxQueue == 0 {
		maxQueue = session.DefaultMaxQueue
	}
	return max(maxQueue/4, 64<<10)
}

// Addr is the address the server listens on for TCP.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// HTTPAddr is the address of the HTTP door, or "" if it has none.
func (s *Server) HTTPAddr() string {
	if s.httpLn == nil {
		return ""
	}
	return s.httpLn.Addr().String()
}

// IRCAddr is the address of the IRC door, or "" if it has none.
func (s *Server) IRCAddr() string {
	if s.cfg.IRC == "" || len(s.ircLns) == 0 {
		return ""
	}
	return s.ircLns[0].Addr().String()
}

// IRCTLSAddr is the address of the IRC door with TLS, or "" if it has
// none.
func (s *Server) IRCTLSAddr() string {
	if s.ircTLS == nil {
		return ""
	}
	return s.ircLns[len(s.ircLns)-1].Addr().String()
}

// Stats reports open TCP connections and close reasons.
func (s *Server) Stats() tcp.Stats { return s.net.Stats() }

// Done is closed when the server stops accepting connections: after
// Shutdown, or by itself if the listener fails; Err then says why.
func (s *Server) Done() <-chan struct{} { return s.serveDone }

// Err is the reason serving stopped, once Done is closed.
func (s *Server) Err() error {
	<-s.serveDone
	if errors.Is(s.serveErr, tcp.ErrServerClosed) {
		return nil
	}
	return s.serveErr
}

// Shutdown tells every client server_shutdown, closes the connections,
// writes what the hub has accepted, and closes the store. Clients have
// until ctx expires to be told.
func (s *Server) Shutdown(ctx context.Context) error {
	var httpErr error
	if s.http != nil {
		// Stops accepting; upgraded WebSocket connections are the ws
		// server's to close.
		httpErr = s.http.Shutdown(ctx)
	}
	<-s.httpDone
	err := errors.Join(s.net.Shutdown(ctx), s.ws.Shutdown(ctx), s.irc.Shutdown(ctx))
	if s.ircTLS != nil {
		err = errors.Join(err, s.ircTLS.Shutdown(ctx))
	}
	s.ircDone.Wait()
	if s.node != nil {
		// The node closes the store.
		return errors.Join(err, httpErr, s.Err(), s.node.Close())
	}
	s.hub.Close()
	<-s.hubDone
	return errors.Join(err, httpErr, s.Err(), s.store.Close())
}

// dataDesc says where the server keeps its data, for the log: the
// database's URL without its password, or the data directory.
func dataDesc(cfg Config) string {
	if cfg.DB == "" {
		return cfg.DataDir
	}
	u, err := url.Parse(cfg.DB)
	if err != nil {
		return "postgres"
	}
	return u.Redacted()
}

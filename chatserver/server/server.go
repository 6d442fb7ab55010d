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
	"time"

	"github.com/parley-chat/parley/chatserver/auth"
	"github.com/parley-chat/parley/chatserver/hub"
	"github.com/parley-chat/parley/chatserver/metrics"
	"github.com/parley-chat/parley/chatserver/session"
	"github.com/parley-chat/parley/chatserver/store"
	"github.com/parley-chat/parley/chatserver/store/inmem"
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
	TLSCert      string // certificate file; with TLSKey, serve TLS on both doors
	TLSKey       string

	// FilesURL is the file server's address, told to clients. "{host}"
	// in it becomes the address the client connected to.
	FilesURL string
	// FilesSecret signs file-access tokens; nil issues none.
	FilesSecret []byte
	// FilesTTL is how long a file-access token is valid.
	FilesTTL time.Duration

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
	Flushers         int // goroutines writing to TCP connections; 0 means the tcp package's default
	HashParams       auth.Params
	HashParallel     int
	Logins           auth.Limits // bounds on password logins per address and account

	Logger *slog.Logger
}

// Server is a running chat server.
type Server struct {
	cfg     Config
	store   store.Store
	hub     *hub.Hub
	net     *tcp.Server
	ws      *ws.Server
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
	if cfg.DataDir == "" {
		st = inmem.New()
	} else {
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
	s.hub, err = hub.New(ctx, hub.Config{
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
		ObserveCommit: func(d time.Duration) { s.metrics.ObserveCommit(d) },
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	set := s.hub.Settings()
	limits.RecallSecs = int(set.RecallWindow / time.Second)
	limits.ResumeSecs = int(set.ResumeTTL / time.Second)

	s.metrics = metrics.New(s.hub.Stats, map[string]func() metrics.Transport{
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
	})
	sessions := session.New(session.Config{
		Hub:              s.hub,
		Logger:           log,
		Name:             "parley-chatserver",
		FilesURL:         cfg.FilesURL,
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
	})
	s.ws = ws.New(ws.Config{
		Sessions:     sessions,
		Logger:       log,
		AllowOrigins: cfg.AllowOrigins,
		MaxQueue:     cfg.MaxQueue,
	})

	if s.ln, err = net.Listen("tcp", cfg.Addr); err != nil {
		st.Close()
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	if cfg.HTTPAddr != "" {
		if s.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			s.ln.Close()
			st.Close()
			return nil, fmt.Errorf("listen on %s (-http): %w", cfg.HTTPAddr, err)
		}
		s.http = &http.Server{
			Handler: web.Handler(web.Config{WS: s.ws, Metrics: s.metrics.Handler(), Alive: s.hub.Alive, FilesURL: cfg.FilesURL}),
			// The WebSocket connections, once upgraded, keep their own
			// deadlines; these bound the requests before that.
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			TLSConfig:         tlsConf,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		}
	}
	go func() { s.hub.Run(); close(s.hubDone) }()
	go func() { s.serveErr = s.net.Serve(s.ln); close(s.serveDone) }()
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
	log.Info("chat server listening", "addr", s.ln.Addr().String(), "http", s.HTTPAddr(), "tls", tlsConf != nil, "data", cfg.DataDir)
	return s, nil
}

// catchUpBytes bounds a login's catch-up to a quarter of the connection's
// queue, so that it never counts as a slow consumer.
func catchUpBytes(maxQueue int) int {
	if maxQueue == 0 {
		maxQueue = tcp.DefaultMaxQueue
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
	err := errors.Join(s.net.Shutdown(ctx), s.ws.Shutdown(ctx))
	s.hub.Close()
	<-s.hubDone
	return errors.Join(err, httpErr, s.Err(), s.store.Close())
}

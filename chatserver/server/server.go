// Package server assembles a chat server from its parts (store, hub,
// network) and runs it. The chatserver command and the end-to-end tests
// both start servers through it.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/parley-chat/parley/chatserver/auth"
	"github.com/parley-chat/parley/chatserver/hub"
	"github.com/parley-chat/parley/chatserver/netconn"
	"github.com/parley-chat/parley/chatserver/session"
	"github.com/parley-chat/parley/chatserver/store"
	"github.com/parley-chat/parley/chatserver/store/inmem"
	"github.com/parley-chat/parley/chatserver/store/sqlite"
	"github.com/parley-chat/parley/shared/filetoken"
	"github.com/parley-chat/parley/shared/protocol"
)

// Config is everything a chat server needs. The chatserver command fills
// it from flags.
type Config struct {
	Addr    string // listen address, host:port
	DataDir string // SQLite database directory; empty means in memory
	TLSCert string // certificate file; with TLSKey, serve TLS
	TLSKey  string

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
	MaxQueue         int
	Flushers         int // goroutines writing to connections; 0 means netconn's default
	HashParams       auth.Params
	HashParallel     int
	Logins           auth.Limits // bounds on password logins per address and account

	Logger *slog.Logger
}

// Server is a running chat server.
type Server struct {
	cfg   Config
	store store.Store
	hub   *hub.Hub
	net   *netconn.Server
	ln    net.Listener
	log   *slog.Logger

	hubDone   chan struct{}
	serveDone chan struct{} // closed when Serve returns
	serveErr  error
}

// Start opens the store, loads the hub, listens on cfg.Addr and starts
// serving. Stop it with Shutdown.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var tlsConf *tls.Config
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		if cfg.TLSCert == "" || cfg.TLSKey == "" {
			return nil, errors.New("TLS needs both a certificate (-tls-cert) and a key (-tls-key)")
		}
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("load TLS certificate: %w", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
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
	h, err := hub.New(ctx, hub.Config{
		Store:        st,
		Logger:       log,
		Hasher:       auth.NewHasher(hashParams, cfg.HashParallel, 256),
		Throttle:     auth.NewThrottle(cfg.Logins, nil),
		RecallWindow: cfg.RecallWindow,
		Retention:    cfg.Retention,
		ResumeTTL:    cfg.ResumeTTL,
		JoinHistory:  cfg.JoinHistory,
		MaxText:      limits.Text,
		CatchUpBytes: catchUpBytes(cfg.MaxQueue),
		FilesToken:   filesToken,
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	recall := cfg.RecallWindow
	if recall == 0 {
		recall = 2 * time.Minute
	}
	resume := cfg.ResumeTTL
	if resume == 0 {
		resume = 7 * 24 * time.Hour
	}
	limits.RecallSecs = int(recall / time.Second)
	limits.ResumeSecs = int(resume / time.Second)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	s := &Server{
		cfg:   cfg,
		store: st,
		hub:   h,
		ln:    ln,
		log:   log,
		net: netconn.New(netconn.Config{
			Sessions: session.New(session.Config{
				Hub:              h,
				Logger:           log,
				Name:             "parley-chatserver",
				FilesURL:         cfg.FilesURL,
				Limits:           limits,
				PingInterval:     cfg.PingInterval,
				PingTimeout:      cfg.PingTimeout,
				HandshakeTimeout: cfg.HandshakeTimeout,
			}),
			Logger:   log,
			TLS:      tlsConf,
			MaxQueue: cfg.MaxQueue,
			Flushers: cfg.Flushers,
		}),
		hubDone:   make(chan struct{}),
		serveDone: make(chan struct{}),
	}
	go func() { h.Run(); close(s.hubDone) }()
	go func() { s.serveErr = s.net.Serve(ln); close(s.serveDone) }()
	log.Info("chat server listening", "addr", ln.Addr().String(), "tls", tlsConf != nil, "data", cfg.DataDir)
	return s, nil
}

// catchUpBytes bounds a login's catch-up to a quarter of the connection's
// queue, so that it never counts as a slow consumer.
func catchUpBytes(maxQueue int) int {
	if maxQueue == 0 {
		maxQueue = netconn.DefaultMaxQueue
	}
	return max(maxQueue/4, 64<<10)
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Stats reports open connections and close reasons.
func (s *Server) Stats() netconn.Stats { return s.net.Stats() }

// Done is closed when the server stops accepting connections: after
// Shutdown, or by itself if the listener fails; Err then says why.
func (s *Server) Done() <-chan struct{} { return s.serveDone }

// Err is the reason serving stopped, once Done is closed.
func (s *Server) Err() error {
	<-s.serveDone
	if errors.Is(s.serveErr, netconn.ErrServerClosed) {
		return nil
	}
	return s.serveErr
}

// Shutdown tells every client server_shutdown, closes the connections,
// writes what the hub has accepted, and closes the store. Clients have
// until ctx expires to be told.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.net.Shutdown(ctx)
	s.hub.Close()
	<-s.hubDone
	return errors.Join(err, s.Err(), s.store.Close())
}

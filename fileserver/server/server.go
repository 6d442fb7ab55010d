// Package server assembles a file server from its parts (folder, watcher,
// uploads, API) and runs it. The fileserver command and the tests both
// start servers through it.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/parley-chat/parley/fileserver/api"
	"github.com/parley-chat/parley/fileserver/auth"
	"github.com/parley-chat/parley/fileserver/folder"
	"github.com/parley-chat/parley/fileserver/metrics"
	"github.com/parley-chat/parley/fileserver/uploads"
	"github.com/parley-chat/parley/fileserver/watch"
	"github.com/parley-chat/parley/shared/protocol"
)

// Defaults the fileserver command starts with.
const (
	// DefaultMaxFolders is enough for anyone who sorts their files,
	// and bounds the watches and the walks that a flood of folders costs.
	DefaultMaxFolders = 100
	// DefaultMaxFolderDepth lets uploads make folders eight levels deep.
	DefaultMaxFolderDepth = 8
	// DefaultMaxUploads lets one person send two files at once.
	DefaultMaxUploads = 2
	// DefaultUploadShare lets one person's uploads be promised a quarter
	// of what is free, so that it takes four to shut everyone out, and
	// then only while their data keeps coming.
	DefaultUploadShare = 25
	// DefaultMaxStreams is room for a person's clients and browser
	// tabs; one client needs one stream.
	DefaultMaxStreams = 8
	// DefaultReserveIdle releases the space promised to an upload that
	// has sent nothing for two minutes.
	DefaultReserveIdle = 2 * time.Minute
)

// Config is everything a file server needs. The fileserver command fills
// it from flags.
type Config struct {
	Addr    string // listen address, host:port
	Dir     string // the shared folder
	State   string // partial uploads and file records; outside Dir, same file system
	TLSCert string // certificate file; with TLSKey, serve HTTPS
	TLSKey  string

	// Secret checks the chat server's file tokens.
	Secret []byte
	// PublicRead lets anyone list, download and watch without a token.
	PublicRead bool

	MaxSize      int64         // largest file in bytes; 0 for no limit
	Quota        int64         // most the folder may hold; 0 for none
	MinFree      int64         // disk space uploads must leave free
	UploadExpiry time.Duration // unfinished resumable uploads are dropped after this long idle
	Settle       time.Duration // quiet time before a change is announced
	Stall        time.Duration // a transfer that moves nothing this long is cut
	Heartbeat    time.Duration // event stream keepalive interval

	// MaxFolders is how many folders one person's uploads may create
	// (in all spaces together); 0 for no limit.
	MaxFolders int
	// MaxFolderDepth is how deep a folder that an upload creates may
	// be ("a/b" is two deep); 0 for no limit beyond the path rules.
	MaxFolderDepth int

	// MaxUploads is how many uploads one person may have in progress
	// (receiving data) at once; 0 for no limit.
	MaxUploads int
	// UploadShare is the percentage of the quota, and of the disk's
	// space above MinFree, that one person's uploads may be promised
	// ahead of their data; 0 means 100.
	UploadShare int
	// ReserveIdle is how long an upload may receive no data before its
	// reservation is released (default 2m).
	ReserveIdle time.Duration

	// AllowOrigins are the web pages that may call the server from a
	// browser (CORS): origins, with "{host}" for the host the request
	// reached, or "*". Nil means DefaultAllowOrigins; an empty, non-nil
	// slice allows none.
	AllowOrigins []string

	// MaxStreams is how many event streams one person (or, without a
	// token, one address) may have open at once; 0 for no limit.
	MaxStreams int

	// Now is the clock uploads are timed with; nil means time.Now.
	Now func() time.Time
	// DiskFree tells the space free on the file system that holds a
	// folder; nil means asking the system. Tests give one that does
	// not depend on what else the machine is writing.
	DiskFree func(dir string) (int64, bool)

	Logger *slog.Logger
}

// Server is a running file server.
type Server struct {
	cfg     Config
	log     *slog.Logger
	folder  *folder.Folder
	watcher *watch.Watcher
	http    *http.Server
	ln      net.Listener
	tls     bool

	serveDone chan struct{}
	serveErr  error
}

// Start opens the folder, starts watching it, listens on cfg.Addr and
// serves. Stop it with Shutdown.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(cfg.Secret) == 0 {
		return nil, errors.New("no secret to check file tokens with")
	}
	tlsConf, err := protocol.ServerTLS(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, err
	}
	f, err := folder.Open(cfg.Dir, cfg.State, log)
	if err != nil {
		return nil, err
	}
	f.SetFolderLimits(cfg.MaxFolders, cfg.MaxFolderDepth)
	up, err := uploads.New(uploads.Config{
		Folder:  f,
		MaxSize: cfg.MaxSize,
		Quota:   cfg.Quota,
		MinFree: cfg.MinFree,
		Expiry:  cfg.UploadExpiry,
		Logger:  log,

		MaxUploads:  cfg.MaxUploads,
		Share:       cfg.UploadShare,
		ReserveIdle: cfg.ReserveIdle,
		Now:         cfg.Now,
		DiskFree:    cfg.DiskFree,
	})
	if err != nil {
		f.Close()
		return nil, err
	}
	w, err := watch.New(watch.Config{Folder: f, Settle: cfg.Settle, Encode: api.EncodeEvent, Logger: log})
	if err != nil {
		f.Close()
		return nil, err
	}
	m := metrics.New(metrics.Sources{Uploads: up.InProgress, Subscribers: w.Subscribers})
	h, err := api.New(api.Config{
		Metrics:    m,
		Folder:     f,
		Watcher:    w,
		Uploads:    up,
		Auth:       &auth.Checker{Secret: cfg.Secret, PublicRead: cfg.PublicRead},
		MaxSize:    cfg.MaxSize,
		Stall:      cfg.Stall,
		Heartbeat:  cfg.Heartbeat,
		MaxStreams: cfg.MaxStreams,
		Logger:     log,
	})
	if err != nil {
		w.Close()
		f.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		w.Close()
		f.Close()
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	s := &Server{
		cfg:     cfg,
		log:     log,
		folder:  f,
		watcher: w,
		ln:      ln,
		tls:     tlsConf != nil,
		http: &http.Server{
			Handler:   withCORS(allowOrigins(cfg.AllowOrigins), h),
			TLSConfig: tlsConf,
			// Headers must arrive promptly. Bodies and replies have no
			// overall limit, since a large file takes as long as it
			// takes; the handlers cut a transfer that stalls instead.
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		serveDone: make(chan struct{}),
	}
	go func() {
		if tlsConf != nil {
			s.serveErr = s.http.ServeTLS(ln, "", "")
		} else {
			s.serveErr = s.http.Serve(ln)
		}
		close(s.serveDone)
	}()
	log.Info("file server listening", "addr", ln.Addr().String(), "tls", tlsConf != nil,
		"dir", f.Dir(), "state", f.StateDir(), "public_read", cfg.PublicRead)
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the server's base URL, for clients and tests.
func (s *Server) URL() string {
	if s.tls {
		return "https://" + s.Addr()
	}
	return "http://" + s.Addr()
}

// Folder is the shared folder the server serves.
func (s *Server) Folder() *folder.Folder { return s.folder }

// Done is closed when the server stops serving: after Shutdown, or by
// itself if the listener fails; Err then says why.
func (s *Server) Done() <-chan struct{} { return s.serveDone }

// Err is the reason serving stopped, once Done is closed.
func (s *Server) Err() error {
	<-s.serveDone
	if errors.Is(s.serveErr, http.ErrServerClosed) {
		return nil
	}
	return s.serveErr
}

// Shutdown ends the event streams, stops accepting requests, waits for
// those in progress until ctx ends (then cuts them), and closes the
// folder. A resumable upload cut off here is resumed after a restart.
func (s *Server) Shutdown(ctx context.Context) error {
	werr := s.watcher.Close()
	err := s.http.Shutdown(ctx)
	if err != nil {
		s.http.Close()
	}
	<-s.serveDone
	return errors.Join(err, werr, s.Err(), s.folder.Close())
}

func allowOrigins(a []string) []string {
	if a == nil {
		return DefaultAllowOrigins
	}
	return a
}

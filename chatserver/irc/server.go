// Package irc is the chat server's IRC door: irssi, WeeChat and IRC bots
// reach the same accounts, rooms, history and private messages as the
// other clients. It accepts connections, does IRC's registration (CAP,
// PASS, NICK, USER, SASL PLAIN), and turns IRC commands into the chat
// protocol's requests, which it hands the session layer (package
// session) as frames; it encodes the hub's events as IRC lines, caching
// them in the event's IRC slot (event.IRC), so that a message to many
// IRC members is encoded once.
//
// Each connection has a reader goroutine, which reads lines (at most
// MaxLine bytes), parses them with ergochat/irc-go's ircmsg, and handles
// one command at a time: a command that makes a request waits for its
// reply before the next line is read, so that the replies come back in
// the order of the commands. A writer goroutine runs while something is
// queued; the outbound queue is bounded, and a client that lets it fill
// is disconnected as a slow consumer.
package irc

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/parley-chat/parley/chatserver/session"
	"github.com/parley-chat/parley/shared/protocol"
)

// MaxLine is the longest line a client may send, tags included and the
// CRLF not: IRCv3's limit for a line with tags. A longer line closes the
// connection with ERROR.
const MaxLine = 8191

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("irc: server closed")

// Config configures a Server. Sessions is required; zero values elsewhere
// mean the defaults.
type Config struct {
	Sessions *session.Server
	Logger   *slog.Logger
	// TLS, if set, makes every connection TLS.
	TLS *tls.Config
	// ServerName is the name the server announces (the source of its
	// numerics). Default "parley".
	ServerName string
	// Online reports whether a user is online; it is required with
	// Guests, whose connections never take over a session.
	Online func(name string) bool
	// Guests lets a connection that sends no PASS and no SASL register a
	// name of its own: its nick becomes an account whose password is
	// derived from a secret this server made at start, so the guest may
	// come back under the same nick while the server runs, and a name
	// that someone registered with a password stays theirs. Off by
	// default: every login needs the account's password. It is meant
	// for conformance tests (irctest) and open LAN servers.
	Guests bool
	// GuestPassword, with Guests, is a server password: a guest must send
	// it with PASS, and a wrong one is refused. PASS then means this
	// password only, so accounts log in with SASL PLAIN.
	GuestPassword string
	// FilesURL is the file server's base URL, for file messages, which
	// arrive as text with the file's URL.
	FilesURL     string
	MOTD         []string      // lines of the message of the day; none sends ERR_NOMOTD
	WriteTimeout time.Duration // for one write to the client (default 10 s)
	MaxQueue     int           // bytes queued for one client before it counts as slow (default 8 MiB)
}

// Server serves IRC connections.
type Server struct {
	cfg      Config
	log      *slog.Logger
	guestKey []byte
	isupport []string

	reg session.Registry[*conn] // open connections, close reasons, shutdown

	mu     sync.Mutex
	lns    map[net.Listener]struct{}
	idents map[string]ident // of the users on IRC, by display name
	quits  map[string]quit
	tagSeq uint64 // the last msgid given to a relayed TAGMSG

	// nicks maps login names to the Parley nicks (display names) that
	// IRC shows in their place, as far as this door has heard: from
	// login replies, who replies, member and nick events.
	nmu   sync.Mutex
	nicks map[string]string
}

// New returns a Server.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ServerName == "" {
		cfg.ServerName = "parley"
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = session.DefaultWriteTimeout
	}
	if cfg.MaxQueue == 0 {
		cfg.MaxQueue = session.DefaultMaxQueue
	}
	s := &Server{cfg: cfg, log: cfg.Logger, guestKey: make([]byte, 32),
		lns: map[net.Listener]struct{}{}, idents: map[string]ident{}, quits: map[string]quit{}, nicks: map[string]string{}}
	rand.Read(s.guestKey)
	s.isupport = isupport(cfg.Sessions.Limits())
	return s
}

// guestPassword is the password of guest account name (by its key).
func (s *Server) guestPassword(key string) string {
	m := hmac.New(sha256.New, s.guestKey)
	m.Write([]byte(key))
	return base64.RawStdEncoding.EncodeToString(m.Sum(nil))
}

// Serve accepts connections on ln until Shutdown; it returns
// ErrServerClosed then.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.reg.Closing() {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.lns[ln] = struct{}{}
	s.mu.Unlock()
	closed := false
	err := session.Accept(ln, s.log, s.reg.Closing, func(nc net.Conn) {
		c, ok := s.reg.Admit(func(id uint64) *conn { return newConn(s, nc, id) })
		if !ok {
			nc.Close()
			closed = true
			ln.Close() // the loop ends with ErrListenerClosed
			return
		}
		go func() {
			defer s.reg.Remove(c)
			c.serve()
		}()
	})
	if closed || errors.Is(err, session.ErrListenerClosed) {
		return ErrServerClosed
	}
	return err
}

// Shutdown stops accepting, tells every client the server is shutting
// down and closes its connection after what is queued for it, then
// waits for the connections to end or ctx to expire, when it closes the
// rest.
func (s *Server) Shutdown(ctx context.Context) error {
	s.reg.Stop()
	s.mu.Lock()
	for ln := range s.lns {
		ln.Close()
	}
	s.mu.Unlock()
	return s.reg.Shutdown(ctx,
		func(c *conn) { c.Close(protocol.CodeShutdown, "server is shutting down; reconnect in a moment") },
		func(c *conn) { c.nc.Close() })
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

func remoteOf(nc net.Conn) netip.Addr {
	ap, err := netip.ParseAddrPort(nc.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func localHost(nc net.Conn) string {
	ap, err := netip.ParseAddrPort(nc.LocalAddr().String())
	if err != nil {
		return ""
	}
	return ap.Addr().Unmap().String()
}

// ident is what a user on IRC said of themselves at registration, which
// WHO and WHOIS show.
type ident struct {
	user, host, real string
	away             string
	invisible        bool
	guest            bool // logged in with -irc-guests, without a password
	c                *conn
}

// quit is the reason a user on IRC gave for quitting, which the QUIT
// lines of their going offline carry.
type quit struct {
	reason string
	at     time.Time
}

func (s *Server) noteQuit(name, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for n, q := range s.quits {
		if now.Sub(q.at) > time.Minute {
			delete(s.quits, n)
		}
	}
	s.quits[name] = quit{reason: "Quit: " + reason, at: now}
}

func (s *Server) quitReason(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q, ok := s.quits[name]; ok {
		return q.reason
	}
	return "Offline"
}

func (s *Server) setInvisible(c *conn, name string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.idents[name]; ok && id.c == c {
		id.invisible = on
		s.idents[name] = id
	}
}

// setAway records c's away message and tells the IRC clients that share
// a channel with it and asked for away-notify.
func (s *Server) setAway(c *conn, name, away string) {
	s.mu.Lock()
	if id, ok := s.idents[name]; ok && id.c == c {
		id.away = away
		s.idents[name] = id
	}
	s.mu.Unlock()
	conns := s.reg.Conns()
	params := []string{}
	if away != "" {
		params = append(params, away)
	}
	line := appendLine(nil, s.src(name), "AWAY", params...)
	for _, o := range conns {
		if o == c {
			continue
		}
		o.mu.Lock()
		if o.registered && o.caps.awayNotify && !o.closed {
			for _, ch := range o.channels {
				if ch.members[name] {
					o.out = append(o.out, line...)
					o.flushLocked()
					break
				}
			}
		}
		o.mu.Unlock()
	}
}

func (s *Server) ident(name string) (ident, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.idents[name]
	return id, ok
}

func (s *Server) setIdent(name string, id ident) {
	s.mu.Lock()
	s.idents[name] = id
	s.mu.Unlock()
}

// dropIdent forgets c's ident, unless a newer connection has the name.
func (s *Server) dropIdent(name string, c *conn) {
	s.mu.Lock()
	if s.idents[name].c == c {
		delete(s.idents, name)
	}
	s.mu.Unlock()
}

// shown is the IRC nick of the user with login name name: their Parley
// nick if they have one, or the name.
func (s *Server) shown(name string) string {
	s.nmu.Lock()
	defer s.nmu.Unlock()
	if n, ok := s.nicks[name]; ok {
		return n
	}
	return name
}

// noteNick records that name is shown as nick ("" for the name itself),
// and returns how they were shown before.
func (s *Server) noteNick(name, nick string) (old string) {
	s.nmu.Lock()
	defer s.nmu.Unlock()
	old, ok := s.nicks[name]
	if !ok {
		old = name
	}
	if nick == "" || nick == name {
		delete(s.nicks, name)
	} else {
		s.nicks[name] = nick
	}
	return old
}

// noteMembers records the nicks a who reply carries.
func (s *Server) noteMembers(l []protocol.MemberInfo) {
	s.nmu.Lock()
	defer s.nmu.Unlock()
	for _, mb := range l {
		if mb.Nick == "" || mb.Nick == mb.Name {
			delete(s.nicks, mb.Name)
		} else {
			s.nicks[mb.Name] = mb.Nick
		}
	}
}

// src is the IRC source of the user with login name name: their nick,
// with the login name as the user part.
func (s *Server) src(name string) string { return s.shown(name) + "!" + name + userHost }

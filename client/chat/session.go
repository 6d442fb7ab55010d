package chat

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parley-chat/parley/shared/protocol"
)

// ErrClosed is returned by requests on a closed session.
var ErrClosed = errors.New("session closed")

// ErrReplaced is the session's error after the same name logged in from
// somewhere else. A replaced session never reconnects by itself.
var ErrReplaced = errors.New("replaced by a newer login of the same name")

// Options configure a Session.
type Options struct {
	Addr string // host:port of the chat server
	// Addrs are more addresses of the same chat service: other nodes of
	// its cluster. The session connects to the first of Addr and Addrs
	// that answers, and when its node goes away or answers unavailable,
	// moves on to the next (see Session).
	Addrs    []string
	Name     string      // the user's name
	Password string      // may be empty if Token is set
	Token    string      // a resume token from an earlier login, if any
	TLS      *tls.Config // nil for plain TCP
	// Reconnect makes the session reconnect by itself when the connection
	// drops. Refresh reconnects either way.
	Reconnect bool
	// MaxBackoff caps the wait between reconnect attempts (default 30s).
	MaxBackoff time.Duration
	// Events is the capacity of the events channel (default 1024).
	Events int
	// Observe, if set, sees every message and recall event that the
	// session hands out (history included, repeats not) as it is read,
	// before any reply that follows it is handed to Do's caller: state kept
	// from it, such as an index of file messages, is current when a later
	// request returns.
	Observe func(*protocol.Frame)
}

// EventKind says what an Event is.
type EventKind int

// Event kinds.
const (
	// A frame from the server: a message, presence, member change, …
	EvFrame EventKind = iota
	// The connection dropped; a reconnect is scheduled in Wait.
	EvReconnecting
	// The session is back, and its catch-up follows.
	EvReconnected
	// The session has ended; Err says why.
	EvClosed
	// A mark put in the stream by Barrier: close Mark when it is reached.
	EvMark
)

// Event is what a Session reports: server events and its own state.
type Event struct {
	Kind    EventKind
	Frame   *protocol.Frame
	Wait    time.Duration // EvReconnecting: time until the next attempt
	Attempt int           // EvReconnecting: attempts so far
	// Addr is, on EvReconnecting, the address the next attempt goes to;
	// on EvReconnected, the address of the node now connected to.
	Addr string
	Err  error         // EvReconnecting: why the connection dropped; EvClosed: why it ended
	Mark chan struct{} // EvMark: to close when every earlier event is handled
}

// Session is a logged-in chat session that survives its connections.
//
// Requests made with Do are remembered until their reply arrives; if the
// connection drops first, they are sent again on the next one, so a message
// is never lost. Messages carry an idempotency key, so the server stores a
// re-sent message once. What the session writes is paced to the rate the
// server announced, and a request the server refuses as over its rate is
// sent again after the wait it names, never handed back as an error. On
// reconnect the session resumes with its token and asks for everything
// after the last id it saw. Each message and recall id is handed out at
// most once in the session's life: repeats, live or from history, are
// dropped.
//
// A session may know several addresses of one chat service, the nodes of
// a cluster: those in Options, then those the servers' welcome frames
// list. Every reconnect, and every refresh, goes to the address after the
// one last used, so that a dead node is not the first one tried again; an
// error with code unavailable (the node cannot serve, and did not process
// the request) drops the connection and moves on too, and the request is
// sent again through the next node. The backoff between attempts applies
// once every address has failed in a row.
type Session struct {
	opts   Options
	events chan Event

	mu      sync.Mutex
	c       *conn // nil while disconnected
	welcome *protocol.Frame
	loginOK *protocol.Frame
	token   string
	shown   shown  // what has been handed out
	floor   uint64 // the server's word on how far the last login's catch-up reached
	resumed bool   // a login has succeeded: later ones resume
	nextID  uint64
	calls   []*call // waiting for replies, in the order they were made
	state   State
	addrs   []string // every address known, those in Options first
	at      int      // index in addrs of the node used last
	closed  bool
	endErr  error

	evMu     sync.RWMutex // held to send a Barrier's mark, and to close events
	evClosed bool

	refresh chan struct{} // capacity 1
	done    chan struct{} // closed when the session ends
	runDone chan struct{}
}

// State is the connection state of a Session.
type State int

// States.
const (
	Connected State = iota
	Reconnecting
	Closed
)

func (s State) String() string {
	switch s {
	case Connected:
		return "connected"
	case Reconnecting:
		return "reconnecting"
	}
	return "closed"
}

type call struct {
	f       *protocol.Frame
	reply   chan *protocol.Frame // capacity 1
	refused int                  // times the server refused it as over the rate
}

// Connect dials, logs in and returns a session. A wrong password, a bad
// name or an unreachable server is reported here, not retried.
func Connect(ctx context.Context, opts Options) (*Session, error) {
	if opts.MaxBackoff == 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.Events == 0 {
		opts.Events = 1024
	}
	s := &Session{
		opts:    opts,
		addrs:   mergeAddrs(nil, append([]string{opts.Addr}, opts.Addrs...)...),
		events:  make(chan Event, opts.Events),
		token:   opts.Token,
		refresh: make(chan struct{}, 1),
		done:    make(chan struct{}),
		runDone: make(chan struct{}),
	}
	if len(s.addrs) == 0 {
		return nil, errors.New("no chat server address")
	}
	// The first that answers, in order. A refusal (a wrong password, a
	// bad name) is the service's answer, not a node's trouble: it ends
	// the search.
	var errs []error
	for i := 0; i < len(s.addrs); i++ {
		c, err := s.connectTo(ctx, i)
		if err == nil {
			go s.run(c)
			return s, nil
		}
		if len(s.addrs) == 1 || !transient(err) || ctx.Err() != nil {
			return nil, err
		}
		errs = append(errs, fmt.Errorf("%s: %w", s.addrs[i], err))
	}
	return nil, fmt.Errorf("no chat server answered: %w", errors.Join(errs...))
}

// transient reports whether a failure to connect or log in may pass: the
// node is down, busy, shutting down or unavailable, as opposed to a
// refusal that trying again will not change.
func transient(err error) bool {
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		return true // the network
	}
	switch pe.Code {
	case protocol.CodeBusy, protocol.CodeShutdown, protocol.CodeRateLimited, protocol.CodeInternal,
		protocol.CodeHandshakeTimeout, protocol.CodeUnavailable:
		return true
	}
	return false
}

// DefaultPort is the chat server's TCP port when an address names only a
// host.
const DefaultPort = "7700"

// CompleteAddr completes a chat server address as people type it: a host
// alone (localhost, 192.168.1.20, ::1, [::1]) gets DefaultPort, and
// host:port is kept as it is.
func CompleteAddr(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	if host, port, err := net.SplitHostPort(s); err == nil {
		if port == "" { // "localhost:"
			return net.JoinHostPort(host, DefaultPort)
		}
		return s
	}
	host := s
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		host = s[1 : len(s)-1] // [::1]
	}
	// A bare IPv6 literal (::1, fe80::1%eth0) has colons of its own, so
	// it can carry no port; JoinHostPort puts it in brackets.
	return net.JoinHostPort(host, DefaultPort)
}

// ParseAddrs splits a comma-separated list of chat server addresses and
// completes each with CompleteAddr, leaving out empty entries and
// repeats.
func ParseAddrs(list string) []string {
	return mergeAddrs(nil, strings.Split(list, ",")...)
}

// maxAddrs bounds the addresses a session keeps, so that a server that
// lists endless nodes cannot make the list grow without end.
const maxAddrs = 64

// mergeAddrs appends to list the addresses in more that it does not hold
// yet, completed with CompleteAddr, up to maxAddrs in all.
func mergeAddrs(list []string, more ...string) []string {
	for _, a := range more {
		a = CompleteAddr(a)
		if a != "" && !slices.Contains(list, a) && len(list) < maxAddrs {
			list = append(list, a)
		}
	}
	return list
}

// Addr is the address of the node the session is connected to, or while
// it reconnects, of the one it used last.
func (s *Session) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addrs[s.at]
}

// Addrs are the addresses the session knows: those it was given, then
// the nodes the servers listed.
func (s *Session) Addrs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.addrs)
}

// nextAddr is the index of the address after the one used last.
func (s *Session) nextAddr() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return (s.at + 1) % len(s.addrs)
}

// connectTo dials the address at index i of the list and logs in, with
// the token if there is one and the password if the token is refused.
// It becomes the address used last, whether or not it answers.
func (s *Session) connectTo(ctx context.Context, i int) (*conn, error) {
	s.mu.Lock()
	s.at = i
	addr := s.addrs[i]
	s.mu.Unlock()
	c, err := dial(ctx, addr, s.opts.TLS)
	if err != nil {
		return nil, err
	}
	if len(c.welcome.Nodes) > 0 {
		s.mu.Lock()
		for _, n := range c.welcome.Nodes {
			s.addrs = mergeAddrs(s.addrs, n.TCP)
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	token, since, resume := s.token, max(s.shown.lastLive, s.floor), s.resumed
	s.mu.Unlock()
	var ok *protocol.Frame
	var early []*protocol.Frame
	if token != "" {
		ok, early, err = c.login(ctx, &protocol.Frame{Type: protocol.TypeLogin, ID: s.newID(), Name: s.opts.Name, Token: token, Since: since, Resume: resume})
		if IsCode(err, protocol.CodeBadToken) && s.opts.Password != "" {
			err = nil
			ok = nil
		}
	}
	if ok == nil && err == nil {
		if s.opts.Password == "" {
			err = &protocol.Error{Code: protocol.CodeBadToken, Message: "the saved login has expired; a password is needed"}
		} else {
			ok, early, err = c.login(ctx, &protocol.Frame{Type: protocol.TypeLogin, ID: s.newID(), Name: s.opts.Name, Password: s.opts.Password, Since: since, Resume: resume})
		}
	}
	if err != nil {
		c.close()
		return nil, err
	}
	s.mu.Lock()
	s.welcome, s.loginOK = c.welcome, ok
	if ok.Token != "" {
		s.token = ok.Token
	}
	s.floor = max(s.floor, ok.Since)
	s.resumed = true
	s.shown.me = nameKey(ok.Name)
	s.shown.loggedIn(ok.Rooms)
	s.c = c
	s.state = Connected
	// Requests still waiting for replies go first, in the order they
	// were made; any made from now on queue behind them.
	for _, cl := range s.calls {
		c.send(cl.f)
	}
	s.mu.Unlock()
	// What came with the login is observed now, before the caller has the
	// session, so that a request made right after login (/download of a
	// file in the history shown) knows of it. The reader emits it later.
	// A fresh login's private messages are those no other device of the
	// user received: they do not continue a conversation's live stream.
	kept := early[:0]
	for _, f := range early {
		if IsLogEntry(f.Type) {
			if !s.note(f, !resume && f.Room == "") {
				continue
			}
		}
		kept = append(kept, f)
	}
	s.mu.Lock()
	s.shown.reply() // the login's reply ends the history it brought
	s.mu.Unlock()
	c.early, c.more = kept, ok.More > 0
	return c, nil
}

// Notify sends a frame that gets no reply, such as typing, if the
// session is connected; it is dropped otherwise, never kept for a
// reconnect. It is paced with the requests.
func (s *Session) Notify(f *protocol.Frame) {
	s.mu.Lock()
	c, up := s.c, s.state == Connected
	s.mu.Unlock()
	if c != nil && up {
		c.send(f)
	}
}

// IsLogEntry reports whether events of type t are entries of the
// server's message log, whose ids count for catch-up: messages, recalls,
// edits and reactions.
func IsLogEntry(t string) bool {
	switch t {
	case protocol.TypeMessage, protocol.TypeRecall, protocol.TypeEdit, protocol.TypeReact:
		return true
	}
	return false
}

func (s *Session) newID() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	return s.nextID
}

// Events returns the channel of events. It is closed after EvClosed.
func (s *Session) Events() <-chan Event { return s.events }

// Done is closed when the session has ended.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err says why the session ended, once Done is closed.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.endErr
}

// Me is the user's name as the server displays it.
func (s *Session) Me() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loginOK.Name
}

// Token is the current resume token.
func (s *Session) Token() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token
}

// Welcome is the server's latest welcome frame.
func (s *Session) Welcome() *protocol.Frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.welcome
}

// LoginReply is the latest login's ok reply: name, rooms, file token.
func (s *Session) LoginReply() *protocol.Frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loginOK
}

// State is the connection state.
func (s *Session) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// LastSeen is the highest id among the live message and recall events the
// session has received.
func (s *Session) LastSeen() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shown.lastLive
}

// NewKey returns a fresh idempotency key for a send.
func NewKey() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Do sends a request and waits for its reply. An error reply comes back as
// a *protocol.Error. If the connection drops before the reply, the request
// is sent again after the reconnect, so Do returns only with a reply, when
// ctx ends, or when the session ends. Give sends a Key so that a re-sent
// message is stored once.
func (s *Session) Do(ctx context.Context, f *protocol.Frame) (*protocol.Frame, error) {
	s.mu.Lock()
	if s.closed {
		err := s.endErr
		s.mu.Unlock()
		if err == nil {
			err = ErrClosed
		}
		return nil, err
	}
	s.nextID++
	f.ID = s.nextID
	cl := &call{f: f, reply: make(chan *protocol.Frame, 1)}
	s.calls = append(s.calls, cl)
	if s.c != nil {
		// Queued under the lock, so that requests go out in the order
		// they were made, behind any a reconnect re-sends.
		s.c.send(f)
	}
	s.mu.Unlock()
	select {
	case r := <-cl.reply:
		if r.Type == protocol.TypeError {
			return r, &protocol.Error{Code: r.Code, Message: r.Message}
		}
		return r, nil
	case <-ctx.Done():
		s.forget(cl)
		return nil, ctx.Err()
	case <-s.done:
		// A reply may have raced the end.
		select {
		case r := <-cl.reply:
			if r.Type == protocol.TypeError {
				return r, &protocol.Error{Code: r.Code, Message: r.Message}
			}
			return r, nil
		default:
		}
		return nil, s.Err()
	}
}

func (s *Session) forget(cl *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c != nil {
		s.c.unqueue(cl.f.ID)
	}
	for i, c := range s.calls {
		if c == cl {
			s.calls = append(s.calls[:i], s.calls[i+1:]...)
			return
		}
	}
}

// Barrier puts a mark in the events channel after every event received so
// far, and returns a channel that the events' reader closes when it gets
// to the mark (it must close Mark on EvMark). After a request's reply, it
// tells when everything that came before the reply has been handled.
func (s *Session) Barrier() <-chan struct{} {
	ch := make(chan struct{})
	// The events channel may not be sent to once it is closed; the
	// session is done by then, which ends the wait below.
	s.evMu.RLock()
	defer s.evMu.RUnlock()
	if s.evClosed {
		close(ch)
		return ch
	}
	select {
	case s.events <- Event{Kind: EvMark, Mark: ch}:
	case <-s.done:
		close(ch)
	}
	return ch
}

// Refresh drops the connection and reconnects at once, keeping the
// session: identity, rooms, unacknowledged requests.
func (s *Session) Refresh() {
	select {
	case s.refresh <- struct{}{}:
	default:
	}
}

// Close ends the session: it says quit to the server and closes the
// connection. It does not wait for outstanding requests; call it after
// their replies.
func (s *Session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.runDone
		return nil
	}
	s.closed = true
	s.endErr = ErrClosed
	c := s.c
	s.mu.Unlock()
	if c != nil {
		c.sendWait(&protocol.Frame{Type: protocol.TypeQuit, ID: s.newID()}, 2*time.Second)
		c.close()
	}
	close(s.done)
	<-s.runDone
	return nil
}

// run owns the connections: it reads from the current one and, when it
// drops, reconnects with backoff unless the session is over.
func (s *Session) run(c *conn) {
	defer close(s.runDone)
	defer func() {
		s.evMu.Lock()
		s.evClosed = true
		close(s.events)
		s.evMu.Unlock()
	}()
	for {
		err := s.readLoop(c)
		failed := 0 // addresses tried since the connection dropped
		if errors.Is(err, errRefresh) {
			// Log in on a new connection before closing this one: the
			// server takes the session over from it, so others see no
			// offline and online announcements for a refresh.
			// With several nodes, a refresh moves to the next one.
			i := s.nextAddr()
			s.emit(Event{Kind: EvReconnecting, Attempt: 1, Err: err, Addr: s.addrAt(i)})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			next, cerr := s.connectTo(ctx, i)
			cancel()
			c.close()
			if cerr == nil {
				c = next
				s.emit(Event{Kind: EvReconnected, Addr: s.Addr()})
				continue
			}
			err = cerr
			failed = 1
		}
		c.close()

		s.mu.Lock()
		s.c = nil
		closed := s.closed
		s.mu.Unlock()
		switch {
		case closed:
			s.end(ErrClosed)
			return
		case errors.Is(err, ErrReplaced):
			s.end(err)
			return
		case !s.opts.Reconnect:
			s.end(fmt.Errorf("connection lost: %w", err))
			return
		}
		var ok bool
		if c, ok = s.reconnect(err, failed); !ok {
			return
		}
		s.emit(Event{Kind: EvReconnected, Addr: s.Addr()})
	}
}

// errRefresh marks a connection dropped on purpose by Refresh.
var errRefresh = errors.New("refresh")

// reconnect dials until it succeeds or the session ends, each attempt to
// the address after the one before; failed addresses were tried already
// (by a refresh). The first retry comes at once after a refresh and
// within a second otherwise. The next address is tried at once after a
// failure, until every address has failed in a row; then the session
// waits, and the waits double, with jitter, up to MaxBackoff.
func (s *Session) reconnect(cause error, failed int) (*conn, bool) {
	s.mu.Lock()
	s.state = Reconnecting
	n := len(s.addrs)
	s.mu.Unlock()
	wait := time.Duration(0)
	switch {
	case failed >= n:
		failed = 0
		wait = jitter(500 * time.Millisecond)
	case failed > 0: // the next node may be up
	case !errors.Is(cause, errRefresh):
		wait = jitter(500 * time.Millisecond)
	}
	base := time.Second
	for attempt := failed + 1; ; attempt++ {
		i := s.nextAddr()
		s.emit(Event{Kind: EvReconnecting, Wait: wait, Attempt: attempt, Err: cause, Addr: s.addrAt(i)})
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.refresh:
			t.Stop()
		case <-s.done:
			t.Stop()
			s.end(ErrClosed)
			return nil, false
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		go func() {
			select {
			case <-s.done:
				cancel()
			case <-ctx.Done():
			}
		}()
		c, err := s.connectTo(ctx, i)
		cancel()
		if err == nil {
			return c, true
		}
		if !transient(err) {
			// The server refused us (wrong password now, bad name):
			// retrying will not help.
			s.end(err)
			return nil, false
		}
		select {
		case <-s.done:
			s.end(ErrClosed)
			return nil, false
		default:
		}
		cause = err
		s.mu.Lock()
		n = len(s.addrs)
		s.mu.Unlock()
		if failed++; failed < n {
			wait = 0 // the next node may be up
			continue
		}
		failed = 0
		wait = jitter(base)
		base = min(2*base, s.opts.MaxBackoff)
	}
}

// addrAt is the address at index i of the list.
func (s *Session) addrAt(i int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addrs[i]
}

// jitter returns a duration between d/2 and d.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	n, _ := rand.Int(rand.Reader, big.NewInt(int64(d/2)+1))
	return d/2 + time.Duration(n.Int64())
}

func (s *Session) end(err error) {
	s.mu.Lock()
	s.state = Closed
	if s.endErr == nil {
		s.endErr = err
	}
	wasClosed := s.closed
	s.closed = true
	s.mu.Unlock()
	if !wasClosed {
		close(s.done)
	}
	s.emit(Event{Kind: EvClosed, Err: err})
}

// emit reports an event. Once the session is closed, nobody may be
// reading any more, so it gives up rather than block.
func (s *Session) emit(e Event) {
	select {
	case s.events <- e:
	case <-s.done:
		select {
		case s.events <- e:
		default:
		}
	}
}

// readLoop reads frames until the connection fails, the server closes it,
// or a refresh is asked for.
func (s *Session) readLoop(c *conn) error {
	pingSecs := 60
	if l := c.welcome.Limits; l != nil && l.PingSecs > 0 {
		pingSecs = l.PingSecs
	}
	idle := time.Duration(pingSecs)*time.Second + 15*time.Second
	refreshed := make(chan struct{})
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-s.refresh:
			close(refreshed)
			c.nc.SetReadDeadline(time.Now())
		case <-s.done:
			c.nc.SetReadDeadline(time.Now())
		case <-stop:
		}
	}()
	var bye *protocol.Frame
	probing := false
	early := c.early
	c.early = nil
	if len(early) == 0 && c.more {
		go s.sync(c) // ends with the session, or when the catch-up is complete
	}
	for {
		var f *protocol.Frame
		var err error
		observed := len(early) > 0 // by connect
		if observed {
			f, early = early[0], early[1:]
			if len(early) == 0 && c.more {
				// What came with the login is in; fetch the rest after it.
				go s.sync(c)
			}
		} else {
			c.nc.SetReadDeadline(time.Now().Add(idle))
			// A refresh or close that cut the previous read short may
			// have come before the deadline was pushed back: look again,
			// or the read would wait out the idle time.
			select {
			case <-refreshed:
				return errRefresh
			case <-s.done:
				return ErrClosed
			default:
			}
			f, err = c.read()
		}
		select {
		case <-refreshed:
			return errRefresh
		default:
		}
		if err != nil {
			select {
			case <-s.done:
				return ErrClosed
			default:
			}
			var pe *protocol.Error
			if errors.As(err, &pe) {
				continue // a frame we cannot parse: skip it
			}
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() && !probing {
				// The server has been silent for long: ask if it is there.
				probing = true
				idle = 15 * time.Second
				c.send(&protocol.Frame{Type: protocol.TypePing, ID: s.newID()})
				continue
			}
			if bye != nil {
				return &protocol.Error{Code: bye.Code, Message: bye.Message}
			}
			return err
		}
		if probing {
			probing = false
			idle = time.Duration(pingSecs)*time.Second + 15*time.Second
		}
		switch f.Type {
		case protocol.TypeOK, protocol.TypeError:
			if f.Type == protocol.TypeError && f.Code == protocol.CodeRateLimited {
				s.refused(c, f)
				continue
			}
			if f.Type == protocol.TypeError && f.Code == protocol.CodeUnavailable {
				// The node cannot serve and did not process the
				// request: it stays waiting, and goes again through
				// the next node.
				return &protocol.Error{Code: f.Code, Message: f.Message}
			}
			if s.answer(f) {
				continue
			}
			if f.Type == protocol.TypeError {
				s.emit(Event{Kind: EvFrame, Frame: f})
			}
		case protocol.TypePing:
			c.pong()
		case protocol.TypeBye:
			bye = f
		case protocol.TypeReplaced:
			s.emit(Event{Kind: EvFrame, Frame: f})
			return ErrReplaced
		case protocol.TypeMessage, protocol.TypeRecall, protocol.TypeEdit, protocol.TypeReact:
			if f.Search {
				// A match of a search: neither live nor a page of
				// history, so it is not noted as shown.
				s.emit(Event{Kind: EvFrame, Frame: f})
				continue
			}
			if !observed && !s.note(f, false) {
				continue
			}
			s.emit(Event{Kind: EvFrame, Frame: f})
		case protocol.TypeMember, protocol.TypeKicked:
			s.membership(f)
			s.emit(Event{Kind: EvFrame, Frame: f})
		default:
			s.emit(Event{Kind: EvFrame, Frame: f})
		}
	}
}

// sync fetches the rest of a login's catch-up that the server cut short:
// it asks for everything after the last id received until the server says
// that is all. Live messages are held back by the server meanwhile.
func (s *Session) sync(c *conn) {
	for {
		s.mu.Lock()
		current := s.c == c
		s.mu.Unlock()
		if !current {
			return // a reconnect resumes from where this got to
		}
		r, err := s.Do(context.Background(), &protocol.Frame{Type: protocol.TypeSync, Since: s.LastSeen()})
		if err != nil || r.More == 0 {
			return
		}
	}
}

// answer hands a reply to the call waiting for it, and reports whether
// one was.
func (s *Session) answer(f *protocol.Frame) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.shown.reply()
	if f.Re == 0 {
		return false
	}
	for i, cl := range s.calls {
		if cl.f.ID == f.Re {
			s.calls = append(s.calls[:i], s.calls[i+1:]...)
			if cl.f.Type == protocol.TypeHistory && f.Type == protocol.TypeOK {
				s.shown.pageEnd(requestConv(cl.f), cl.f.Before)
			}
			cl.reply <- f
			return true
		}
	}
	return false
}

// refused puts a request the server refused as over its rate back in the
// connection's queue, and holds the connection's writer for the wait the
// server asked for, with jitter, longer each time the same request is
// refused. The caller never sees the refusal: the request was not
// processed, so sending it again neither loses nor doubles anything.
func (s *Session) refused(c *conn, f *protocol.Frame) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var cl *call
	if f.Re != 0 {
		for _, x := range s.calls {
			if x.f.ID == f.Re {
				cl = x
				break
			}
		}
	}
	if cl == nil {
		// Not a request of ours (a probing ping): slow down all the same.
		c.hold(retryWait(f.RetryMS, 1))
		return
	}
	cl.refused++
	c.hold(retryWait(f.RetryMS, cl.refused))
	if s.c == c {
		c.send(cl.f)
	}
}

// Bounds of the wait before a request refused as over the rate, or a
// login refused as too many at once, is sent again.
const (
	defaultRetry = 250 * time.Millisecond // when the server names no wait
	maxRetry     = 5 * time.Second
)

// retryWait is how long to wait before the attempt after the n-th
// refusal: the server's retry_ms, doubled for each refusal after the
// first, plus up to half of that again as jitter so that clients refused
// together do not come back together; at most maxRetry, unless the server
// asked for more.
func retryWait(retryMS int64, n int) time.Duration {
	base := time.Duration(retryMS) * time.Millisecond
	if base <= 0 {
		base = defaultRetry
	}
	limit := max(maxRetry, base)
	for i := 1; i < n && base < limit; i++ {
		base *= 2
	}
	d := base + randDuration(base/2)
	return min(d, limit)
}

// randDuration returns a random duration in [0, d].
func randDuration(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	n, _ := rand.Int(rand.Reader, big.NewInt(int64(d)+1))
	return time.Duration(n.Int64())
}

// note records a message or recall event, and passes it to Observe. It
// reports false if the event was handed out before and is to be dropped.
// gappy is as for shown.admit.
func (s *Session) note(f *protocol.Frame, gappy bool) bool {
	s.mu.Lock()
	fresh := s.shown.admit(f, gappy)
	s.mu.Unlock()
	if !fresh {
		return false
	}
	if s.opts.Observe != nil {
		s.opts.Observe(f)
	}
	return true
}

// membership notes the user leaving a room or being removed from one.
func (s *Session) membership(f *protocol.Frame) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case f.Type == protocol.TypeKicked:
		s.shown.left(f.Room)
	case (f.Action == protocol.ActionLeave || f.Action == protocol.ActionKick) && nameKey(f.Name) == s.shown.me:
		s.shown.left(f.Room)
	}
}

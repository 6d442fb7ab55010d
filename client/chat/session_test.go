package chat_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-chat/parley/chatserver/server"
	"github.com/parley-chat/parley/chatserver/server/servertest"
	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/client/command"
	"github.com/parley-chat/parley/shared/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func startServer(t *testing.T, mod func(*server.Config)) *server.Server {
	t.Helper()
	return servertest.Start(t, mod)
}

// proxy forwards TCP connections to a target and can cut them all, or stop
// passing what the server sends while still passing what the client sends.
// Its hooks, if set, see each line the client sends and may rewrite each
// line the server sends.
type proxy struct {
	ln     net.Listener
	target string
	hooks  proxyHooks
	mu     sync.Mutex
	conns  []net.Conn
	n      int  // connections accepted
	mute   bool // drop server → client bytes
	wg     sync.WaitGroup
}

type proxyHooks struct {
	up   func(conn int, line []byte) // a client's line, before it is passed on
	down func(line []byte) []byte    // a server's line, rewritten
}

func newProxy(t *testing.T, target string) *proxy { return newProxyWith(t, target, proxyHooks{}) }

func newProxyWith(t *testing.T, target string, hooks proxyHooks) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, hooks: hooks}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.n++
		n := p.n
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); p.upstream(n, c, s); s.Close() }()
		go func() { defer p.wg.Done(); p.downstream(c, s); c.Close() }()
	}
}

// upstream copies client → server.
func (p *proxy) upstream(n int, c, s net.Conn) {
	if p.hooks.up == nil {
		io.Copy(s, c)
		return
	}
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			p.hooks.up(n, line)
			if _, werr := s.Write(line); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// downstream copies server → client unless muted.
func (p *proxy) downstream(c, s net.Conn) {
	br := bufio.NewReader(s)
	for {
		var b []byte
		var err error
		if p.hooks.down != nil {
			b, err = br.ReadBytes('\n')
			if len(b) > 0 {
				b = p.hooks.down(b)
			}
		} else {
			buf := make([]byte, 32<<10)
			var n int
			n, err = br.Read(buf)
			b = buf[:n]
		}
		if len(b) > 0 {
			p.mu.Lock()
			mute := p.mute
			p.mu.Unlock()
			if !mute {
				if _, werr := c.Write(b); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *proxy) setMute(m bool) {
	p.mu.Lock()
	p.mute = m
	p.mu.Unlock()
}

// cut closes every connection through the proxy, as a network failure.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

type user struct {
	t      *testing.T
	s      *chat.Session
	mu     sync.Mutex
	events []chat.Event
	grew   chan struct{}
	done   chan struct{}
}

func connect(t *testing.T, addr, name string, opts ...func(*chat.Options)) *user {
	t.Helper()
	o := chat.Options{Addr: addr, Name: name, Password: "pw-" + name, Reconnect: true}
	for _, f := range opts {
		f(&o)
	}
	s, err := chat.Connect(context.Background(), o)
	if err != nil {
		t.Fatalf("%s: connect: %v", name, err)
	}
	u := &user{t: t, s: s, grew: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(u.done)
		for ev := range s.Events() {
			if ev.Kind == chat.EvMark {
				close(ev.Mark)
				continue
			}
			u.mu.Lock()
			u.events = append(u.events, ev)
			close(u.grew)
			u.grew = make(chan struct{})
			u.mu.Unlock()
		}
	}()
	t.Cleanup(func() { s.Close(); <-u.done })
	return u
}

func (u *user) wait(what string, ok func(chat.Event) bool) chat.Event {
	u.t.Helper()
	deadline := time.After(30 * time.Second)
	seen := 0
	for {
		u.mu.Lock()
		evs := u.events[seen:]
		grew := u.grew
		u.mu.Unlock()
		for _, ev := range evs {
			if ok(ev) {
				return ev
			}
		}
		seen += len(evs)
		select {
		case <-grew:
		case <-deadline:
			u.t.Fatalf("no %s", what)
		}
	}
}

func (u *user) messages(text string) []*protocol.Frame {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []*protocol.Frame
	for _, ev := range u.events {
		if ev.Kind == chat.EvFrame && ev.Frame.Type == protocol.TypeMessage && ev.Frame.Text == text && !ev.Frame.History {
			out = append(out, ev.Frame)
		}
	}
	return out
}

func msg(text string) func(chat.Event) bool {
	return func(ev chat.Event) bool {
		return ev.Kind == chat.EvFrame && ev.Frame.Type == protocol.TypeMessage && ev.Frame.Text == text
	}
}

func kind(k chat.EventKind) func(chat.Event) bool {
	return func(ev chat.Event) bool { return ev.Kind == k }
}

func (u *user) say(room, text string) uint64 {
	u.t.Helper()
	r, err := u.s.Do(context.Background(), &protocol.Frame{Type: protocol.TypeSend, Room: room, Text: text, Key: chat.NewKey()})
	if err != nil {
		u.t.Fatalf("send %q: %v", text, err)
	}
	return r.Msg
}

// A connection cut from outside: the client reconnects by itself and
// catches up on what it missed, once each.
func TestReconnectAfterCutCatchesUp(t *testing.T) {
	srv := startServer(t, nil)
	px := newProxy(t, srv.Addr())
	alice := connect(t, px.addr(), "alice")
	bob := connect(t, srv.Addr(), "bob")
	bob.say("lobby", "before")
	alice.wait("before", msg("before"))

	// Mute the server's side first, so alice does not see what bob sends
	// next, then cut.
	px.setMute(true)
	bob.say("lobby", "during 1")
	bob.say("lobby", "during 2")
	px.cut()
	px.setMute(false)

	alice.wait("reconnecting", kind(chat.EvReconnecting))
	alice.wait("reconnected", kind(chat.EvReconnected))
	alice.wait("during 2", msg("during 2"))
	bob.say("lobby", "after")
	alice.wait("after", msg("after"))
	for _, text := range []string{"before", "during 1", "during 2", "after"} {
		if n := len(alice.messages(text)); n != 1 {
			t.Errorf("alice received %q %d times", text, n)
		}
	}
	if alice.s.State() != chat.Connected {
		t.Errorf("state %v", alice.s.State())
	}
}

// A message whose acknowledgement is lost is sent again after the
// reconnect and stored once.
func TestUnacknowledgedSendIsStoredOnce(t *testing.T) {
	srv := startServer(t, nil)
	px := newProxy(t, srv.Addr())
	alice := connect(t, px.addr(), "alice")
	bob := connect(t, srv.Addr(), "bob")

	px.setMute(true) // the server gets the message, alice never hears back
	done := make(chan uint64)
	go func() {
		r, err := alice.s.Do(context.Background(), &protocol.Frame{Type: protocol.TypeSend, Text: "exactly once", Key: "key-1"})
		if err != nil {
			t.Errorf("send: %v", err)
		}
		done <- r.Msg
	}()
	bob.wait("the message", msg("exactly once"))
	px.cut()
	px.setMute(false)
	id := <-done
	alice.wait("echo", msg("exactly once"))
	bob.say("lobby", "later")
	alice.wait("later", msg("later"))
	if n := len(bob.messages("exactly once")); n != 1 {
		t.Errorf("bob received it %d times", n)
	}
	got := alice.messages("exactly once")
	if len(got) != 1 || got[0].ID != id {
		t.Errorf("alice's echoes %v, reply id %d", got, id)
	}
}

// /refresh reconnects at once and keeps the identity, the rooms and the
// current conversation.
func TestRefreshKeepsEverything(t *testing.T) {
	srv := startServer(t, nil)
	alice := connect(t, srv.Addr(), "alice")
	bob := connect(t, srv.Addr(), "bob")
	r := command.NewRunner(alice.s)
	ctx := context.Background()
	if _, err := r.Run(ctx, "/join den"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(ctx, "/switch @bob"); err != nil {
		t.Fatal(err)
	}
	token := alice.s.Token()
	if _, err := r.Run(ctx, "/refresh"); err != nil {
		t.Fatal(err)
	}
	ev := alice.wait("reconnecting", kind(chat.EvReconnecting))
	if ev.Wait != 0 {
		t.Errorf("refresh waited %v before reconnecting", ev.Wait)
	}
	alice.wait("reconnected", kind(chat.EvReconnected))
	if r.Current != (command.Conv{With: "bob"}) {
		t.Errorf("current conversation after refresh: %v", r.Current)
	}
	if alice.s.Me() != "alice" || alice.s.Token() != token {
		t.Errorf("identity after refresh: %q token changed %v", alice.s.Me(), alice.s.Token() != token)
	}
	rooms := alice.s.LoginReply().Rooms
	if len(rooms) != 2 || rooms[1].Name != "den" {
		t.Errorf("rooms after refresh: %+v", rooms)
	}
	if _, err := r.Run(ctx, "to bob, after refresh"); err != nil {
		t.Fatal(err)
	}
	bob.wait("private message", msg("to bob, after refresh"))
	if _, err := r.Run(ctx, "/switch den"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(ctx, "in den"); err != nil {
		t.Errorf("still a member of den: %v", err)
	}
}

// A replaced session ends and never reconnects by itself.
func TestReplacedStaysDisconnected(t *testing.T) {
	srv := startServer(t, nil)
	old := connect(t, srv.Addr(), "alice")
	connect(t, srv.Addr(), "alice")
	old.wait("closed", kind(chat.EvClosed))
	select {
	case <-old.s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the replaced session did not end")
	}
	if !errors.Is(old.s.Err(), chat.ErrReplaced) {
		t.Errorf("error %v, want ErrReplaced", old.s.Err())
	}
	old.s.Refresh() // even a refresh does nothing now
	if _, err := old.s.Do(context.Background(), &protocol.Frame{Type: protocol.TypePing}); !errors.Is(err, chat.ErrReplaced) {
		t.Errorf("request on a replaced session: %v", err)
	}
	old.mu.Lock()
	defer old.mu.Unlock()
	for _, ev := range old.events {
		if ev.Kind == chat.EvReconnecting {
			t.Error("the replaced session tried to reconnect")
		}
	}
}

// When the resume token has expired, the session logs in with the
// password instead.
func TestExpiredTokenFallsBackToPassword(t *testing.T) {
	srv := startServer(t, func(c *server.Config) { c.ResumeTTL = time.Nanosecond })
	alice := connect(t, srv.Addr(), "alice")
	first := alice.s.Token()
	alice.s.Refresh()
	alice.wait("reconnected", kind(chat.EvReconnected))
	if alice.s.Token() == first {
		t.Error("the expired token was kept; the password login should have issued a new one")
	}
	alice.say("lobby", "back")

	// Without a password, an expired token ends the session with a reason.
	tokenOnly := connect(t, srv.Addr(), "bob", func(o *chat.Options) {})
	tok := tokenOnly.s.Token()
	s, err := chat.Connect(context.Background(), chat.Options{Addr: srv.Addr(), Name: "bob", Token: tok})
	if err == nil {
		s.Close()
		t.Fatal("an expired token without a password logged in")
	}
	if !chat.IsCode(err, protocol.CodeBadToken) {
		t.Errorf("error %v, want bad_token", err)
	}
}

// A server restart with SIGTERM: clients are told server_shutdown and come
// back when it returns.
func TestGracefulRestart(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, func(c *server.Config) { c.DataDir = dir })
	addr := srv.Addr()
	alice := connect(t, addr, "alice")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	ev := alice.wait("reconnecting", kind(chat.EvReconnecting))
	if !chat.IsCode(ev.Err, protocol.CodeShutdown) {
		t.Errorf("reconnect cause %v, want server_shutdown", ev.Err)
	}
	startServer(t, func(c *server.Config) { c.DataDir = dir; c.Addr = addr })
	alice.wait("reconnected", kind(chat.EvReconnected))
	alice.say("lobby", fmt.Sprintf("back on %s", addr))
}

// A private message sent while the recipient was offline reaches them at
// their next login, even though the room history they get at login has
// newer ids.
func TestOfflinePrivateMessageArrivesAtLogin(t *testing.T) {
	srv := startServer(t, nil)
	bob := connect(t, srv.Addr(), "bob")
	alice := connect(t, srv.Addr(), "alice")
	bob.s.Close()
	// Bob is offline once the server says so.
	alice.wait("bob offline", func(ev chat.Event) bool {
		return ev.Kind == chat.EvFrame && ev.Frame.Type == protocol.TypePresence &&
			ev.Frame.Name == "bob" && ev.Frame.Status == protocol.StatusOffline
	})
	if _, err := alice.s.Do(context.Background(), &protocol.Frame{Type: protocol.TypeSend, To: "bob", Text: "while you were away"}); err != nil {
		t.Fatal(err)
	}
	alice.say("lobby", "newer lobby message")
	back := connect(t, srv.Addr(), "bob")
	back.wait("the private message", msg("while you were away"))
	if got := back.messages("while you were away"); len(got) != 1 {
		t.Errorf("received %d times as a new message", len(got))
	}
}

// A catch-up larger than the server sends at once comes in parts: the
// session fetches the rest with sync, and gets every message once, in
// order, with live messages held back until it has.
func TestLongCatchUpComesInParts(t *testing.T) {
	srv := startServer(t, func(c *server.Config) { c.MaxQueue = 256 << 10 }) // catch-up parts of 64 KiB
	px := newProxy(t, srv.Addr())
	bob := connect(t, px.addr(), "bob")
	alice := connect(t, srv.Addr(), "alice")
	px.setMute(true)
	text := strings.Repeat("x", 3000)
	const n = 100 // about 300 KiB
	for i := range n {
		alice.say("lobby", fmt.Sprintf("%03d %s", i, text))
	}
	px.cut()
	px.setMute(false)
	bob.wait("reconnected", kind(chat.EvReconnected))
	alice.say("lobby", "after the catch-up")
	bob.wait("the live message", msg("after the catch-up"))

	bob.mu.Lock()
	defer bob.mu.Unlock()
	var got []int
	for _, ev := range bob.events {
		if ev.Kind == chat.EvFrame && ev.Frame.Type == protocol.TypeMessage && strings.HasSuffix(ev.Frame.Text, text) {
			var i int
			fmt.Sscanf(ev.Frame.Text, "%d", &i)
			got = append(got, i)
		}
	}
	if len(got) != n {
		t.Fatalf("bob received %d of %d messages", len(got), n)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("message %d arrived in place %d: %v", v, i, got)
		}
	}
}

// /switch goes only to a room one is in; messages to any other would be
// refused.
func TestSwitchToARoomNotJoined(t *testing.T) {
	srv := startServer(t, nil)
	alice := connect(t, srv.Addr(), "alice")
	r := command.NewRunner(alice.s)
	ctx := context.Background()
	if _, err := r.Run(ctx, "/switch #nowhere"); !chat.IsCode(err, protocol.CodeNotMember) {
		t.Errorf("/switch to a room not joined: %v, want not_member", err)
	}
	if r.Current != command.Lobby {
		t.Errorf("current conversation moved to %v", r.Current)
	}
	if _, err := r.Run(ctx, "/join Den"); err != nil {
		t.Fatal(err)
	}
	r.Run(ctx, "/switch #lobby")
	if out, err := r.Run(ctx, "/switch #DEN"); err != nil || r.Current.Room != "Den" || out.Room != "Den" {
		t.Errorf("/switch #DEN: %v %+v, current %v", err, out, r.Current)
	}
	if _, err := r.Run(ctx, "/join bad name"); !chat.IsCode(err, protocol.CodeBadName) {
		t.Errorf("/join with a space: %v, want the server's bad_name", err)
	}
}

// A refresh is a takeover of the session by its new connection: others
// see no offline and online announcements.
func TestRefreshDoesNotFlapPresence(t *testing.T) {
	srv := startServer(t, nil)
	alice := connect(t, srv.Addr(), "alice")
	bob := connect(t, srv.Addr(), "bob")
	alice.wait("bob online", func(ev chat.Event) bool {
		return ev.Kind == chat.EvFrame && ev.Frame.Type == protocol.TypePresence && ev.Frame.Name == "bob"
	})
	bob.s.Refresh()
	bob.wait("reconnected", kind(chat.EvReconnected))
	bob.say("lobby", "refreshed")
	alice.wait("bob's message", msg("refreshed"))
	alice.mu.Lock()
	defer alice.mu.Unlock()
	for _, ev := range alice.events {
		if ev.Kind == chat.EvFrame && ev.Frame.Type == protocol.TypePresence && ev.Frame.Name == "bob" && ev.Frame.Status == protocol.StatusOffline {
			t.Error("bob's refresh was announced as going offline")
		}
	}
}

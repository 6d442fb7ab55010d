package chat_test

import (
	"context"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley/chatserver/server"
	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/shared/protocol"
)

// deadAddr is an address on which nothing listens: connections to it are
// refused.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// seen is how many events the user has had so far.
func (u *user) seen() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.events)
}

// waitAfter waits for an event that ok accepts among those after the
// first n.
func (u *user) waitAfter(n int, what string, ok func(chat.Event) bool) chat.Event {
	u.t.Helper()
	deadline := time.After(30 * time.Second)
	seen := n
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

// attempts are the reconnect attempts reported after the first n events.
func (u *user) attempts(n int) []chat.Event {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []chat.Event
	for _, ev := range u.events[n:] {
		if ev.Kind == chat.EvReconnecting {
			out = append(out, ev)
		}
	}
	return out
}

func attemptAddrs(evs []chat.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Addr)
	}
	return out
}

// A session given several addresses connects to the first that answers,
// and each reconnect or refresh goes to the address after the one it
// used last, so that a dead node is not the first one tried again.
func TestAddressesInTurn(t *testing.T) {
	b := newProxy(t, startServer(t, nil).Addr())
	c := newProxy(t, startServer(t, nil).Addr())
	dead := deadAddr(t)
	u := connect(t, dead, "alice", func(o *chat.Options) { o.Addrs = []string{b.addr(), c.addr()} })
	if got := u.s.Addr(); got != b.addr() {
		t.Fatalf("connected to %s, want %s, the first that answers", got, b.addr())
	}

	// B drops: C is next.
	n := u.seen()
	b.cut()
	if ev := u.waitAfter(n, "reconnected", kind(chat.EvReconnected)); ev.Addr != c.addr() {
		t.Fatalf("reconnected to %s, want %s", ev.Addr, c.addr())
	}
	if got, want := attemptAddrs(u.attempts(n)), []string{c.addr()}; !slices.Equal(got, want) {
		t.Fatalf("attempts went to %v, want %v", got, want)
	}
	u.say("lobby", "on C")

	// C drops: the dead address is next, and when it fails B is tried
	// at once, without a wait, since not every address has failed yet.
	n = u.seen()
	c.cut()
	if ev := u.waitAfter(n, "reconnected", kind(chat.EvReconnected)); ev.Addr != b.addr() {
		t.Fatalf("reconnected to %s, want %s", ev.Addr, b.addr())
	}
	tries := u.attempts(n)
	if got, want := attemptAddrs(tries), []string{dead, b.addr()}; !slices.Equal(got, want) {
		t.Fatalf("attempts went to %v, want %v", got, want)
	}
	if tries[1].Wait != 0 {
		t.Errorf("waited %v before trying the next node", tries[1].Wait)
	}
	if got := u.s.Addr(); got != b.addr() {
		t.Fatalf("Addr is %s after reconnecting to %s", got, b.addr())
	}

	// A refresh moves on too: to C, the address after B.
	n = u.seen()
	u.s.Refresh()
	if ev := u.waitAfter(n, "reconnected", kind(chat.EvReconnected)); ev.Addr != c.addr() {
		t.Fatalf("refreshed to %s, want %s", ev.Addr, c.addr())
	}
	if got, want := attemptAddrs(u.attempts(n)), []string{c.addr()}; !slices.Equal(got, want) {
		t.Fatalf("refresh attempts went to %v, want %v", got, want)
	}
	u.say("lobby", "on C again")

	// The next refresh passes the dead address, which fails, and lands
	// on B.
	n = u.seen()
	u.s.Refresh()
	if ev := u.waitAfter(n, "reconnected", kind(chat.EvReconnected)); ev.Addr != b.addr() {
		t.Fatalf("refreshed to %s, want %s", ev.Addr, b.addr())
	}
	tries = u.attempts(n)
	if got, want := attemptAddrs(tries), []string{dead, b.addr()}; !slices.Equal(got, want) {
		t.Fatalf("refresh attempts went to %v, want %v", got, want)
	}
	if tries[1].Wait != 0 || tries[1].Attempt != 2 {
		t.Errorf("the attempt after the refresh's failed one: %+v; want attempt 2 at once", tries[1])
	}
}

// Once every address has failed in a row, the session waits before the
// next round, as it does with one address.
func TestAllNodesDownBacksOff(t *testing.T) {
	srv := startServer(t, nil)
	b := newProxy(t, srv.Addr())
	dead1, dead2 := deadAddr(t), deadAddr(t)
	u := connect(t, b.addr(), "alice", func(o *chat.Options) { o.Addrs = []string{dead1, dead2} })
	n := u.seen()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	k := 0
	u.waitAfter(n, "four attempts", func(ev chat.Event) bool {
		if ev.Kind == chat.EvReconnecting {
			k++
		}
		return k == 4
	})
	tries := u.attempts(n)
	if got, want := attemptAddrs(tries[:4]), []string{dead1, dead2, b.addr(), dead1}; !slices.Equal(got, want) {
		t.Fatalf("attempts went to %v, want %v", got, want)
	}
	if !chat.IsCode(tries[0].Err, protocol.CodeShutdown) {
		t.Errorf("first attempt's cause %v, want server_shutdown", tries[0].Err)
	}
	// The first attempt after a drop waits up to half a second, as with
	// one address; the others in the round do not wait; the next round
	// waits between half a second and a second.
	if w := tries[0].Wait; w > 500*time.Millisecond {
		t.Errorf("first attempt after %v", w)
	}
	if tries[1].Wait != 0 || tries[2].Wait != 0 {
		t.Errorf("waits within the round: %v, %v; want none", tries[1].Wait, tries[2].Wait)
	}
	if w := tries[3].Wait; w < 500*time.Millisecond || w > time.Second {
		t.Errorf("wait after every address failed: %v, want 0.5s to 1s", w)
	}
}

// The nodes a server lists in its welcome frame join the session's
// addresses, after those it was given; when the node goes away, the
// session moves to one of them, logs in there, and what it sends is
// stored there.
func TestWelcomeNodesJoinTheList(t *testing.T) {
	b := startServer(t, nil)
	var self atomic.Pointer[string]
	a := startServer(t, func(c *server.Config) {
		c.Nodes = func() []protocol.Node {
			nodes := []protocol.Node{
				{TCP: b.Addr(), HTTP: "http://" + b.HTTPAddr()},
				{HTTP: "http://web-only.example:7701"}, // no TCP door: nothing to add
			}
			if p := self.Load(); p != nil {
				nodes = append([]protocol.Node{{TCP: *p}}, nodes...)
			}
			return nodes
		}
	})
	aAddr := a.Addr()
	self.Store(&aAddr)

	u := connect(t, aAddr, "alice")
	if w := u.s.Welcome(); len(w.Nodes) != 3 || w.Nodes[1].HTTP != "http://"+b.HTTPAddr() {
		t.Fatalf("welcome nodes %+v", w.Nodes)
	}
	if got, want := u.s.Addrs(), []string{aAddr, b.Addr()}; !slices.Equal(got, want) {
		t.Fatalf("addresses %v, want %v", got, want)
	}

	n := u.seen()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if ev := u.waitAfter(n, "reconnected", kind(chat.EvReconnected)); ev.Addr != b.Addr() {
		t.Fatalf("reconnected to %s, want %s", ev.Addr, b.Addr())
	}
	u.say("lobby", "after the move")
	if got := stored(t, b.Addr(), "lobby"); !slices.Equal(got, []string{"after the move"}) {
		t.Fatalf("B holds %q", got)
	}
}

// fakeNode is a real TCP server that speaks just enough of the protocol
// to be a cluster node that lost its database: hello gets welcome, and
// then, depending on mode, the login gets unavailable, or the login gets
// ok and every later request unavailable, or the login gets ok and the
// connection a bye with unavailable.
type fakeNode struct {
	t    *testing.T
	ln   net.Listener
	mode string // "login", "reply" or "bye"

	mu    sync.Mutex
	got   []*protocol.Frame
	conns []net.Conn
	wg    sync.WaitGroup
}

func newFakeNode(t *testing.T, mode string) *fakeNode {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := &fakeNode{t: t, ln: ln, mode: mode}
	n.wg.Add(1)
	go n.accept()
	t.Cleanup(func() {
		ln.Close()
		n.mu.Lock()
		for _, c := range n.conns {
			c.Close()
		}
		n.mu.Unlock()
		n.wg.Wait()
	})
	return n
}

func (n *fakeNode) addr() string { return n.ln.Addr().String() }

func (n *fakeNode) accept() {
	defer n.wg.Done()
	for {
		c, err := n.ln.Accept()
		if err != nil {
			return
		}
		n.mu.Lock()
		n.conns = append(n.conns, c)
		n.mu.Unlock()
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			defer c.Close()
			n.serve(c)
		}()
	}
}

func (n *fakeNode) serve(c net.Conn) {
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r := protocol.NewReader(c, protocol.DefaultMaxFrame)
	write := func(f *protocol.Frame) bool {
		_, err := c.Write(protocol.Encode(f))
		return err == nil
	}
	for {
		line, err := r.ReadFrame()
		if err != nil {
			return
		}
		f, err := protocol.Decode(line)
		if err != nil {
			continue
		}
		n.mu.Lock()
		n.got = append(n.got, f)
		n.mu.Unlock()
		switch {
		case f.Type == protocol.TypeHello:
			write(&protocol.Frame{Type: protocol.TypeWelcome, Version: protocol.Version, Server: "fake-node",
				Limits: &protocol.Limits{Frame: protocol.DefaultMaxFrame, PingSecs: 60}})
		case f.Type == protocol.TypeLogin && n.mode == "login":
			write(&protocol.Frame{Type: protocol.TypeError, Re: f.ID, Code: protocol.CodeUnavailable, Message: "the database is unreachable"})
		case f.Type == protocol.TypeLogin:
			write(&protocol.Frame{Type: protocol.TypeOK, Re: f.ID, Name: f.Name, Token: "token-of-the-fake-node",
				Rooms: []protocol.RoomInfo{{Name: protocol.Lobby, Members: 1, Joined: true}}})
			if n.mode == "bye" {
				write(&protocol.Frame{Type: protocol.TypeBye, Code: protocol.CodeUnavailable, Message: "the message bus is gone"})
				return
			}
		case f.Type == protocol.TypePong || f.Type == protocol.TypeTyping:
		default:
			write(&protocol.Frame{Type: protocol.TypeError, Re: f.ID, Code: protocol.CodeUnavailable, Message: "the database is unreachable"})
		}
	}
}

// received reports whether the fake node got a frame that ok accepts.
func (n *fakeNode) received(ok func(*protocol.Frame) bool) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.ContainsFunc(n.got, ok)
}

// A request answered with unavailable was not processed: the session
// drops that node, moves to the next, and sends the request again there,
// where it is stored once; the caller sees only the reply from the node
// that served it.
func TestUnavailableReplyMovesOn(t *testing.T) {
	b := startServer(t, nil)
	fake := newFakeNode(t, "reply")
	u := connect(t, fake.addr(), "alice", func(o *chat.Options) { o.Addrs = []string{b.Addr()} })
	if got := u.s.Addr(); got != fake.addr() {
		t.Fatalf("connected to %s, want the first address %s", got, fake.addr())
	}
	n := u.seen()
	u.say("lobby", "through the other node")
	if !fake.received(func(f *protocol.Frame) bool { return f.Type == protocol.TypeSend && f.Text == "through the other node" }) {
		t.Fatal("the send never reached the first node")
	}
	tries := u.attempts(n)
	if len(tries) == 0 || !chat.IsCode(tries[0].Err, protocol.CodeUnavailable) || tries[0].Addr != b.Addr() {
		t.Fatalf("reconnect attempts %+v; want one to %s for unavailable", tries, b.Addr())
	}
	if got := u.s.Addr(); got != b.Addr() {
		t.Fatalf("connected to %s, want %s", got, b.Addr())
	}
	if got := stored(t, b.Addr(), "lobby"); !slices.Equal(got, []string{"through the other node"}) {
		t.Fatalf("B holds %q", got)
	}
}

// A node that closes the connection with a bye saying unavailable is
// left for the next one.
func TestUnavailableByeMovesOn(t *testing.T) {
	b := startServer(t, nil)
	fake := newFakeNode(t, "bye")
	u := connect(t, fake.addr(), "alice", func(o *chat.Options) { o.Addrs = []string{b.Addr()} })
	ev := u.wait("reconnecting", kind(chat.EvReconnecting))
	if !chat.IsCode(ev.Err, protocol.CodeUnavailable) || ev.Addr != b.Addr() {
		t.Fatalf("reconnecting for %v to %s; want unavailable, to %s", ev.Err, ev.Addr, b.Addr())
	}
	if ev := u.wait("reconnected", kind(chat.EvReconnected)); ev.Addr != b.Addr() {
		t.Fatalf("reconnected to %s", ev.Addr)
	}
	u.say("lobby", "after the bye")
}

// A login answered with unavailable moves on to the next address at
// once; with one address, Connect reports it.
func TestUnavailableLoginTriesTheNext(t *testing.T) {
	b := startServer(t, nil)
	fake := newFakeNode(t, "login")
	u := connect(t, fake.addr(), "alice", func(o *chat.Options) { o.Addrs = []string{b.Addr()} })
	if got := u.s.Addr(); got != b.Addr() {
		t.Fatalf("connected to %s, want %s", got, b.Addr())
	}
	if !fake.received(func(f *protocol.Frame) bool { return f.Type == protocol.TypeLogin }) {
		t.Fatal("the first node was never asked")
	}

	_, err := chat.Connect(context.Background(), chat.Options{Addr: fake.addr(), Name: "bob", Password: "pw-bob"})
	if !chat.IsCode(err, protocol.CodeUnavailable) {
		t.Fatalf("Connect to the one unavailable node: %v", err)
	}
}

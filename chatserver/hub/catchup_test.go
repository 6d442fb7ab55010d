package hub_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/parley-chat/parley/chatserver/hub"
	"github.com/parley-chat/parley/chatserver/store"
	"github.com/parley-chat/parley/chatserver/store/inmem"
	"github.com/parley-chat/parley/shared/protocol"
)

// gated is a store whose next catch-up read, once armed, waits: it tells
// entered that it has begun and goes on when release is closed.
type gated struct {
	store.Store
	mu      sync.Mutex
	armed   string // "Since", "PrivateTo" or ""
	entered chan struct{}
	release chan struct{}
	open    func() // closes release, once
}

// arm makes the next call of method wait until open is called, or the
// test ends: a test that fails while a read waits still stops the hub.
// entered is closed when that call begins.
func (g *gated) arm(t *testing.T, method string) (entered <-chan struct{}, open func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	release := make(chan struct{})
	g.armed, g.entered, g.release = method, make(chan struct{}), release
	g.open = sync.OnceFunc(func() { close(release) })
	t.Cleanup(g.open)
	return g.entered, g.open
}

func (g *gated) gate(method string) {
	g.mu.Lock()
	if g.armed != method {
		g.mu.Unlock()
		return
	}
	g.armed = ""
	entered, release := g.entered, g.release
	g.mu.Unlock()
	close(entered)
	<-release
}

func (g *gated) Since(ctx context.Context, user string, convs []string, after, upto uint64, limit int) ([]store.Message, error) {
	g.gate("Since")
	return g.Store.Since(ctx, user, convs, after, upto, limit)
}

func (g *gated) PrivateTo(ctx context.Context, user string, after, upto uint64, limit int) ([]store.Message, error) {
	g.gate("PrivateTo")
	return g.Store.PrivateTo(ctx, user, after, upto, limit)
}

// loginWhileReading logs p in with f while the store holds the
// catch-up's call of method; during runs meanwhile, on the test's
// goroutine. It returns the login's reply.
func loginWhileReading(t *testing.T, g *gated, method string, p *peer, f *protocol.Frame, during func()) *protocol.Frame {
	t.Helper()
	entered, open := g.arm(t, method)
	errc := make(chan error, 1)
	go func() {
		s, err := p.hub.Login(context.Background(), p, f)
		if err == nil {
			p.sess = s
		}
		errc <- err
	}()
	<-entered
	during()
	open()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return okReply(t, p, f.ID)
}

// live lists the ids of the messages and recalls p received that are not
// history, in order.
func live(p *peer) []uint64 {
	var ids []uint64
	for _, f := range p.received() {
		if (f.Type == protocol.TypeMessage || f.Type == protocol.TypeRecall) && !f.History {
			ids = append(ids, f.ID)
		}
	}
	return ids
}

func okReply(t *testing.T, p *peer, re uint64) *protocol.Frame {
	t.Helper()
	f, _ := p.find(0, func(f *protocol.Frame) bool { return f.Type == protocol.TypeOK && f.Re == re })
	return f
}

// A resuming login's catch-up is read while the hub goes on serving
// others, and what was published during the read is sent too, in order,
// before the reply; live messages follow.
func TestResumeReadsOffTheHub(t *testing.T) {
	g := &gated{Store: inmem.New()}
	e := newEnv(t, g)
	bob, token, last := awayFromRoom(e)
	want := []uint64{bob.say("r", "missed")}

	back := newPeer(t, e.hub, "alice")
	ok := loginWhileReading(t, g, "Since", back, &protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: "alice", Token: token, Since: last}, func() {
		// The read waits in the store; the hub answers bob meanwhile.
		want = append(want, bob.say("r", "during the read"))
		want = append(want, bob.mustDo(&protocol.Frame{Type: protocol.TypeSend, To: "alice", Text: "private, during"}).Msg)
	})
	if got := live(back); !slices.Equal(got, want) {
		t.Errorf("catch-up ids %v, want %v", got, want)
	}
	if ok.More != 0 || ok.Since != want[len(want)-1] {
		t.Errorf("reply since %d more %d, want since %d", ok.Since, ok.More, want[len(want)-1])
	}
	after := bob.say("r", "after")
	back.next(isMsg("after"))
	if got := live(back); got[len(got)-1] != after || len(got) != len(want)+1 {
		t.Errorf("after the catch-up got %v", got)
	}
}

// A fresh login reads recent history and the private messages waiting
// for it off the hub; what was published during the read follows, and the
// private messages among it count as delivered.
func TestFreshLoginReadsOffTheHub(t *testing.T) {
	g := &gated{Store: inmem.New()}
	e := newEnv(t, g)
	alice, bob := newPeer(t, e.hub, "alice"), newPeer(t, e.hub, "bob")
	alice.mustLogin("pw")
	bob.mustLogin("pw")
	e.hub.Leave(alice.sess)
	want := []uint64{bob.mustDo(&protocol.Frame{Type: protocol.TypeSend, To: "alice", Text: "waiting"}).Msg}

	back := newPeer(t, e.hub, "alice")
	ok := loginWhileReading(t, g, "PrivateTo", back, &protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: "alice", Password: "pw"}, func() {
		want = append(want, bob.say("lobby", "during the read"))
		want = append(want, bob.mustDo(&protocol.Frame{Type: protocol.TypeSend, To: "alice", Text: "private, during"}).Msg)
	})
	if got := live(back); !slices.Equal(got, want) {
		t.Errorf("catch-up ids %v, want %v", got, want)
	}
	if ok.Since != want[len(want)-1] {
		t.Errorf("reply since %d, want %d", ok.Since, want[len(want)-1])
	}

	// Both private messages were handed over: the next fresh login has
	// none waiting.
	e.hub.Leave(back.sess)
	again := newPeer(t, e.hub, "alice")
	again.mustLogin("pw")
	again.mustDo(&protocol.Frame{Type: protocol.TypePing})
	if got := live(again); len(got) != 0 {
		t.Errorf("handed over again: %v", got)
	}
}

// If the user joins a room while its catch-up is read, the read is redone
// for the new set of rooms, so nothing of the new room is missed.
func TestCatchUpRereadAfterJoin(t *testing.T) {
	g := &gated{Store: inmem.New()}
	e := newEnv(t, g)
	alice, bob := newPeer(t, e.hub, "alice"), newPeer(t, e.hub, "bob")
	token := alice.mustLogin("pw").Token
	bob.mustLogin("pw")
	bob.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "new"})
	since := bob.say("lobby", "seen")

	// The second session takes over from the first, which is still
	// online and joins a room during the read.
	second := newPeer(t, e.hub, "alice")
	var id uint64
	loginWhileReading(t, g, "Since", second, &protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: "alice", Token: token, Since: since}, func() {
		alice.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "new"})
		id = bob.say("new", "in the new room")
	})
	if got := live(second); !slices.Contains(got, id) {
		t.Errorf("catch-up %v lacks %d, sent to the room joined during the read", got, id)
	}
}

// A sync, the next part of a catch-up that was cut short, is read off the
// hub too, and the parts together are every message once, in order.
func TestSyncReadsOffTheHub(t *testing.T) {
	g := &gated{Store: inmem.New()}
	e := newEnvWith(t, g, func(c *hub.Config) { c.CatchUp = 3 })
	alice, bob := newPeer(t, e.hub, "alice"), newPeer(t, e.hub, "bob")
	token := alice.mustLogin("pw").Token
	bob.mustLogin("pw")
	since := bob.say("lobby", "seen")
	e.hub.Leave(alice.sess)
	var want []uint64
	for range 5 {
		want = append(want, bob.say("lobby", "missed"))
	}

	back := newPeer(t, e.hub, "alice")
	ok, err := back.loginFrame(&protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: "alice", Token: token, Since: since})
	if err != nil {
		t.Fatal(err)
	}
	if ok.More == 0 {
		t.Fatalf("a catch-up of %d with a limit of 3 was not cut short", len(want))
	}
	entered, open := g.arm(t, "Since")
	done := make(chan struct{})
	go func() {
		defer close(done)
		got := live(back)
		back.hub.Handle(back.sess, &protocol.Frame{Type: protocol.TypeSync, ID: 2, Since: got[len(got)-1]})
	}()
	<-entered
	want = append(want, bob.say("lobby", "during the sync"))
	open()
	<-done
	for re := uint64(2); ; re++ {
		r := okReply(t, back, re)
		if r.More == 0 {
			break
		}
		got := live(back)
		back.hub.Handle(back.sess, &protocol.Frame{Type: protocol.TypeSync, ID: re + 1, Since: got[len(got)-1]})
	}
	if got := live(back); !slices.Equal(got, want) {
		t.Errorf("catch-up and syncs gave %v, want %v", got, want)
	}
	after := bob.say("lobby", "live again")
	back.next(isMsg("live again"))
	if got := live(back); got[len(got)-1] != after {
		t.Errorf("live message after the sync: got %v", got)
	}
}

package hub_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/chatserver/hub"
	"github.com/parley-chat/parley/chatserver/store"
	"github.com/parley-chat/parley/chatserver/store/inmem"
	"github.com/parley-chat/parley/shared/protocol"
)

// gated is a store whose next call of an armed method waits: it tells
// entered that it has begun and goes on when release is closed.
type gated struct {
	store.Store
	mu      sync.Mutex
	armed   string // "Since", "PrivateTo", "PutToken" or ""
	calls   map[string]int
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

// called reports how many times method has been called.
func (g *gated) called(method string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls[method]
}

func (g *gated) gate(method string) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = map[string]int{}
	}
	g.calls[method]++
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

func (g *gated) PutToken(ctx context.Context, hash []byte, user string, expires time.Time) error {
	g.gate("PutToken")
	return g.Store.PutToken(ctx, hash, user, expires)
}

// loginWhileReading logs p in with f while the store holds the
// catch-up's call of method; during runs meanwhile, on the test's
// goroutine. It returns the login's reply.
func loginWhileReading(t *testing.T, g *gated, method string, p *peer, f *protocol.Frame, during func()) *protocol.Frame {
	t.Helper()
	entered, open := g.arm(t, method)
	errc := loginAsync(p, f)
	<-entered
	during()
	open()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return okReply(t, p, f.ID)
}

// privateWaiting registers alice and bob, logs alice out, and has bob
// send her a private message, which waits for her next login.
func privateWaiting(t *testing.T, e *env) (bob *peer, pm uint64) {
	t.Helper()
	alice := newPeer(t, e.hub, "alice")
	bob = newPeer(t, e.hub, "bob")
	alice.mustLogin("pw")
	bob.mustLogin("pw")
	e.hub.Leave(alice.sess)
	return bob, bob.mustDo(&protocol.Frame{Type: protocol.TypeSend, To: "alice", Text: "waiting"}).Msg
}

// loginAsync logs p in with f on a goroutine of its own, and sends the
// login's error, or nil, on the channel it returns.
func loginAsync(p *peer, f *protocol.Frame) <-chan error {
	errc := make(chan error, 1)
	go func() {
		s, err := p.hub.Login(context.Background(), p, f, testAddr)
		if err == nil {
			p.sess = s
		}
		errc <- err
	}()
	return errc
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
	bob, pm := privateWaiting(t, e)
	want := []uint64{pm}

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
// for the new set of rooms, so nothing of the new room is missed; the
// second read too is off the hub.
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
	var want []uint64
	loginWhileReading(t, g, "Since", second, &protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: "alice", Token: token, Since: since}, func() {
		alice.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "new"})
		id = bob.say("new", "in the new room")
		// The read is begun again once this one ends; it waits in
		// the store in turn, and the hub answers bob meanwhile.
		entered, open := g.arm(t, "Since")
		go func() {
			defer open()
			<-entered
			bob.hub.Handle(bob.sess, &protocol.Frame{Type: protocol.TypeSend, ID: 900, Room: "new", Text: "during the second read"})
			if r, _ := bob.await(0, func(f *protocol.Frame) bool { return f.Re == 900 }); r != nil {
				want = append(want, r.Msg)
			}
		}()
	})
	if len(want) == 0 {
		t.Fatal("the hub did not answer during the second read")
	}
	want = append([]uint64{id}, want...)
	if got := live(second); !slices.Equal(got, want) {
		t.Errorf("catch-up %v, want %v: the room joined during the read, and what was sent during the second", got, want)
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

// Of two logins of one name, the one that began later keeps the session
// even if the earlier one's catch-up takes longer: the earlier one is
// refused when its read ends, and replaces nothing.
func TestLaterLoginWins(t *testing.T) {
	g := &gated{Store: inmem.New()}
	e := newEnv(t, g)
	bob, pm := privateWaiting(t, e)

	early, late, err := overtake(t, g, e, "PrivateTo", "alice", func(late *peer) {
		if got := live(late); !slices.Equal(got, []uint64{pm}) {
			t.Fatalf("the later login got %v, want [%d]", got, pm)
		}
	})
	wantReplaced(t, err, "the earlier login, finished last")
	if got := early.received(); len(got) != 0 {
		t.Errorf("the refused login was sent %s", dump(got))
	}
	keepsSession(t, bob, late)
}

// overtake logs name in on a goroutine of its own while the store holds
// that login's call of method, logs name in again meanwhile, runs during
// (if not nil) with the second login's peer, and then lets the first
// login go on. It returns both peers and the first login's error.
func overtake(t *testing.T, g *gated, e *env, method, name string, during func(late *peer)) (early, late *peer, err error) {
	t.Helper()
	entered, open := g.arm(t, method)
	early = newPeer(t, e.hub, name)
	errc := loginAsync(early, &protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: name, Password: "pw"})
	<-entered
	late = newPeer(t, e.hub, name)
	late.mustLogin("pw")
	if during != nil {
		during(late)
	}
	open()
	return early, late, <-errc
}

// wantReplaced fails the test unless err refuses a login as replaced;
// what names the login.
func wantReplaced(t *testing.T, err error, what string) {
	t.Helper()
	if perr, ok := err.(*protocol.Error); !ok || perr.Code != protocol.CodeReplaced {
		t.Fatalf("%s: got %v, want a %s error", what, err, protocol.CodeReplaced)
	}
}

// keepsSession checks that p is still alice's session after a login that
// lost to it: it is open and gets what bob sends her.
func keepsSession(t *testing.T, bob, p *peer) {
	t.Helper()
	after := bob.mustDo(&protocol.Frame{Type: protocol.TypeSend, To: "alice", Text: "after"}).Msg
	p.next(isMsg("after"))
	if got := live(p); got[len(got)-1] != after {
		t.Errorf("the session that won got %v after the refusal", got)
	}
	if closed := p.closedWith(); closed != "" {
		t.Errorf("the session that won was closed: %s", closed)
	}
}

// A login that arrived first but was slow to be checked (here, storing
// its resume token) is refused when it ends after a later login of the
// name: a client that gave up on it and tried again keeps its retry.
func TestSlowCheckedLoginLosesToItsRetry(t *testing.T) {
	g := &gated{Store: inmem.New()}
	e := newEnv(t, g)
	bob, pm := privateWaiting(t, e)

	_, retry, err := overtake(t, g, e, "PutToken", "alice", nil)
	wantReplaced(t, err, "the login that arrived first, checked last")
	if got := live(retry); !slices.Equal(got, []uint64{pm}) {
		t.Errorf("the retry got %v, want [%d]", got, pm)
	}
	keepsSession(t, bob, retry)
}

// A login that registered a name but was overtaken by a later login of
// it, which found the name registered, still makes the new user a member
// of the lobby, announced after their coming online.
func TestOvertakenRegistrationJoinsLobby(t *testing.T) {
	g := &gated{Store: inmem.New()}
	e := newEnv(t, g)
	alice := newPeer(t, e.hub, "alice")
	alice.mustLogin("pw")
	alice.say("", "start") // a message, so that carol's login reads private ones
	_, from := alice.find(0, isMsg("start"))

	if _, _, err := overtake(t, g, e, "PrivateTo", "carol", nil); err == nil {
		t.Fatal("the registering login, finished last, was not refused")
	}
	_, join := alice.find(from, func(f *protocol.Frame) bool {
		return f.Type == protocol.TypeMember && f.Room == protocol.Lobby && f.Name == "carol" && f.Action == protocol.ActionJoin
	})
	_, online := alice.find(from, func(f *protocol.Frame) bool {
		return f.Type == protocol.TypePresence && f.Name == "carol" && f.Status == protocol.StatusOnline
	})
	if online > join {
		t.Errorf("carol's lobby join came before her coming online: %s", dump(alice.received()[from:]))
	}
}

// A fresh login that takes over from an open session keeps its read of
// the private messages that waited while the old session is handed new
// ones live, and gets those too: they were sent while its catch-up was
// read, and follow it as they would have come live. (Beginning the read
// again, as it once did, made them count as received and left them out.)
func TestFreshLoginKeepsItsReadThroughLivePrivateMessages(t *testing.T) {
	g := &gated{Store: inmem.New()}
	e := newEnv(t, g)
	old := newPeer(t, e.hub, "alice")
	old.mustLogin("pw")
	bob := newPeer(t, e.hub, "bob")
	bob.mustLogin("pw")
	bob.say("", "in the lobby") // published after alice's last private message

	entered, open := g.arm(t, "PrivateTo")
	fresh := newPeer(t, e.hub, "alice")
	errc := loginAsync(fresh, &protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: "alice", Password: "pw"})
	<-entered
	reads := g.called("PrivateTo")
	pm := bob.mustDo(&protocol.Frame{Type: protocol.TypeSend, To: "alice", Text: "live"}).Msg
	old.next(isMsg("live"))
	open()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if got := live(fresh); !slices.Contains(got, pm) {
		t.Errorf("the fresh login got %v, without %d", got, pm)
	}
	if n := g.called("PrivateTo") - reads; n != 0 {
		t.Errorf("the read was done again %d times", n)
	}
}

// A fresh login whose read began before another login of the name handed
// over the waiting private messages does not hand them over again: the
// read is begun anew.
func TestFreshLoginRereadAfterHandover(t *testing.T) {
	g := &gated{Store: inmem.New()}
	e := newEnv(t, g)
	_, pm := privateWaiting(t, e)

	// The first login's read waits; the second's begins, and waits too.
	entered, open := g.arm(t, "PrivateTo")
	first := newPeer(t, e.hub, "alice")
	errc1 := loginAsync(first, &protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: "alice", Password: "pw"})
	<-entered
	entered2, open2 := g.arm(t, "PrivateTo")
	second := newPeer(t, e.hub, "alice")
	errc2 := loginAsync(second, &protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: "alice", Password: "pw"})
	<-entered2
	open()
	if err := <-errc1; err != nil {
		t.Fatal(err)
	}
	if got := live(first); !slices.Equal(got, []uint64{pm}) {
		t.Fatalf("the first login got %v, want [%d]", got, pm)
	}
	open2()
	if err := <-errc2; err != nil {
		t.Fatal(err)
	}
	okReply(t, second, 1)
	if got := live(second); len(got) != 0 {
		t.Errorf("the second login was handed %v again", got)
	}
	if closed := first.closedWith(); closed != protocol.CodeReplaced {
		t.Errorf("the first session was not replaced: closed %q", closed)
	}
}

// slowStore holds the next Apply, once armed, and holds the next Since
// after it has read, once armed.
type slowStore struct {
	store.Store
	mu                 sync.Mutex
	applyIn, applyGo   chan struct{}
	sinceRead, sinceGo chan struct{}
}

func (s *slowStore) Apply(ctx context.Context, b []store.Change) error {
	s.mu.Lock()
	in, goOn := s.applyIn, s.applyGo
	s.applyIn, s.applyGo = nil, nil
	s.mu.Unlock()
	if in != nil {
		close(in)
		<-goOn
	}
	return s.Store.Apply(ctx, b)
}

func (s *slowStore) Since(ctx context.Context, user string, convs []string, after, upto uint64, limit int) ([]store.Message, error) {
	msgs, err := s.Store.Since(ctx, user, convs, after, upto, limit)
	s.mu.Lock()
	read, goOn := s.sinceRead, s.sinceGo
	s.sinceRead, s.sinceGo = nil, nil
	s.mu.Unlock()
	if read != nil {
		close(read)
		<-goOn
	}
	return msgs, err
}

// A message given its id before a catch-up's read began, but written and
// published only after the read, is still in the catch-up: the read stops
// at the last id published, not the last given out.
func TestCatchUpStopsAtLastPublished(t *testing.T) {
	st := &slowStore{Store: inmem.New()}
	e := newEnv(t, st)
	alice, bob := newPeer(t, e.hub, "alice"), newPeer(t, e.hub, "bob")
	token := alice.mustLogin("pw").Token
	bob.mustLogin("pw")
	since := bob.say("lobby", "seen")
	e.hub.Leave(alice.sess)

	applyIn, applyGo := make(chan struct{}), make(chan struct{})
	st.mu.Lock()
	st.applyIn, st.applyGo = applyIn, applyGo
	st.mu.Unlock()
	bob.hub.Handle(bob.sess, &protocol.Frame{Type: protocol.TypeSend, ID: 77, Room: "lobby", Text: "slow"})
	<-applyIn // given an id, not yet written

	sinceRead, sinceGo := make(chan struct{}), make(chan struct{})
	st.mu.Lock()
	st.sinceRead, st.sinceGo = sinceRead, sinceGo
	st.mu.Unlock()
	back := newPeer(t, e.hub, "alice")
	errc := loginAsync(back, &protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: "alice", Token: token, Since: since})
	<-sinceRead // the read is done, without the message
	close(applyGo)
	r, _ := bob.find(0, func(f *protocol.Frame) bool { return f.Re == 77 })
	close(sinceGo)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	okReply(t, back, 1)
	if got := live(back); !slices.Equal(got, []uint64{r.Msg}) {
		t.Errorf("catch-up %v, want [%d]", got, r.Msg)
	}
}

// A session replaced while its sync is read gets no answer to the sync,
// and what the sync read does not count as handed over.
func TestTakeoverDuringSync(t *testing.T) {
	g := &gated{Store: inmem.New()}
	e := newEnvWith(t, g, func(c *hub.Config) { c.CatchUp = 1 })
	alice, bob := newPeer(t, e.hub, "alice"), newPeer(t, e.hub, "bob")
	alice.mustLogin("pw")
	bob.mustLogin("pw")
	e.hub.Leave(alice.sess)
	var pms []uint64
	for range 3 {
		pms = append(pms, bob.mustDo(&protocol.Frame{Type: protocol.TypeSend, To: "alice", Text: "pm"}).Msg)
	}
	first := newPeer(t, e.hub, "alice")
	ok, err := first.loginFrame(&protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: "alice", Password: "pw"})
	if err != nil || ok.More == 0 {
		t.Fatalf("login: %v, more %d; want a catch-up cut short", err, ok.More)
	}
	entered, open := g.arm(t, "Since")
	done := make(chan struct{})
	go func() {
		defer close(done)
		first.hub.Handle(first.sess, &protocol.Frame{Type: protocol.TypeSync, ID: 2, Since: pms[0]})
	}()
	<-entered
	second := newPeer(t, e.hub, "alice")
	if _, err := second.loginFrame(&protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: "alice", Token: ok.Token, Since: pms[2]}); err != nil {
		t.Fatal(err)
	}
	open()
	<-done
	second.mustDo(&protocol.Frame{Type: protocol.TypePing})
	for _, f := range first.received() {
		if f.Re == 2 {
			t.Errorf("the replaced session's sync was answered: %s", dump([]*protocol.Frame{f}))
		}
	}
	e.hub.Leave(second.sess)
	third := newPeer(t, e.hub, "alice")
	third.mustLogin("pw")
	third.mustDo(&protocol.Frame{Type: protocol.TypePing})
	if got := live(third); len(got) == 0 || got[0] != pms[1] {
		t.Errorf("a fresh login after the takeover got %v, want %d first: the replaced session's sync counted it handed over", got, pms[1])
	}
}

// A fresh login during whose read more was published than a catch-up
// holds gets the rest with sync, like a resuming one: every message once,
// in order, and live messages after.
func TestFreshLoginLongGap(t *testing.T) {
	g := &gated{Store: inmem.New()}
	e := newEnvWith(t, g, func(c *hub.Config) { c.CatchUp = 10 })
	bob, _ := privateWaiting(t, e)

	var want []uint64
	back := newPeer(t, e.hub, "alice")
	ok := loginWhileReading(t, g, "PrivateTo", back, &protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: "alice", Password: "pw"}, func() {
		for range 25 {
			want = append(want, bob.say("lobby", "during the read"))
		}
	})
	if ok.More == 0 {
		t.Fatalf("25 published during the read with a limit of 10: reply since %d, not cut short", ok.Since)
	}
	for re := uint64(1); ok.More != 0; {
		re++
		got := live(back)
		back.hub.Handle(back.sess, &protocol.Frame{Type: protocol.TypeSync, ID: re, Since: got[len(got)-1]})
		ok = okReply(t, back, re)
	}
	got := live(back)[1:] // after the private message that waited
	if !slices.Equal(got, want) {
		t.Errorf("catch-up and syncs gave %v, want %v", got, want)
	}
	if ok.Since != want[len(want)-1] {
		t.Errorf("last sync's since %d, want %d", ok.Since, want[len(want)-1])
	}
}

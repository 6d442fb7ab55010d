package hub_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-chat/parley/chatserver/auth"
	"github.com/parley-chat/parley/chatserver/event"
	"github.com/parley-chat/parley/chatserver/hub"
	"github.com/parley-chat/parley/chatserver/store"
	"github.com/parley-chat/parley/chatserver/store/inmem"
	"github.com/parley-chat/parley/shared/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// cheap hashing keeps the tests fast; the parameters are not what is tested.
var testParams = auth.Params{Time: 1, MemoryKiB: 64, Threads: 1}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	t     testing.TB
	hub   *hub.Hub
	store store.Store
	clock *clock
	done  chan struct{}
}

func newEnv(t testing.TB, st store.Store) *env {
	t.Helper()
	return newEnvWith(t, st, func(*hub.Config) {})
}

// newEnvWith is newEnv with the hub's configuration changed by set.
func newEnvWith(t testing.TB, st store.Store, set func(*hub.Config)) *env {
	t.Helper()
	if st == nil {
		st = inmem.New()
	}
	clk := &clock{t: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
	cfg := hub.Config{
		Store:  st,
		Hasher: auth.NewHasher(testParams, 2, 64),
		// Tests log in many users at once from one address; the limits
		// have tests of their own.
		Throttle: auth.NewThrottle(auth.Limits{InFlight: 1 << 20, PerMinute: -1, Registrations: -1}, clk.Now),
		Now:      clk.Now,
		FilesToken: func(user string) (string, time.Time, error) {
			return "files-token-for-" + user, clk.Now().Add(time.Minute), nil
		},
	}
	set(&cfg)
	h, err := hub.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, hub: h, store: st, clock: clk, done: make(chan struct{})}
	go func() { h.Run(); close(e.done) }()
	t.Cleanup(e.close)
	return e
}

func (e *env) close() {
	select {
	case <-e.done:
		return
	default:
	}
	e.hub.Close()
	<-e.done
}

// peer is a Peer that records every frame the hub sends it.
type peer struct {
	name   string
	mu     sync.Mutex
	all    []*protocol.Frame
	starts []int         // index in all of each queued chunk's first frame
	grew   chan struct{} // closed and replaced whenever all grows
	cursor int           // where next looks from
	closed string
	closeC chan struct{}
	nextID uint64
	sess   *hub.Session
	hub    *hub.Hub
	t      *testing.T
	addr   netip.Addr // where it logs in from; testAddr if unset
}

// testAddr is where the tests' peers log in from unless they say.
var testAddr = netip.MustParseAddr("192.0.2.1")

func (p *peer) from() netip.Addr {
	if p.addr.IsValid() {
		return p.addr
	}
	return testAddr
}

func newPeer(t *testing.T, h *hub.Hub, name string) *peer {
	return &peer{name: name, grew: make(chan struct{}), closeC: make(chan struct{}), hub: h, t: t}
}

func (p *peer) Flush() {}

// Queue records the frames of ev, checking that the event's kind is
// what its frames say it is.
func (p *peer) Queue(ev *event.Event) bool {
	frames := ev.Frames()
	for _, f := range frames {
		if want := kindOf(f); ev.Kind != want || (ev.Kind == event.Presence) != (ev.Batch != nil) {
			panic(fmt.Sprintf("hub queued a %s event (batch %v) for %s", ev.Kind, ev.Batch != nil, protocol.Encode(f)))
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed != "" {
		return false
	}
	p.starts = append(p.starts, len(p.all))
	p.all = append(p.all, frames...)
	close(p.grew)
	p.grew = make(chan struct{})
	return true
}

// kindOf is the kind of event a frame the hub sends belongs to.
func kindOf(f *protocol.Frame) event.Kind {
	switch f.Type {
	case protocol.TypeOK, protocol.TypeError:
		return event.Reply
	case protocol.TypeMessage:
		return event.Message
	case protocol.TypeRecall:
		return event.Recall
	case protocol.TypePresence:
		return event.Presence
	case protocol.TypeMember:
		return event.Member
	case protocol.TypeOwner:
		return event.Owner
	case protocol.TypeKicked:
		return event.Kicked
	case protocol.TypeReplaced:
		return event.Replaced
	case protocol.TypeTopic:
		return event.Topic
	case protocol.TypeEdit:
		return event.Edit
	case protocol.TypeReact:
		return event.React
	case protocol.TypeNick:
		return event.Nick
	case protocol.TypeTyping:
		return event.Typing
	case protocol.TypeMode:
		return event.Mode
	}
	return 0
}

func (p *peer) Close(code, _ string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed == "" {
		p.closed = code
		close(p.closeC)
	}
}

// closedWith returns the code p was closed with, or "" while it is open.
func (p *peer) closedWith() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

func (p *peer) received() []*protocol.Frame {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*protocol.Frame(nil), p.all...)
}

// find waits for the first frame at or after index from that matches ok,
// and returns it with its index.
func (p *peer) find(from int, ok func(*protocol.Frame) bool) (*protocol.Frame, int) {
	p.t.Helper()
	f, i := p.await(from, ok)
	if f == nil {
		p.t.Fatalf("%s: no matching frame arrived; received %s", p.name, dump(p.received()))
	}
	return f, i
}

// await is find for goroutines other than the test's: it returns nil if
// no matching frame arrives, so that a test stuck waiting fails rather
// than hangs.
func (p *peer) await(from int, ok func(*protocol.Frame) bool) (*protocol.Frame, int) {
	timeout := time.After(10 * time.Second)
	for {
		p.mu.Lock()
		for i := from; i < len(p.all); i++ {
			if ok(p.all[i]) {
				f := p.all[i]
				p.mu.Unlock()
				return f, i
			}
		}
		from = len(p.all)
		grew := p.grew
		p.mu.Unlock()
		select {
		case <-grew:
		case <-timeout:
			return nil, 0
		}
	}
}

// next waits for the next frame matching ok after the last one next found.
func (p *peer) next(ok func(*protocol.Frame) bool) *protocol.Frame {
	p.t.Helper()
	f, i := p.find(p.cursor, ok)
	p.cursor = i + 1
	return f
}

func dump(fs []*protocol.Frame) string {
	var b strings.Builder
	for _, f := range fs {
		b.Write(protocol.Encode(f))
	}
	return b.String()
}

func isType(t string) func(*protocol.Frame) bool {
	return func(f *protocol.Frame) bool { return f.Type == t }
}

func (p *peer) login(password string) (*protocol.Frame, error) {
	return p.loginFrame(&protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: p.name, Password: password})
}

func (p *peer) loginFrame(f *protocol.Frame) (*protocol.Frame, error) {
	p.t.Helper()
	s, err := p.hub.Login(context.Background(), p, f, p.from())
	if err != nil {
		return nil, err
	}
	p.sess = s
	r, _ := p.find(0, func(f *protocol.Frame) bool { return f.Type == protocol.TypeOK && f.Re == 1 })
	return r, nil
}

func (p *peer) mustLogin(password string) *protocol.Frame {
	p.t.Helper()
	ok, err := p.login(password)
	if err != nil {
		p.t.Fatalf("%s: login: %v", p.name, err)
	}
	return ok
}

// do sends a request and waits for its reply.
func (p *peer) do(f *protocol.Frame) *protocol.Frame {
	p.t.Helper()
	p.mu.Lock()
	p.nextID++
	f.ID = 100 + p.nextID
	p.mu.Unlock()
	from := len(p.received())
	p.hub.Handle(p.sess, f)
	r, _ := p.find(from, func(r *protocol.Frame) bool {
		return (r.Type == protocol.TypeOK || r.Type == protocol.TypeError) && r.Re == f.ID
	})
	return r
}

func (p *peer) mustDo(f *protocol.Frame) *protocol.Frame {
	p.t.Helper()
	r := p.do(f)
	if r.Type != protocol.TypeOK {
		p.t.Fatalf("%s: %s: %s %s", p.name, f.Type, r.Code, r.Message)
	}
	return r
}

func (p *peer) expectErr(f *protocol.Frame, code string) *protocol.Frame {
	p.t.Helper()
	r := p.do(f)
	if r.Type != protocol.TypeError || r.Code != code {
		p.t.Fatalf("%s: %s: got %s %s %q, want error %s", p.name, f.Type, r.Type, r.Code, r.Message, code)
	}
	return r
}

func (p *peer) say(room, text string) uint64 {
	p.t.Helper()
	return p.mustDo(&protocol.Frame{Type: protocol.TypeSend, Room: room, Text: text}).Msg
}

func isMsg(text string) func(*protocol.Frame) bool {
	return func(f *protocol.Frame) bool { return f.Type == protocol.TypeMessage && f.Text == text }
}

// Three clients: a room message reaches both others; a private message
// between two of them reaches those two and nothing of it reaches the third.
func TestRoutingThreeClients(t *testing.T) {
	e := newEnv(t, nil)
	alice, bob, carol := newPeer(t, e.hub, "alice"), newPeer(t, e.hub, "bob"), newPeer(t, e.hub, "carol")
	for _, p := range []*peer{alice, bob, carol} {
		p.mustLogin("pw-" + p.name)
	}
	for _, p := range []*peer{alice, bob, carol} {
		p.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "go"})
	}
	id := alice.say("go", "hello room")
	for _, p := range []*peer{alice, bob, carol} {
		f := p.next(isMsg("hello room"))
		if f.ID != id || f.From != "alice" || f.Room != "go" || f.To != "" {
			t.Errorf("%s got %+v", p.name, f)
		}
	}

	pm := alice.mustDo(&protocol.Frame{Type: protocol.TypeSend, To: "bob", Text: "just for bob"}).Msg
	for _, p := range []*peer{alice, bob} {
		f := p.next(isMsg("just for bob"))
		if f.ID != pm || f.From != "alice" || f.To != "bob" || f.Room != "" {
			t.Errorf("%s got %+v", p.name, f)
		}
	}
	// Carol's own later message is published after the private one, so
	// once she has its echo she would have had the private one too.
	carol.say("lobby", "sync")
	carol.next(isMsg("sync"))
	for _, f := range carol.received() {
		if f.ID == pm || strings.Contains(f.Text, "just for bob") || f.To != "" {
			t.Errorf("carol received part of the private message: %s", protocol.Encode(f))
		}
	}
}

func TestTakeover(t *testing.T) {
	e := newEnv(t, nil)
	first := newPeer(t, e.hub, "Alice")
	first.mustLogin("right")
	watcher := newPeer(t, e.hub, "bob")
	watcher.mustLogin("pw")

	{ // wrong password
		intruder := newPeer(t, e.hub, "alice")
		_, err := intruder.login("wrong")
		if pe, ok := err.(*protocol.Error); !ok || pe.Code != protocol.CodeBadCredentials {
			t.Fatalf("login with the wrong password: %v, want bad_credentials", err)
		}
		// The first session is untouched and still works.
		first.say("lobby", "still here")
		first.next(isMsg("still here"))
		for _, f := range first.received() {
			if f.Type == protocol.TypeReplaced {
				t.Fatal("the online session was told it was replaced by a failed login")
			}
		}
		if closed := first.closedWith(); closed != "" {
			t.Fatalf("first session closed: %s", closed)
		}
	}

	{ // right password
		second := newPeer(t, e.hub, "ALICE")
		ok := second.mustLogin("right")
		if ok.Name != "Alice" {
			t.Errorf("login reply name %q, want the registered display name Alice", ok.Name)
		}
		first.next(isType(protocol.TypeReplaced))
		<-first.closeC
		if first.closed != protocol.CodeReplaced {
			t.Errorf("first session closed with %q, want replaced", first.closed)
		}
		// The new session works; the old one gets nothing more.
		second.say("lobby", "new session")
		watcher.next(isMsg("new session"))
		for _, f := range first.received() {
			if f.Text == "new session" {
				t.Error("the replaced session still receives messages")
			}
		}
		// A takeover is not an offline/online flap for others.
		for _, f := range watcher.received() {
			if f.Type == protocol.TypePresence && f.Name == "Alice" && f.Status == protocol.StatusOffline {
				t.Error("takeover announced Alice as offline")
			}
		}
		// The replaced session's connection ending later changes nothing.
		e.hub.Leave(first.sess)
		second.say("lobby", "after leave")
		second.next(isMsg("after leave"))
		who := second.mustDo(&protocol.Frame{Type: protocol.TypeWho})
		for _, m := range who.Members {
			if m.Name == "Alice" && !m.Online {
				t.Error("Alice shown offline after the replaced session left")
			}
		}
	}
}

func TestOwnershipAndKick(t *testing.T) {
	e := newEnv(t, nil)
	alice, bob, carol := newPeer(t, e.hub, "alice"), newPeer(t, e.hub, "bob"), newPeer(t, e.hub, "carol")
	for _, p := range []*peer{alice, bob, carol} {
		p.mustLogin("pw")
	}
	if r := alice.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "#Games"}); r.Owner != "alice" || r.Room != "Games" {
		t.Fatalf("creator's join reply: owner %q room %q", r.Owner, r.Room)
	}
	bob.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "games"})
	carol.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "GAMES"})

	// Only the owner may kick.
	bob.expectErr(&protocol.Frame{Type: protocol.TypeKick, Room: "games", Name: "carol"}, protocol.CodeNotOwner)
	alice.expectErr(&protocol.Frame{Type: protocol.TypeKick, Room: "games", Name: "nobody"}, protocol.CodeNoSuchUser)
	alice.expectErr(&protocol.Frame{Type: protocol.TypeKick, Room: "lobby", Name: "bob"}, protocol.CodeLobby)

	// The owner leaves: bob joined earliest after her, so he owns it now,
	// and everyone in the room is told.
	alice.mustDo(&protocol.Frame{Type: protocol.TypeLeave, Room: "games"})
	for _, p := range []*peer{alice, bob, carol} {
		f := p.next(func(f *protocol.Frame) bool { return f.Type == protocol.TypeOwner && f.Name != "alice" })
		if f.Name != "bob" || f.Room != "Games" {
			t.Errorf("%s: owner event %+v", p.name, f)
		}
	}
	who := carol.mustDo(&protocol.Frame{Type: protocol.TypeWho, Room: "games"})
	if len(who.Members) != 2 || who.Members[0].Name != "bob" || !who.Members[0].Owner {
		t.Errorf("who after succession: %+v", who.Members)
	}

	// Now bob can kick and alice (no longer a member) cannot.
	alice.expectErr(&protocol.Frame{Type: protocol.TypeKick, Room: "games", Name: "carol"}, protocol.CodeNotOwner)
	bob.mustDo(&protocol.Frame{Type: protocol.TypeKick, Room: "games", Name: "carol"})
	k := carol.next(isType(protocol.TypeKicked))
	if k.Room != "Games" || k.By != "bob" {
		t.Errorf("kicked event %+v", k)
	}
	carol.expectErr(&protocol.Frame{Type: protocol.TypeSend, Room: "games", Text: "let me in"}, protocol.CodeNotMember)
	bob.expectErr(&protocol.Frame{Type: protocol.TypeKick, Room: "games", Name: "carol"}, protocol.CodeNotMember)

	// The last member leaves; the next to join owns the room.
	bob.mustDo(&protocol.Frame{Type: protocol.TypeLeave, Room: "games"})
	if r := carol.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "games"}); r.Owner != "carol" {
		t.Errorf("join of an empty room: owner %q, want carol", r.Owner)
	}
}

func TestJoinLeaveEventsAndRooms(t *testing.T) {
	e := newEnv(t, nil)
	alice, bob := newPeer(t, e.hub, "alice"), newPeer(t, e.hub, "bob")
	alice.mustLogin("pw")
	bob.mustLogin("pw")
	alice.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "go"})
	bob.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "go"})
	f := alice.next(func(f *protocol.Frame) bool {
		return f.Type == protocol.TypeMember && f.Name == "bob" && f.Room != "lobby"
	})
	if f.Action != protocol.ActionJoin || f.Room != "go" {
		t.Errorf("join event %+v", f)
	}
	rooms := bob.mustDo(&protocol.Frame{Type: protocol.TypeRooms})
	want := []protocol.RoomInfo{{Name: "lobby", Members: 2, Joined: true}, {Name: "go", Members: 2, Owner: "alice", Joined: true, TopicLock: true}}
	if fmt.Sprint(rooms.Rooms) != fmt.Sprint(want) {
		t.Errorf("rooms = %+v, want %+v", rooms.Rooms, want)
	}
	bob.mustDo(&protocol.Frame{Type: protocol.TypeLeave, Room: "go"})
	f = alice.next(func(f *protocol.Frame) bool { return f.Type == protocol.TypeMember && f.Action == protocol.ActionLeave })
	if f.Name != "bob" {
		t.Errorf("leave event %+v", f)
	}
	bob.expectErr(&protocol.Frame{Type: protocol.TypeLeave, Room: "lobby"}, protocol.CodeLobby)
	bob.expectErr(&protocol.Frame{Type: protocol.TypeLeave, Room: "go"}, protocol.CodeNotMember)
	bob.expectErr(&protocol.Frame{Type: protocol.TypeWho, Room: "nowhere"}, protocol.CodeNoSuchRoom)
	bob.expectErr(&protocol.Frame{Type: protocol.TypeJoin, Room: "bad room"}, protocol.CodeBadName)
	bob.expectErr(&protocol.Frame{Type: protocol.TypeJoin, Room: "bell\x07"}, protocol.CodeBadName)
}

func TestPresence(t *testing.T) {
	e := newEnv(t, nil)
	alice := newPeer(t, e.hub, "alice")
	alice.mustLogin("pw")
	bob := newPeer(t, e.hub, "bob")
	bob.mustLogin("pw")
	f := alice.next(func(f *protocol.Frame) bool { return f.Type == protocol.TypePresence && f.Name == "bob" })
	if f.Status != protocol.StatusOnline {
		t.Errorf("presence %+v", f)
	}
	e.hub.Leave(bob.sess)
	f = alice.next(func(f *protocol.Frame) bool { return f.Type == protocol.TypePresence && f.Name == "bob" })
	if f.Status != protocol.StatusOffline {
		t.Errorf("presence %+v", f)
	}
	who := alice.mustDo(&protocol.Frame{Type: protocol.TypeWho})
	want := []protocol.MemberInfo{{Name: "alice", Online: true}, {Name: "bob", Online: false}}
	if fmt.Sprint(who.Members) != fmt.Sprint(want) {
		t.Errorf("who lobby = %+v, want %+v", who.Members, want)
	}
}

func TestOfflinePrivateMessageDeliveredAtLogin(t *testing.T) {
	e := newEnv(t, nil)
	bob := newPeer(t, e.hub, "bob")
	bob.mustLogin("pw")
	e.hub.Leave(bob.sess)
	alice := newPeer(t, e.hub, "alice")
	alice.mustLogin("pw")
	id := alice.mustDo(&protocol.Frame{Type: protocol.TypeSend, To: "Bob", Text: "while you were out"}).Msg

	bob2 := newPeer(t, e.hub, "bob")
	bob2.mustLogin("pw")
	f := bob2.next(isMsg("while you were out"))
	if f.ID != id || f.From != "alice" || f.To != "bob" || f.History {
		t.Errorf("stored private message arrived as %+v", f)
	}
	// Delivered once: the next fresh login does not get it again.
	e.hub.Leave(bob2.sess)
	bob3 := newPeer(t, e.hub, "bob")
	bob3.mustLogin("pw")
	bob3.mustDo(&protocol.Frame{Type: protocol.TypePing})
	for _, f := range bob3.received() {
		if f.ID == id && !f.History {
			t.Errorf("private message delivered again: %+v", f)
		}
	}
	alice.expectErr(&protocol.Frame{Type: protocol.TypeSend, To: "nobody", Text: "hi"}, protocol.CodeNoSuchUser)
}

func TestMembershipPersistsAcrossLogins(t *testing.T) {
	e := newEnv(t, nil)
	alice := newPeer(t, e.hub, "alice")
	alice.mustLogin("pw")
	alice.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "books"})
	alice.say("books", "chapter one")
	e.hub.Leave(alice.sess)

	again := newPeer(t, e.hub, "alice")
	ok := again.mustLogin("pw")
	if len(ok.Rooms) != 2 || ok.Rooms[1].Name != "books" || !ok.Rooms[1].Joined {
		t.Fatalf("login reply rooms %+v, want lobby and books", ok.Rooms)
	}
	h := again.next(isMsg("chapter one"))
	if !h.History || h.Room != "books" {
		t.Errorf("room history at login: %+v", h)
	}
	again.say("books", "chapter two") // still a member: no join needed
}

func TestHistoryPaging(t *testing.T) {
	e := newEnv(t, nil)
	alice := newPeer(t, e.hub, "alice")
	alice.mustLogin("pw")
	alice.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "log"})
	var ids []uint64
	for i := range 12 {
		ids = append(ids, alice.say("log", fmt.Sprintf("line %d", i)))
	}
	bob := newPeer(t, e.hub, "bob")
	bob.mustLogin("pw")
	bob.expectErr(&protocol.Frame{Type: protocol.TypeHistory, Room: "log"}, protocol.CodeNotMember)
	bob.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "log"})

	page := func(before uint64) ([]*protocol.Frame, *protocol.Frame) {
		n := len(bob.received())
		r := bob.mustDo(&protocol.Frame{Type: protocol.TypeHistory, Room: "log", Before: before, Limit: 5})
		var got []*protocol.Frame
		for _, f := range bob.received()[n:] {
			if f.Type == protocol.TypeMessage {
				got = append(got, f)
			}
		}
		return got, r
	}
	got, r := page(0)
	if len(got) != 5 || got[0].ID != ids[7] || got[4].ID != ids[11] || r.Before != ids[7] || r.Limit != 5 {
		t.Fatalf("newest page: %s reply %+v", dump(got), r)
	}
	for _, f := range got {
		if !f.History {
			t.Error("history message not marked as history")
		}
	}
	got, r = page(r.Before)
	if len(got) != 5 || got[0].ID != ids[2] || got[4].ID != ids[6] {
		t.Fatalf("second page: %s", dump(got))
	}
	got, r = page(r.Before)
	if len(got) != 2 || got[0].ID != ids[0] {
		t.Fatalf("last page: %s", dump(got))
	}
	if got, r = page(r.Before); len(got) != 0 || r.Limit != 0 {
		t.Fatalf("past the beginning: %s %+v", dump(got), r)
	}
}

func TestRecall(t *testing.T) {
	e := newEnv(t, nil)
	alice, bob := newPeer(t, e.hub, "alice"), newPeer(t, e.hub, "bob")
	alice.mustLogin("pw")
	bob.mustLogin("pw")
	first := alice.say("lobby", "oops")
	second := alice.say("lobby", "also oops")

	bob.expectErr(&protocol.Frame{Type: protocol.TypeRecall, Msg: first}, protocol.CodeNotYours)
	alice.expectErr(&protocol.Frame{Type: protocol.TypeRecall, Msg: 9999}, protocol.CodeNoSuchMessage)

	// No id: the sender's last message.
	alice.mustDo(&protocol.Frame{Type: protocol.TypeRecall})
	for _, p := range []*peer{alice, bob} {
		f := p.next(isType(protocol.TypeRecall))
		if f.Msg != second || f.From != "alice" || f.Room != "lobby" || f.ID <= second {
			t.Errorf("%s: recall event %+v", p.name, f)
		}
	}
	alice.expectErr(&protocol.Frame{Type: protocol.TypeRecall, Msg: second}, protocol.CodeNoSuchMessage)

	// Past the window.
	e.clock.Add(2*time.Minute + time.Second)
	alice.expectErr(&protocol.Frame{Type: protocol.TypeRecall, Msg: first}, protocol.CodeRecallExpired)

	// History keeps a tombstone without the text.
	n := len(bob.received())
	bob.mustDo(&protocol.Frame{Type: protocol.TypeHistory, Room: "lobby"})
	var tomb *protocol.Frame
	for _, f := range bob.received()[n:] {
		if f.ID == second {
			tomb = f
		}
	}
	if tomb == nil || !tomb.Recalled || tomb.Text != "" {
		t.Errorf("history entry of the recalled message: %+v", tomb)
	}

	// A private message recall reaches only the two.
	pm := alice.mustDo(&protocol.Frame{Type: protocol.TypeSend, To: "bob", Text: "secret"}).Msg
	alice.mustDo(&protocol.Frame{Type: protocol.TypeRecall, Msg: pm})
	f := bob.next(func(f *protocol.Frame) bool { return f.Type == protocol.TypeRecall && f.Msg == pm })
	if f.To != "bob" || f.Room != "" {
		t.Errorf("private recall event %+v", f)
	}
}

func TestIdempotentSend(t *testing.T) {
	e := newEnv(t, nil)
	alice, bob := newPeer(t, e.hub, "alice"), newPeer(t, e.hub, "bob")
	alice.mustLogin("pw")
	bob.mustLogin("pw")
	a := alice.mustDo(&protocol.Frame{Type: protocol.TypeSend, Text: "once", Key: "k1"}).Msg
	b := alice.mustDo(&protocol.Frame{Type: protocol.TypeSend, Text: "once", Key: "k1"}).Msg
	if a != b {
		t.Errorf("retry with the same key got id %d, first was %d", b, a)
	}
	// Another user may use the same key.
	c := bob.mustDo(&protocol.Frame{Type: protocol.TypeSend, Text: "mine", Key: "k1"}).Msg
	if c == a {
		t.Error("keys of different users collided")
	}
	bob.next(isMsg("mine"))
	count := 0
	for _, f := range bob.received() {
		if f.Text == "once" {
			count++
		}
	}
	if count != 1 {
		t.Errorf("bob received the keyed message %d times", count)
	}
	hist, _ := e.store.History(context.Background(), store.RoomConv("lobby"), 1<<62, 100)
	if len(hist) != 2 {
		t.Errorf("store holds %d messages, want 2", len(hist))
	}
}

// awayFromRoom has alice and bob join room r and alice see a message
// there, then leaves alice's session. It returns bob, alice's resume
// token and the id alice saw last.
func awayFromRoom(e *env) (bob *peer, token string, last uint64) {
	t := e.t.(*testing.T)
	alice := newPeer(t, e.hub, "alice")
	bob = newPeer(t, e.hub, "bob")
	token = alice.mustLogin("pw").Token
	bob.mustLogin("pw")
	alice.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "r"})
	bob.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "r"})
	last = bob.say("r", "seen")
	alice.next(isMsg("seen"))
	e.hub.Leave(alice.sess)
	return bob, token, last
}

func TestResumeCatchUp(t *testing.T) {
	e := newEnv(t, nil)
	bob, token, last := awayFromRoom(e)

	missed := []uint64{bob.say("r", "missed 1"), bob.say("lobby", "missed 2")}
	missed = append(missed, bob.mustDo(&protocol.Frame{Type: protocol.TypeSend, To: "alice", Text: "missed 3"}).Msg)
	bob.mustDo(&protocol.Frame{Type: protocol.TypeRecall, Msg: missed[0]})

	back := newPeer(t, e.hub, "alice")
	if _, err := back.loginFrame(&protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: "alice", Token: "not a token", Since: last}); err == nil {
		t.Fatal("a made-up token was accepted")
	} else if pe, _ := err.(*protocol.Error); pe == nil || pe.Code != protocol.CodeBadToken {
		t.Fatalf("bad token: %v", err)
	}
	back.mustDo2(t, &protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: "alice", Token: token, Since: last})
	back.mustDo(&protocol.Frame{Type: protocol.TypePing})
	var got []uint64
	for _, f := range back.received() {
		if (f.Type == protocol.TypeMessage || f.Type == protocol.TypeRecall) && !f.History {
			got = append(got, f.ID)
		}
	}
	if len(got) != 4 || got[0] != missed[0] || got[1] != missed[1] || got[2] != missed[2] || got[3] <= missed[2] {
		t.Errorf("catch-up ids %v, want %v then the recall", got, missed)
	}

	// An expired token is refused.
	e.hub.Leave(back.sess)
	e.clock.Add(8 * 24 * time.Hour)
	late := newPeer(t, e.hub, "alice")
	if _, err := late.loginFrame(&protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: "alice", Token: token}); err == nil {
		t.Error("an expired token was accepted")
	}
}

func (p *peer) mustDo2(t *testing.T, f *protocol.Frame) {
	t.Helper()
	if _, err := p.loginFrame(f); err != nil {
		t.Fatalf("login: %v", err)
	}
}

func TestBadRequests(t *testing.T) {
	e := newEnv(t, nil)
	alice := newPeer(t, e.hub, "alice")
	alice.mustLogin("pw")
	cases := []struct {
		f    protocol.Frame
		code string
	}{
		{protocol.Frame{Type: "dance"}, protocol.CodeUnknownType},
		{protocol.Frame{Type: protocol.TypeSend, Text: ""}, protocol.CodeBadText},
		{protocol.Frame{Type: protocol.TypeSend, Text: "   "}, protocol.CodeBadText},
		{protocol.Frame{Type: protocol.TypeSend, Text: "\x1b[31mred"}, protocol.CodeBadText},
		{protocol.Frame{Type: protocol.TypeSend, Text: strings.Repeat("x", protocol.MaxTextBytes+1)}, protocol.CodeTooLong},
		{protocol.Frame{Type: protocol.TypeSend, Text: "hi", Room: "nowhere"}, protocol.CodeNoSuchRoom},
		{protocol.Frame{Type: protocol.TypeSend, Text: "hi", Room: "lobby", To: "alice"}, protocol.CodeBadRequest},
		{protocol.Frame{Type: protocol.TypeSend, Kind: "file"}, protocol.CodeBadRequest},
		{protocol.Frame{Type: protocol.TypeSend, Kind: "video", Text: "x"}, protocol.CodeBadRequest},
		{protocol.Frame{Type: protocol.TypeSend, Text: "hi", Key: strings.Repeat("k", 65)}, protocol.CodeBadRequest},
		{protocol.Frame{Type: protocol.TypeLogin, Name: "alice", Password: "pw"}, protocol.CodeAlreadyIn},
	}
	for _, c := range cases {
		f := c.f
		alice.expectErr(&f, c.code)
	}
	// Multi-line text and emoji are fine.
	alice.say("lobby", "two\nlines 🎉 and 中文")
}

func TestLoginRefusals(t *testing.T) {
	e := newEnv(t, nil)
	cases := []struct {
		name, password, token string
		code                  string
	}{
		{"", "pw", "", protocol.CodeBadName},
		{"has space", "pw", "", protocol.CodeBadName},
		{"ctl\x01", "pw", "", protocol.CodeBadName},
		{"#room", "pw", "", protocol.CodeBadName},
		{strings.Repeat("长", protocol.MaxNameRunes+1), "pw", "", protocol.CodeBadName},
		{"alice", "", "", protocol.CodeBadRequest},
		{"alice", strings.Repeat("p", protocol.MaxPasswordBytes+1), "", protocol.CodeBadRequest},
	}
	for _, c := range cases {
		p := newPeer(t, e.hub, c.name)
		_, err := p.loginFrame(&protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: c.name, Password: c.password, Token: c.token})
		if pe, ok := err.(*protocol.Error); !ok || pe.Code != c.code {
			t.Errorf("login %q: %v, want %s", c.name, err, c.code)
		}
	}
	// A Chinese name registers and logs in, and its files token names it.
	p := newPeer(t, e.hub, "小明")
	ok := p.mustLogin("密码")
	if ok.Name != "小明" || ok.FilesToken != "files-token-for-小明" || ok.Token == "" {
		t.Errorf("login reply %+v", ok)
	}
}

func TestDurableAcrossRestart(t *testing.T) {
	st := inmem.New()
	e := newEnv(t, st)
	alice := newPeer(t, e.hub, "alice")
	alice.mustLogin("pw")
	alice.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "keep"})
	id := alice.say("keep", "kept")
	e.close()

	e2 := newEnv(t, st)
	again := newPeer(t, e2.hub, "alice")
	if _, err := again.login("wrong"); err == nil {
		t.Fatal("the account was forgotten: any password works")
	}
	ok := again.mustLogin("pw")
	if len(ok.Rooms) != 2 {
		t.Errorf("rooms after restart %+v", ok.Rooms)
	}
	f := again.next(isMsg("kept"))
	if f.ID != id {
		t.Errorf("id after restart %d, want %d", f.ID, id)
	}
	if next := again.say("keep", "new"); next <= id {
		t.Errorf("message id %d after restart is not above %d", next, id)
	}
}

func TestRegistrationJoinsLobby(t *testing.T) {
	e := newEnv(t, nil)
	alice := newPeer(t, e.hub, "alice")
	alice.mustLogin("pw")
	bob := newPeer(t, e.hub, "bob")
	bob.mustLogin("pw")
	f := alice.next(func(f *protocol.Frame) bool { return f.Type == protocol.TypeMember && f.Name == "bob" })
	if f.Room != protocol.Lobby || f.Action != protocol.ActionJoin {
		t.Errorf("member event %+v", f)
	}
	// A later login of a known user is presence only.
	e.hub.Leave(bob.sess)
	again := newPeer(t, e.hub, "bob")
	again.mustLogin("pw")
	alice.next(func(f *protocol.Frame) bool {
		return f.Type == protocol.TypePresence && f.Name == "bob" && f.Status == protocol.StatusOnline
	})
	alice.mustDo(&protocol.Frame{Type: protocol.TypePing})
	n := 0
	for _, f := range alice.received() {
		if f.Type == protocol.TypeMember && f.Name == "bob" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("alice got %d member events for bob, want 1", n)
	}
}

// While the hub is busy, presence events are gathered and sent together;
// none is lost, and each arrives once.
func TestPresenceUnderLoad(t *testing.T) {
	e := newEnv(t, nil)
	watcher := newPeer(t, e.hub, "watcher")
	watcher.mustLogin("pw")
	const n = 60 // within the hasher's queue, so none is refused as busy
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("user%d", i)
			_, err := e.hub.Login(context.Background(), newPeer(t, e.hub, name),
				&protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: name, Password: "pw"}, testAddr)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Gathered events go out once the hub has nothing else to do: wait
	// for each, then check that none came twice.
	for i := range n {
		name := fmt.Sprintf("user%d", i)
		watcher.find(0, func(f *protocol.Frame) bool {
			return f.Type == protocol.TypePresence && f.Name == name && f.Status == protocol.StatusOnline
		})
	}
	watcher.mustDo(&protocol.Frame{Type: protocol.TypePing})
	seen := map[string]int{}
	for _, f := range watcher.received() {
		if f.Type == protocol.TypePresence && f.Status == protocol.StatusOnline {
			seen[f.Name]++
		}
	}
	for i := range n {
		if c := seen[fmt.Sprintf("user%d", i)]; c != 1 {
			t.Errorf("user%d announced online %d times", i, c)
		}
	}
}

// Presence events wait to be sent together, as Config.PresenceWait says,
// also while others talk; an event of a user whose presence waits sends
// them first, so that a message never arrives before its sender's coming
// online.
func TestPresenceWaitsAndGoesFirst(t *testing.T) {
	e := newEnvWith(t, nil, func(c *hub.Config) { c.PresenceWait, c.PresenceDelay = time.Hour, time.Hour })
	// Register the others first: registering fans out a lobby membership
	// event, which sends the waiting events. The watcher's first message
	// sends the rest, since its own coming online waits among them.
	names := []string{"alice", "bob", "carol"}
	for _, n := range names {
		p := newPeer(t, e.hub, n)
		p.mustLogin("pw")
		e.hub.Leave(p.sess)
	}
	watcher := newPeer(t, e.hub, "watcher")
	watcher.mustLogin("pw")
	watcher.say("", "before")
	_, from := watcher.find(0, isMsg("before"))

	var last *peer
	for _, n := range names {
		last = newPeer(t, e.hub, n)
		last.mustLogin("pw")
	}
	// A reply, or a message of someone already announced, leaves the
	// events waiting.
	watcher.mustDo(&protocol.Frame{Type: protocol.TypePing})
	watcher.say("", "others talk")
	for _, f := range watcher.received()[from:] {
		if f.Type == protocol.TypePresence {
			t.Fatalf("presence sent before its delay or an event of theirs: %s", dump(watcher.received()[from:]))
		}
	}
	last.say("", "hello")
	_, at := watcher.find(from, isMsg("hello"))
	watcher.mu.Lock()
	all, starts := append([]*protocol.Frame(nil), watcher.all...), append([]int(nil), watcher.starts...)
	watcher.mu.Unlock()
	var chunk []*protocol.Frame
	for i, s := range starts {
		if s > from && s < at && all[s].Type == protocol.TypePresence {
			end := len(all)
			if i+1 < len(starts) {
				end = starts[i+1]
			}
			chunk = all[s:end]
		}
	}
	var got []string
	for _, f := range chunk {
		if f.Type == protocol.TypePresence {
			got = append(got, f.Name+" "+f.Status)
		}
	}
	want := []string{"alice online", "bob online", "carol online"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("presence before the message, in one queued chunk: %q, want %q; received %s", got, want, dump(all[from:]))
	}
}

// The hub remembers the last IdemKeys keys: a retry with one of them is
// stored once, a retry with an older key is stored again.
func TestIdempotencyKeysRemembered(t *testing.T) {
	e := newEnvWith(t, nil, func(c *hub.Config) { c.IdemKeys = 3 })
	alice := newPeer(t, e.hub, "alice")
	alice.mustLogin("pw")
	send := func(key string) uint64 {
		return alice.mustDo(&protocol.Frame{Type: protocol.TypeSend, Text: "text of " + key, Key: key}).Msg
	}
	ids := map[string]uint64{}
	for _, k := range []string{"k1", "k2", "k3", "k4", "k5"} {
		ids[k] = send(k)
	}
	for _, k := range []string{"k3", "k4", "k5"} {
		if id := send(k); id != ids[k] {
			t.Errorf("retry of recent key %s stored again as %d, first %d", k, id, ids[k])
		}
	}
	for _, k := range []string{"k1", "k2"} {
		if id := send(k); id <= ids["k5"] {
			t.Errorf("retry of forgotten key %s got id %d, want a new message", k, id)
		}
	}
}

// A private message, which is not a room's fan-out, also sends the waiting
// presence events first: alice learns that bob is online before she reads
// what he wrote, and so does the recall of it.
func TestPresenceGoesBeforePrivateMessages(t *testing.T) {
	e := newEnvWith(t, nil, func(c *hub.Config) { c.PresenceWait, c.PresenceDelay = time.Hour, time.Hour })
	alice := newPeer(t, e.hub, "alice")
	alice.mustLogin("pw")
	bob := newPeer(t, e.hub, "bob")
	bob.mustLogin("pw") // registering fans out, which sends alice's and bob's online
	e.hub.Leave(bob.sess)
	alice.say("", "flush") // sends bob's offline
	_, from := alice.find(0, isMsg("flush"))

	bob = newPeer(t, e.hub, "bob")
	bob.mustLogin("pw")
	id := bob.mustDo(&protocol.Frame{Type: protocol.TypeSend, To: "alice", Text: "psst"}).Msg
	_, at := alice.find(from, isMsg("psst"))
	online := func(start int) int {
		for i, f := range alice.received()[start:] {
			if f.Type == protocol.TypePresence && f.Name == "bob" && f.Status == protocol.StatusOnline {
				return start + i
			}
		}
		return -1
	}
	if i := online(from); i < 0 || i > at {
		t.Errorf("bob's online at %d, his private message at %d: %s", i, at, dump(alice.received()[from:]))
	}

	e.hub.Leave(bob.sess)
	bob = newPeer(t, e.hub, "bob")
	bob.mustLogin("pw")
	bob.mustDo(&protocol.Frame{Type: protocol.TypeRecall, Msg: id})
	_, rc := alice.find(at, func(f *protocol.Frame) bool { return f.Type == protocol.TypeRecall && f.Msg == id })
	if i := online(at + 1); i < 0 || i > rc {
		t.Errorf("bob's online again at %d, his recall at %d: %s", i, rc, dump(alice.received()[at:]))
	}
}

// A membership event of a user whose presence waits sends it first: a
// room's members hear that bob came online before that he joined, and
// before that he left.
func TestPresenceGoesBeforeMembership(t *testing.T) {
	e := newEnvWith(t, nil, func(c *hub.Config) { c.PresenceWait, c.PresenceDelay = time.Hour, time.Hour })
	alice := newPeer(t, e.hub, "alice")
	alice.mustLogin("pw")
	alice.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "r"})
	alice.say("", "start") // sends alice's own online
	_, from := alice.find(0, isMsg("start"))

	before := func(status, action string) {
		t.Helper()
		got := alice.received()[from:]
		p, m := -1, -1
		for i, f := range got {
			if p < 0 && f.Type == protocol.TypePresence && f.Name == "bob" && f.Status == status {
				p = i
			}
			if m < 0 && f.Type == protocol.TypeMember && f.Name == "bob" && f.Action == action {
				m = i
			}
		}
		if p < 0 || m < 0 || p > m {
			t.Errorf("bob %s at %d, %s at %d: %s", status, p, action, m, dump(got))
		}
		from += len(got)
	}
	// Registering makes bob a member of the lobby, which everyone hears
	// after his coming online.
	bob := newPeer(t, e.hub, "bob")
	bob.mustLogin("pw")
	alice.find(from, func(f *protocol.Frame) bool { return f.Type == protocol.TypeMember && f.Room == protocol.Lobby })
	before(protocol.StatusOnline, protocol.ActionJoin)
	e.hub.Leave(bob.sess) // his offline waits

	bob = newPeer(t, e.hub, "bob")
	bob.mustLogin("pw")
	bob.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "r"})
	alice.find(from, func(f *protocol.Frame) bool { return f.Type == protocol.TypeMember && f.Action == protocol.ActionJoin })
	before(protocol.StatusOnline, protocol.ActionJoin)

	e.hub.Leave(bob.sess)
	bob = newPeer(t, e.hub, "bob")
	bob.mustLogin("pw")
	bob.mustDo(&protocol.Frame{Type: protocol.TypeLeave, Room: "r"})
	alice.find(from, func(f *protocol.Frame) bool { return f.Type == protocol.TypeMember && f.Action == protocol.ActionLeave })
	// What waits is bob's offline and then his online, which must come
	// before the leave.
	before(protocol.StatusOnline, protocol.ActionLeave)
}

// A login with no_takeover is refused while the name is online, and the
// online session is left alone; of several such logins at once, of a name
// not yet registered, exactly one gets in.
func TestLoginWithoutTakeover(t *testing.T) {
	e := newEnv(t, nil)
	first := newPeer(t, e.hub, "alice")
	first.mustLogin("right")
	second := newPeer(t, e.hub, "alice")
	_, err := second.loginFrame(&protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: "alice", Password: "right", NoTakeover: true})
	if pe, ok := err.(*protocol.Error); !ok || pe.Code != protocol.CodeNameTaken {
		t.Fatalf("a login without takeover of an online name: %v, want name_taken", err)
	}
	first.say("lobby", "still mine")
	first.next(isMsg("still mine"))
	if closed := first.closedWith(); closed != "" {
		t.Fatalf("the online session was closed: %s", closed)
	}

	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	in, taken := 0, 0
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := newPeer(t, e.hub, "guest")
			_, err := p.loginFrame(&protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: "guest", Password: "pw", NoTakeover: true})
			mu.Lock()
			defer mu.Unlock()
			if pe, ok := err.(*protocol.Error); ok && pe.Code == protocol.CodeNameTaken {
				taken++
			} else if err == nil {
				in++
			} else {
				t.Errorf("login: %v", err)
			}
		}()
	}
	wg.Wait()
	if in != 1 || taken != n-1 {
		t.Fatalf("%d logins without takeover at once: %d in and %d refused as taken, want 1 and %d", n, in, taken, n-1)
	}
}

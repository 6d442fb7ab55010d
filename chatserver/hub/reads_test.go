package hub_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/parley-chat/parley/chatserver/hub"
	"github.com/parley-chat/parley/chatserver/store"
	"github.com/parley-chat/parley/chatserver/store/inmem"
	"github.com/parley-chat/parley/shared/protocol"
)

func (g *gated) History(ctx context.Context, conv string, before uint64, limit int) ([]store.Message, error) {
	g.gate("History")
	return g.Store.History(ctx, conv, before, limit)
}

func (g *gated) Message(ctx context.Context, id uint64) (store.Message, error) {
	g.gate("Message")
	return g.Store.Message(ctx, id)
}

func (g *gated) LastBy(ctx context.Context, user string, max uint64) (store.Message, error) {
	g.gate("LastBy")
	return g.Store.LastBy(ctx, user, max)
}

// requestWhileReading sends f for p while the store holds the request's
// call of method; during runs meanwhile. It returns the reply.
func requestWhileReading(t *testing.T, g *gated, method string, p *peer, f *protocol.Frame, during func()) *protocol.Frame {
	t.Helper()
	entered, open := g.arm(t, method)
	f.ID = 900
	done := make(chan struct{})
	go func() { defer close(done); p.hub.Handle(p.sess, f) }()
	<-entered
	during()
	open()
	<-done
	r, _ := p.find(0, func(r *protocol.Frame) bool { return r.Re == 900 })
	return r
}

// A read for a request, held in the store, holds up nobody else: the hub
// answers bob's message meanwhile. Before reads moved off the hub
// goroutine, bob's send waited for alice's read, and the test timed out.
func TestRequestReadsDoNotHoldUpTheHub(t *testing.T) {
	for _, tc := range []struct {
		name, method string
		f            func(mine uint64) *protocol.Frame
	}{
		{"history", "History", func(uint64) *protocol.Frame { return &protocol.Frame{Type: protocol.TypeHistory, Room: "r"} }},
		{"join history", "History", func(uint64) *protocol.Frame { return &protocol.Frame{Type: protocol.TypeJoin, Room: "r"} }},
		{"recall by id", "Message", func(id uint64) *protocol.Frame { return &protocol.Frame{Type: protocol.TypeRecall, Msg: id} }},
		{"recall of the last", "LastBy", func(uint64) *protocol.Frame { return &protocol.Frame{Type: protocol.TypeRecall} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &gated{Store: inmem.New()}
			e := newEnv(t, g)
			alice, bob := newPeer(t, e.hub, "alice"), newPeer(t, e.hub, "bob")
			alice.mustLogin("pw")
			bob.mustLogin("pw")
			alice.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "r"})
			mine := alice.say("r", "mine")
			r := requestWhileReading(t, g, tc.method, alice, tc.f(mine), func() {
				bob.say("lobby", "not held up")
			})
			if r.Type != protocol.TypeOK {
				t.Errorf("the held request's reply: %+v", r)
			}
		})
	}
}

// A join's history comes before the reply, and what is said in the room
// while the history is read comes after both, live, as if the read had
// been instant.
func TestJoinHistoryBeforeWhatFollows(t *testing.T) {
	g := &gated{Store: inmem.New()}
	e := newEnv(t, g)
	alice, bob := newPeer(t, e.hub, "alice"), newPeer(t, e.hub, "bob")
	alice.mustLogin("pw")
	bob.mustLogin("pw")
	bob.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "r"})
	old := bob.say("r", "before alice came")
	var during uint64
	requestWhileReading(t, g, "History", alice, &protocol.Frame{Type: protocol.TypeJoin, Room: "r"}, func() {
		during = bob.say("r", "while her history is read")
	})
	var got []string
	for _, f := range alice.received() {
		switch {
		case f.Type == protocol.TypeMessage && f.ID == old && f.History:
			got = append(got, "history")
		case f.Type == protocol.TypeOK && f.Re == 900:
			got = append(got, "reply")
		case f.Type == protocol.TypeMessage && f.ID == during && !f.History:
			got = append(got, "live")
		case f.Type == protocol.TypeMember && f.Name == "alice" && f.Room == "r":
			got = append(got, "joined")
		}
	}
	if want := []string{"joined", "history", "reply", "live"}; !slices.Equal(got, want) {
		t.Errorf("alice got %v, want %v", got, want)
	}
}

// A recall looked up off the hub still finds the message just sent, and
// a second recall of it, looked up before the first was stored, is
// refused.
func TestRecallLookedUpOffTheHub(t *testing.T) {
	e := newEnv(t, nil)
	alice := newPeer(t, e.hub, "alice")
	alice.mustLogin("pw")
	alice.say("lobby", "first")
	// Sent and recalled at once, without waiting for the send's reply:
	// "my last message" is this one, not the one before.
	alice.hub.Handle(alice.sess, &protocol.Frame{Type: protocol.TypeSend, ID: 50, Text: "oops"})
	r := alice.do(&protocol.Frame{Type: protocol.TypeRecall})
	sent, _ := alice.find(0, func(f *protocol.Frame) bool { return f.Re == 50 })
	if r.Type != protocol.TypeOK || r.Msg != sent.Msg {
		t.Fatalf("recall of the last message: %+v; want message %d", r, sent.Msg)
	}
	alice.expectErr(&protocol.Frame{Type: protocol.TypeRecall, Msg: sent.Msg}, protocol.CodeNoSuchMessage)
}

// When more is published during a catch-up's read than the hub's recent
// log holds, the rest is read off the hub too, and nothing is missed.
func TestCatchUpTailBeyondRecentLog(t *testing.T) {
	g := &gated{Store: inmem.New()}
	e := newEnvWith(t, g, func(c *hub.Config) { c.RecentLog = 1 })
	bob, token, last := awayFromRoom(e)
	var want []uint64
	back := newPeer(t, e.hub, "alice")
	loginWhileReading(t, g, "Since", back, &protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: "alice", Token: token, Since: last}, func() {
		for range 5 {
			want = append(want, bob.say("r", "during the read"))
		}
	})
	if got := live(back); !slices.Equal(got, want) {
		t.Errorf("catch-up %v, want %v", got, want)
	}
	if n := g.called("Since"); n != 2 {
		t.Errorf("Since was called %d times; want 2: the read, then the tail the log let go", n)
	}
}

// A message recalled while a catch-up is read comes from the recent log
// as its tombstone, never with its text.
func TestCatchUpFromRecentLogHasTombstones(t *testing.T) {
	g := &gated{Store: inmem.New()}
	e := newEnv(t, g)
	bob, token, last := awayFromRoom(e)
	back := newPeer(t, e.hub, "alice")
	var id uint64
	loginWhileReading(t, g, "Since", back, &protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: "alice", Token: token, Since: last}, func() {
		id = bob.say("r", "regretted")
		bob.mustDo(&protocol.Frame{Type: protocol.TypeRecall, Msg: id})
	})
	for _, f := range back.received() {
		if f.Text == "regretted" {
			t.Errorf("the catch-up carried a recalled message's text: %s", protocol.Encode(f))
		}
	}
	if f, _ := back.find(0, func(f *protocol.Frame) bool { return f.ID == id }); !f.Recalled {
		t.Errorf("the recalled message came as %s, want a tombstone", protocol.Encode(f))
	}
}

// A message recalled while a catch-up was read takes its text from the
// edits and the quotes of replies that the catch-up carries from the
// hub's recent log.
func TestCatchUpFromRecentLogForgetsRecalledText(t *testing.T) {
	g := &gated{Store: inmem.New()}
	e := newEnv(t, g)
	bob, token, last := awayFromRoom(e)
	back := newPeer(t, e.hub, "alice")
	var id uint64
	loginWhileReading(t, g, "Since", back, &protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: "alice", Token: token, Since: last}, func() {
		id = bob.say("r", "regretted")
		bob.mustDo(&protocol.Frame{Type: protocol.TypeEdit, Msg: id, Text: "regretted more"})
		bob.mustDo(&protocol.Frame{Type: protocol.TypeSend, Room: "r", Text: "a reply", ReplyTo: id})
		bob.mustDo(&protocol.Frame{Type: protocol.TypeRecall, Msg: id})
	})
	reply, _ := back.find(0, func(f *protocol.Frame) bool { return f.Text == "a reply" })
	if reply.Quote == nil || !reply.Quote.Recalled || reply.Quote.Text != "" {
		t.Errorf("the reply came as %s; want its quote recalled", protocol.Encode(reply))
	}
	for _, f := range back.received() {
		if strings.Contains(string(protocol.Encode(f)), "regretted") {
			t.Errorf("the catch-up carried the recalled text: %s", protocol.Encode(f))
		}
	}
}

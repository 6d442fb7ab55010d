package tcp_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/chatserver/server"
	"github.com/parley-chat/parley/shared/protocol"
)

// Edits, replies and reactions, over real sockets, against a server
// with its SQLite store, restarted in the middle.

// do sends f and returns its reply.
func (c *client) do(f *protocol.Frame) *protocol.Frame {
	c.t.Helper()
	return c.reply(c.send(f))
}

// doSee sends f and returns its reply and the event of type typ that
// comes before the reply.
func (c *client) doSee(f *protocol.Frame, typ string) (reply, ev *protocol.Frame) {
	c.t.Helper()
	id := c.send(f)
	ev = c.event(typ)
	return c.reply(id), ev
}

// event reads until an event of type typ.
func (c *client) event(typ string) *protocol.Frame {
	c.t.Helper()
	return c.until(func(f *protocol.Frame) bool { return f.Type == typ })
}

// ctxShutdown shuts s down, failing the test if that takes long.
func ctxShutdown(t *testing.T, s *server.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

func wantCode(t *testing.T, what string, r *protocol.Frame, code string) {
	t.Helper()
	if r.Type != protocol.TypeError || r.Code != code {
		t.Fatalf("%s: %s; want error %s", what, js(r), code)
	}
	if r.Message == "" || strings.Contains(r.Message, "internal") {
		t.Fatalf("%s: %s; want a message that says what is wrong", what, js(r))
	}
}

func sendText(t *testing.T, c *client, f *protocol.Frame) uint64 {
	t.Helper()
	f.Type = protocol.TypeSend
	r := c.do(f)
	if r.Type != protocol.TypeOK || r.Msg == 0 {
		t.Fatalf("send %s: %s", js(f), js(r))
	}
	return r.Msg
}

// historyOf returns the history of a conversation, newest last.
func historyOf(t *testing.T, c *client, f *protocol.Frame) []*protocol.Frame {
	t.Helper()
	f.Type = protocol.TypeHistory
	id := c.send(f)
	var out []*protocol.Frame
	for {
		g := c.read()
		if g.Re == id {
			if g.Type != protocol.TypeOK {
				t.Fatalf("history %s: %s", js(f), js(g))
			}
			return out
		}
		if g.Type == protocol.TypeMessage && g.History {
			out = append(out, g)
		}
	}
}

func find(t *testing.T, fs []*protocol.Frame, id uint64) *protocol.Frame {
	t.Helper()
	for _, f := range fs {
		if f.ID == id {
			return f
		}
	}
	t.Fatalf("message %d is not among %d frames", id, len(fs))
	return nil
}

func TestEdit(t *testing.T) {
	dir := t.TempDir()
	s := start(t, func(c *server.Config) { c.DataDir = dir })
	alice, bob := login(t, s.Addr(), "alice"), login(t, s.Addr(), "bob")
	carol := login(t, s.Addr(), "carol")
	id := sendText(t, alice, &protocol.Frame{Room: "lobby", Text: "helo wrold"})
	pm := sendText(t, alice, &protocol.Frame{To: "bob", Text: "secret tpyo"})

	r, own := alice.doSee(&protocol.Frame{Type: protocol.TypeEdit, Msg: id, Text: "hello world"}, protocol.TypeEdit)
	if r.Type != protocol.TypeOK || r.Msg != id {
		t.Fatalf("edit: %s", js(r))
	}
	for _, c := range []*client{alice, bob, carol} {
		e := own
		if c != alice {
			e = c.event(protocol.TypeEdit)
		}
		if e.Msg != id || e.Text != "hello world" || e.From != "alice" || e.Room != "lobby" || e.ID <= pm || e.Kind != "" {
			t.Fatalf("edit event: %s", js(e))
		}
	}
	if r, _ := alice.doSee(&protocol.Frame{Type: protocol.TypeEdit, Msg: pm, Text: "secret typo"}, protocol.TypeEdit); r.Type != protocol.TypeOK {
		t.Fatalf("edit of a private message: %s", js(r))
	}
	pmEdit := bob.event(protocol.TypeEdit)
	if pmEdit.Msg != pm || pmEdit.To != "bob" || pmEdit.Text != "secret typo" {
		t.Fatalf("bob's edit event: %s", js(pmEdit))
	}

	// Bad input: each with its own code, and none internal.
	wantCode(t, "editing someone else's message", bob.do(&protocol.Frame{Type: protocol.TypeEdit, Msg: id, Text: "mine now"}), protocol.CodeNotYours)
	wantCode(t, "editing someone else's private message", carol.do(&protocol.Frame{Type: protocol.TypeEdit, Msg: pm, Text: "x"}), protocol.CodeNoSuchMessage)
	wantCode(t, "editing a message that does not exist", alice.do(&protocol.Frame{Type: protocol.TypeEdit, Msg: 9999, Text: "x"}), protocol.CodeNoSuchMessage)
	wantCode(t, "editing without msg", alice.do(&protocol.Frame{Type: protocol.TypeEdit, Text: "x"}), protocol.CodeBadRequest)
	wantCode(t, "editing to empty text", alice.do(&protocol.Frame{Type: protocol.TypeEdit, Msg: id, Text: "  "}), protocol.CodeBadText)
	wantCode(t, "editing to text over the limit", alice.do(&protocol.Frame{Type: protocol.TypeEdit, Msg: id, Text: strings.Repeat("x", protocol.MaxTextBytes+1)}), protocol.CodeTooLong)
	// An edit entry is not a message.
	wantCode(t, "editing an edit", alice.do(&protocol.Frame{Type: protocol.TypeEdit, Msg: pmEdit.ID, Text: "x"}), protocol.CodeNoSuchMessage)
	file := sendText(t, alice, &protocol.Frame{Room: "lobby", Kind: protocol.KindFile, File: &protocol.File{Name: "a.txt", Path: "a.txt", Size: 1}})
	wantCode(t, "editing a file message", alice.do(&protocol.Frame{Type: protocol.TypeEdit, Msg: file, Text: "x"}), protocol.CodeBadRequest)
	gone := sendText(t, alice, &protocol.Frame{Room: "lobby", Text: "oops"})
	if r := alice.do(&protocol.Frame{Type: protocol.TypeRecall, Msg: gone}); r.Type != protocol.TypeOK {
		t.Fatalf("recall: %s", js(r))
	}
	wantCode(t, "editing a recalled message", alice.do(&protocol.Frame{Type: protocol.TypeEdit, Msg: gone, Text: "x"}), protocol.CodeRecalled)

	// History, after a restart, has the new text and the mark.
	alice.nc.Close()
	bob.nc.Close()
	carol.nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	s = start(t, func(c *server.Config) { c.DataDir = dir })
	bob = login(t, s.Addr(), "bob")
	h := historyOf(t, bob, &protocol.Frame{Room: "lobby"})
	if m := find(t, h, id); m.Text != "hello world" || !m.Edited {
		t.Errorf("history of the lobby: %s; want the new text, edited", js(m))
	}
	if m := find(t, h, gone); m.Edited || !m.Recalled {
		t.Errorf("history of the recalled message: %s", js(m))
	}
	if m := find(t, historyOf(t, bob, &protocol.Frame{To: "alice"}), pm); m.Text != "secret typo" || !m.Edited {
		t.Errorf("history of the private conversation: %s", js(m))
	}
	// A client that resumes from before the edit gets it in its catch-up.
	c := dialRaw(t, s.Addr())
	c.hello()
	lid := c.send(&protocol.Frame{Type: protocol.TypeLogin, Name: "carol", Password: "pw", Since: id, Resume: true})
	got := c.until(func(f *protocol.Frame) bool { return f.Type == protocol.TypeEdit || f.Re == lid })
	if got.Type != protocol.TypeEdit || got.Msg != id || got.Text != "hello world" {
		t.Errorf("catch-up from %d: %s; want the edit", id, js(got))
	}
}

func TestReply(t *testing.T) {
	s := start(t, nil)
	alice, bob := login(t, s.Addr(), "alice"), login(t, s.Addr(), "bob")
	if r := alice.do(&protocol.Frame{Type: protocol.TypeJoin, Room: "go"}); r.Type != protocol.TypeOK {
		t.Fatal(js(r))
	}
	q := sendText(t, alice, &protocol.Frame{Room: "lobby", Text: "lunch?\nat noon, say"})
	id := sendText(t, bob, &protocol.Frame{Room: "lobby", Text: "yes", ReplyTo: q})
	m := alice.until(func(f *protocol.Frame) bool { return f.Type == protocol.TypeMessage && f.ID == id })
	want := protocol.Quote{From: "alice", Text: "lunch?…"}
	if m.ReplyTo != q || m.Quote == nil || *m.Quote != want {
		t.Fatalf("the reply: %s; want reply_to %d and quote %+v", js(m), q, want)
	}
	if h := find(t, historyOf(t, bob, &protocol.Frame{Room: "lobby"}), id); h.ReplyTo != q || h.Quote == nil || *h.Quote != want {
		t.Fatalf("the reply in history: %s", js(h))
	}
	// Its quote follows the message it quotes.
	if r := alice.do(&protocol.Frame{Type: protocol.TypeRecall, Msg: q}); r.Type != protocol.TypeOK {
		t.Fatal(js(r))
	}
	if h := find(t, historyOf(t, bob, &protocol.Frame{Room: "lobby"}), id); h.Quote == nil || !h.Quote.Recalled || h.Quote.Text != "" {
		t.Fatalf("the reply to a recalled message in history: %s", js(h))
	}

	inGo := sendText(t, alice, &protocol.Frame{Room: "go", Text: "only in go"})
	pm := sendText(t, alice, &protocol.Frame{To: "bob", Text: "psst"})
	wantCode(t, "replying to a recalled message", bob.do(&protocol.Frame{Type: protocol.TypeSend, Room: "lobby", Text: "x", ReplyTo: q}), protocol.CodeRecalled)
	wantCode(t, "replying to a message that does not exist", bob.do(&protocol.Frame{Type: protocol.TypeSend, Room: "lobby", Text: "x", ReplyTo: 9999}), protocol.CodeNoSuchMessage)
	wantCode(t, "replying to a room one is not in", bob.do(&protocol.Frame{Type: protocol.TypeSend, Room: "lobby", Text: "x", ReplyTo: inGo}), protocol.CodeNotMember)
	wantCode(t, "replying elsewhere", bob.do(&protocol.Frame{Type: protocol.TypeSend, Room: "lobby", Text: "x", ReplyTo: pm}), protocol.CodeNoSuchMessage)
	if r := bob.do(&protocol.Frame{Type: protocol.TypeSend, To: "alice", Text: "what?", ReplyTo: pm}); r.Type != protocol.TypeOK {
		t.Fatalf("a reply in a private conversation: %s", js(r))
	}
	if m := alice.until(func(f *protocol.Frame) bool { return f.Type == protocol.TypeMessage && f.ReplyTo == pm }); m.Quote == nil || m.Quote.Text != "psst" {
		t.Fatalf("the private reply: %s", js(m))
	}
}

func TestReact(t *testing.T) {
	dir := t.TempDir()
	s := start(t, func(c *server.Config) { c.DataDir = dir })
	alice, bob := login(t, s.Addr(), "alice"), login(t, s.Addr(), "bob")
	carol := login(t, s.Addr(), "carol")
	id := sendText(t, alice, &protocol.Frame{Room: "lobby", Text: "ship it?"})

	react := func(c *client, emoji string, on bool) {
		t.Helper()
		r, own := c.doSee(&protocol.Frame{Type: protocol.TypeReact, Msg: id, Emoji: emoji}, protocol.TypeReact)
		if r.Type != protocol.TypeOK || r.On != on {
			t.Fatalf("react %s: %s; want on %v", emoji, js(r), on)
		}
		for _, to := range []*client{alice, bob, carol} {
			e := own
			if to != c {
				e = to.event(protocol.TypeReact)
			}
			if e.Msg != id || e.On != on || e.Room != "lobby" || e.From == "" {
				t.Fatalf("react event: %s; want on %v", js(e), on)
			}
		}
	}
	react(bob, "👍", true)
	react(carol, "👍\ufe0f", true) // the same emoji
	react(alice, "🎉", true)
	react(carol, "👍", false) // sent again: taken back
	react(carol, "🎉", true)

	// Bad input.
	for _, bad := range []string{"", "x", "👍👍", ":+1:", "ok 👍"} {
		wantCode(t, "reaction "+bad, bob.do(&protocol.Frame{Type: protocol.TypeReact, Msg: id, Emoji: bad}), protocol.CodeBadEmoji)
	}
	wantCode(t, "reacting to nothing", bob.do(&protocol.Frame{Type: protocol.TypeReact, Msg: 9999, Emoji: "👍"}), protocol.CodeNoSuchMessage)
	pm := sendText(t, alice, &protocol.Frame{To: "bob", Text: "psst"})
	// In a private conversation, from and to name the conversation.
	r, own := bob.doSee(&protocol.Frame{Type: protocol.TypeReact, Msg: pm, Emoji: "👀"}, protocol.TypeReact)
	if r.Type != protocol.TypeOK || own.From != "bob" || own.To != "alice" || own.Room != "" || own.Text != "" || own.Kind != "" {
		t.Fatalf("a reaction to a private message: %s, event %s", js(r), js(own))
	}
	if e := alice.event(protocol.TypeReact); e.From != "bob" || e.To != "alice" || e.Msg != pm {
		t.Fatalf("alice's event of bob's reaction to her private message: %s", js(e))
	}
	wantCode(t, "reacting to others' private message", carol.do(&protocol.Frame{Type: protocol.TypeReact, Msg: pm, Emoji: "👍"}), protocol.CodeNoSuchMessage)
	gone := sendText(t, alice, &protocol.Frame{Room: "lobby", Text: "oops"})
	if r := alice.do(&protocol.Frame{Type: protocol.TypeRecall, Msg: gone}); r.Type != protocol.TypeOK {
		t.Fatal(js(r))
	}
	wantCode(t, "reacting to a recalled message", bob.do(&protocol.Frame{Type: protocol.TypeReact, Msg: gone, Emoji: "👍"}), protocol.CodeRecalled)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, c := range []*client{alice, bob, carol} {
		c.nc.Close()
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	s = start(t, func(c *server.Config) { c.DataDir = dir })
	bob = login(t, s.Addr(), "bob")
	m := find(t, historyOf(t, bob, &protocol.Frame{Room: "lobby"}), id)
	want := []protocol.Reaction{{Emoji: "👍", Count: 1, Names: []string{"bob"}}, {Emoji: "🎉", Count: 2, Names: []string{"alice", "carol"}}}
	if !slices.EqualFunc(m.Reactions, want, func(a, b protocol.Reaction) bool {
		return a.Emoji == b.Emoji && a.Count == b.Count && slices.Equal(a.Names, b.Names)
	}) {
		t.Fatalf("reactions in history: %s; want %+v", js(m), want)
	}
}

func TestAction(t *testing.T) {
	s := start(t, nil)
	alice, bob := login(t, s.Addr(), "alice"), login(t, s.Addr(), "bob")
	id := sendText(t, alice, &protocol.Frame{Room: "lobby", Kind: protocol.KindAction, Text: "waves"})
	if m := bob.until(func(f *protocol.Frame) bool { return f.Type == protocol.TypeMessage && f.ID == id }); m.Kind != protocol.KindAction || m.Text != "waves" {
		t.Fatalf("the action: %s", js(m))
	}
	if r, _ := alice.doSee(&protocol.Frame{Type: protocol.TypeEdit, Msg: id, Text: "waves at bob"}, protocol.TypeEdit); r.Type != protocol.TypeOK {
		t.Fatalf("editing an action: %s", js(r))
	}
	if h := find(t, historyOf(t, bob, &protocol.Frame{Room: "lobby"}), id); h.Kind != protocol.KindAction || h.Text != "waves at bob" || !h.Edited {
		t.Fatalf("the action in history: %s", js(h))
	}
	wantCode(t, "an empty action", alice.do(&protocol.Frame{Type: protocol.TypeSend, Kind: protocol.KindAction, Text: " "}), protocol.CodeBadText)
	wantCode(t, "an unknown kind", alice.do(&protocol.Frame{Type: protocol.TypeSend, Kind: "dance", Text: "x"}), protocol.CodeBadRequest)
}

// Typing over real sockets: passed on, never answered.
func TestTypingOverTCP(t *testing.T) {
	s := start(t, nil)
	alice, bob := login(t, s.Addr(), "alice"), login(t, s.Addr(), "bob")
	alice.send(&protocol.Frame{Type: protocol.TypeTyping, Room: "lobby"})
	if e := bob.event(protocol.TypeTyping); e.From != "alice" || e.Room != "lobby" {
		t.Fatalf("bob's typing event: %s", js(e))
	}
	id := alice.send(&protocol.Frame{Type: protocol.TypePing})
	if r := alice.nextReply(); r.Type != protocol.TypeOK || r.Re != id {
		t.Fatalf("after a typing frame, the next reply is %s; want the ping's ok", js(r))
	}
}

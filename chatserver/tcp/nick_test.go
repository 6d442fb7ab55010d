package tcp_test

import (
	"testing"

	"github.com/parley-chat/parley/chatserver/server"
	"github.com/parley-chat/parley/shared/protocol"
)

func TestNick(t *testing.T) {
	dir := t.TempDir()
	s := start(t, func(c *server.Config) { c.DataDir = dir })
	alice, bob := login(t, s.Addr(), "alice"), login(t, s.Addr(), "bob")

	r, own := alice.doSee(&protocol.Frame{Type: protocol.TypeNick, Nick: "Ally"}, protocol.TypeNick)
	if r.Type != protocol.TypeOK || r.Name != "alice" || r.Nick != "Ally" || own.Name != "alice" || own.Nick != "Ally" {
		t.Fatalf("nick: %s, event %s", js(r), js(own))
	}
	if e := bob.event(protocol.TypeNick); e.Name != "alice" || e.Nick != "Ally" {
		t.Fatalf("bob's nick event: %s", js(e))
	}
	id := sendText(t, alice, &protocol.Frame{Room: "lobby", Text: "hi, Ally here"})
	if m := bob.until(func(f *protocol.Frame) bool { return f.Type == protocol.TypeMessage && f.ID == id }); m.From != "alice" || m.Nick != "Ally" {
		t.Fatalf("a message under a nick: %s", js(m))
	}
	if w := bob.do(&protocol.Frame{Type: protocol.TypeWho, Room: "lobby"}); len(w.Members) != 2 || w.Members[0].Name != "alice" || w.Members[0].Nick != "Ally" {
		t.Fatalf("who: %s", js(w))
	}
	// Named by the nick.
	if r := bob.do(&protocol.Frame{Type: protocol.TypeSend, To: "ally", Text: "psst"}); r.Type != protocol.TypeOK {
		t.Fatalf("a private message to a nick: %s", js(r))
	}
	if m := alice.until(func(f *protocol.Frame) bool { return f.Type == protocol.TypeMessage && f.Text == "psst" }); m.To != "alice" {
		t.Fatalf("the private message to a nick: %s", js(m))
	}

	// Taken or confusable nicks, each with a clear refusal.
	for _, bad := range []string{"Ally", "ALLY", "Аlly", "alice", "аlice"} { // the third and fifth with a Cyrillic А/а
		wantCode(t, "nick "+bad, bob.do(&protocol.Frame{Type: protocol.TypeNick, Nick: bad}), protocol.CodeNameTaken)
	}
	wantCode(t, "a nick with a space", bob.do(&protocol.Frame{Type: protocol.TypeNick, Nick: "b o b"}), protocol.CodeBadName)
	c := dialRaw(t, s.Addr())
	c.hello()
	if r := c.do(&protocol.Frame{Type: protocol.TypeLogin, Name: "аlly", Password: "pw"}); r.Type != protocol.TypeError || r.Code != protocol.CodeBadName {
		t.Fatalf("registering a name like a nick: %s", js(r))
	}
	// The same nick again changes nothing.
	if r := alice.do(&protocol.Frame{Type: protocol.TypeNick, Nick: "Ally"}); r.Type != protocol.TypeOK {
		t.Fatalf("the same nick again: %s", js(r))
	}

	// A mention by nick counts; the nick lasts across a restart.
	alice.nc.Close()
	sendText(t, bob, &protocol.Frame{Room: "lobby", Text: "ally: lunch?"})
	bob.nc.Close()
	ctxShutdown(t, s)
	s = start(t, func(c *server.Config) { c.DataDir = dir })
	alice, lr := loginReply(t, s.Addr(), "alice")
	if lr.Nick != "Ally" {
		t.Errorf("the login reply's nick: %s", js(lr))
	}
	if u, m := roomCounts(t, lr, "lobby"); u != 1 || m != 1 {
		t.Errorf("lobby: %d unread, %d mentions; want 1 and 1", u, m)
	}
	if r := alice.do(&protocol.Frame{Type: protocol.TypeNick}); r.Type != protocol.TypeOK || r.Nick != "" {
		t.Fatalf("clearing the nick: %s", js(r))
	}
	bob = login(t, s.Addr(), "bob")
	if r := bob.do(&protocol.Frame{Type: protocol.TypeNick, Nick: "Ally"}); r.Type != protocol.TypeOK {
		t.Fatalf("a nick given up, taken: %s", js(r))
	}
	wantCode(t, "alice taking her old nick back", alice.do(&protocol.Frame{Type: protocol.TypeNick, Nick: "ally"}), protocol.CodeNameTaken)
}

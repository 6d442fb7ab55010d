package irc_test

import (
	"strconv"
	"testing"

	"github.com/ergochat/irc-go/ircmsg"

	"github.com/parley-chat/parley/shared/protocol"
)

// registerCaps logs in with PASS after enabling capabilities.
func (c *client) registerCaps(password, caps string) {
	c.t.Helper()
	c.send("CAP LS 302", "CAP REQ :"+caps, "PASS "+password, "NICK "+c.name, "USER "+c.name+" 0 * :"+c.name, "CAP END")
	c.expect("CAP", "ACK")
	c.expect("422")
}

// Client-only tags pass between IRC clients that enabled message-tags;
// +draft/reply, +draft/react and +typing are Parley's replies,
// reactions and typing notices, and CTCP ACTION is an action, both ways.
func TestClientTags(t *testing.T) {
	s := start(t, nil)
	alice, bob, dave := dial(t, s, "alice"), dial(t, s, "bob"), dial(t, s, "dave")
	alice.registerCaps("pw", "message-tags echo-message")
	bob.registerCaps("pw", "message-tags")
	dave.register("pw")
	carol := dialNDJSON(t, s, "carol")
	for _, c := range []*client{alice, bob, dave} {
		c.send("JOIN #go")
		c.expect("366")
	}
	carol.do(&protocol.Frame{Type: protocol.TypeJoin, Room: "go"})
	for _, c := range []*client{alice, bob, dave} {
		for c.expect("JOIN", "#go").Source != "carol!carol@parley" {
		}
	}

	// Arbitrary client tags go with the message to message-tags
	// clients (the echo included); server tags from a client do not.
	alice.send(`@+baz=b\sat;+e=1;fizz=buzz PRIVMSG #go :hi`)
	echo := alice.expect("PRIVMSG", "hi")
	m := bob.expect("PRIVMSG", "hi")
	if m.AllTags()["+baz"] != "b at" || m.AllTags()["+e"] != "1" || m.AllTags()["msgid"] != echo.AllTags()["msgid"] || m.AllTags()["fizz"] != "" {
		t.Errorf("bob's tags %v, echo's %v", m.AllTags(), echo.AllTags())
	}
	if m := dave.expect("PRIVMSG", "hi"); len(m.AllTags()) != 0 {
		t.Errorf("dave has tags %v", m.AllTags())
	}
	carol.next(protocol.TypeMessage, nil)

	// +draft/reply is reply_to, both ways.
	f := carol.do(&protocol.Frame{Type: protocol.TypeSend, Room: "go", Text: "lunch?"})
	orig := strconv.FormatUint(f.Msg, 10)
	if m := bob.expect("PRIVMSG", "lunch?"); m.AllTags()["msgid"] != orig {
		t.Errorf("msgid %v, want %s", m.AllTags(), orig)
	}
	bob.send("@+draft/reply=" + orig + " PRIVMSG #go :noon")
	if f := carol.next(protocol.TypeMessage, func(f *protocol.Frame) bool { return f.Text == "noon" }); strconv.FormatUint(f.ReplyTo, 10) != orig || f.Quote == nil || f.Quote.Text != "lunch?" {
		t.Errorf("carol's reply %+v", f)
	}
	if m := alice.expect("PRIVMSG", "noon"); m.AllTags()["+draft/reply"] != orig {
		t.Errorf("alice's reply tags %v", m.AllTags())
	}
	carol.do(&protocol.Frame{Type: protocol.TypeSend, Room: "go", Text: "ok", ReplyTo: f.Msg})
	if m := bob.expect("PRIVMSG", "ok"); m.AllTags()["+draft/reply"] != orig {
		t.Errorf("bob's tags on carol's reply %v", m.AllTags())
	}
	// A reply to a message Parley does not know is sent as a message.
	bob.send("@+draft/reply=999999 PRIVMSG #go :still sent")
	if f := carol.next(protocol.TypeMessage, func(f *protocol.Frame) bool { return f.Text == "still sent" }); f.ReplyTo != 0 {
		t.Errorf("carol's message %+v", f)
	}

	// CTCP ACTION is an action.
	alice.send("PRIVMSG #go :\x01ACTION waves\x01")
	if f := carol.next(protocol.TypeMessage, func(f *protocol.Frame) bool { return f.Kind == protocol.KindAction }); f.Text != "waves" {
		t.Errorf("carol's action %+v", f)
	}
	carol.do(&protocol.Frame{Type: protocol.TypeSend, Room: "go", Kind: protocol.KindAction, Text: "nods"})
	if m := dave.expect("PRIVMSG", "nods"); m.Params[1] != "\x01ACTION nods\x01" {
		t.Errorf("dave's action %q", m.Params)
	}

	// +draft/react on TAGMSG is a reaction; +draft/unreact takes it back,
	// and asking twice changes nothing.
	bob.send("@+draft/react=👍;+draft/reply=" + orig + " TAGMSG #go")
	if f := carol.next(protocol.TypeReact, nil); strconv.FormatUint(f.Msg, 10) != orig || f.Emoji != "👍" || !f.On || f.From != "bob" {
		t.Errorf("carol's react %+v", f)
	}
	if m := alice.expect("TAGMSG", "#go"); m.AllTags()["+draft/react"] != "👍" || m.AllTags()["+draft/reply"] != orig || m.Source != "bob!bob@parley" {
		t.Errorf("alice's TAGMSG %s %v", m.Source, m.AllTags())
	}
	bob.send("@+draft/react=👍;+draft/reply=" + orig + " TAGMSG #go")
	bob.send("@+draft/unreact=👍;+draft/reply=" + orig + " TAGMSG #go")
	for _, want := range []bool{false, true, false} {
		if f := carol.next(protocol.TypeReact, nil); f.On != want {
			t.Errorf("carol's react %+v, want on %v", f, want)
		}
	}
	carol.do(&protocol.Frame{Type: protocol.TypeReact, Msg: f.Msg, Emoji: "🎉"})
	if m := bob.expect("TAGMSG", "#go"); m.AllTags()["+draft/react"] != "🎉" || m.Source != "carol!carol@parley" {
		t.Errorf("bob's TAGMSG %s %v", m.Source, m.AllTags())
	}

	// +typing is a typing notice.
	bob.send("@+typing=active TAGMSG #go")
	if f := carol.next(protocol.TypeTyping, nil); f.From != "bob" || f.Room != "go" {
		t.Errorf("carol's typing %+v", f)
	}
	carol.send(&protocol.Frame{Type: protocol.TypeTyping, Room: "go"})
	if m := alice.expectTag("TAGMSG", "+typing"); m.AllTags()["+typing"] != "active" || m.Source != "bob!bob@parley" {
		t.Errorf("alice's typing %s %v", m.Source, m.AllTags())
	}
	if m := alice.expectTag("TAGMSG", "+typing"); m.AllTags()["+typing"] != "active" || m.Source != "carol!carol@parley" {
		t.Errorf("alice's typing %s %v", m.Source, m.AllTags())
	}

	// Other tags on TAGMSG go to message-tags clients only, with a msgid.
	alice.send(`@+x=y\:z;cat=dog TAGMSG #go`)
	echo = alice.expectTag("TAGMSG", "+x")
	m = bob.expectTag("TAGMSG", "+x")
	if m.AllTags()["+x"] != "y;z" || m.AllTags()["msgid"] == "" || m.AllTags()["msgid"] != echo.AllTags()["msgid"] || m.AllTags()["cat"] != "" {
		t.Errorf("bob's TAGMSG %v, echo %v", m.AllTags(), echo.AllTags())
	}
	for _, m := range dave.sync() {
		if m.Command == "TAGMSG" {
			t.Errorf("dave got %v", m)
		}
	}
	alice.send("@+x=y TAGMSG #elsewhere")
	alice.expect("404", "#elsewhere")

	// An edit from another client arrives as a message marked edited.
	carol.do(&protocol.Frame{Type: protocol.TypeEdit, Msg: f.Msg, Text: "lunch at noon?"})
	if m := bob.expect("PRIVMSG", "(edited) lunch at noon?"); m.AllTags()["+draft/reply"] != orig {
		t.Errorf("bob's edit %v", m.AllTags())
	}
}

// send writes a frame that has no reply (typing).
func (p *peer) send(f *protocol.Frame) {
	p.t.Helper()
	if _, err := p.c.Write(protocol.Encode(f)); err != nil {
		p.t.Fatal(err)
	}
}

// expectTag reads until a cmd line with tag, and returns it.
func (c *client) expectTag(cmd, tag string) ircmsg.Message {
	c.t.Helper()
	for {
		m := c.expect(cmd)
		if _, ok := m.AllTags()[tag]; ok {
			return m
		}
	}
}

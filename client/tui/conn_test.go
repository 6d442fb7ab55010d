package tui

import (
	"context"
	"testing"
	"time"

	"github.com/parley-chat/parley/chatserver/server/servertest"
	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/client/command"
	"github.com/parley-chat/parley/shared/protocol"
)

// TestWithARealServer drives the screen over NewConn against a chat
// server in this process, with a second session as the other person.
func TestWithARealServer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	login := realServer(t, ctx)
	alice := login("alice")
	bob := login("王小明")

	h := newHarness(t, func(c *Config) {
		c.Conn = NewConn(alice, command.NewRunner(alice), nil)
		c.Context = ctx
	})

	// alice types a shortcode; 王小明 gets the emoji.
	h.typeText("hi :wave: 你好")
	h.key("enter")
	if sent := awaitType[sentMsg](h); sent.err != nil {
		t.Fatal(sent.err)
	}
	waitMessage(t, bob, "hi 👋 你好")
	h.until("the echo", func() bool { return h.m.cur.entries[len(h.m.cur.entries)-1].kind == entMessage })
	h.wantScreen("alice │ hi 👋 你好")

	// 王小明 answers; alice sees it.
	if _, err := command.NewRunner(bob).Send(ctx, command.Lobby, "你好 alice :tada:"); err != nil {
		t.Fatal(err)
	}
	h.until("王小明's message", func() bool {
		es := h.m.cur.entries
		return es[len(es)-1].text == "你好 alice 🎉"
	})
	h.wantScreen("王小明 │ 你好 alice 🎉")

	// /join goes through the runner and switches; the member list follows.
	h.key("f2")
	h.typeText("/join 中文")
	h.key("enter")
	awaitType[cmdDoneMsg](h)
	h.until("the members of #中文", func() bool {
		return h.m.cur.id.Room == "中文" && len(h.m.cur.members) == 1 && h.m.cur.members[0].Owner
	})
	h.wantScreen("[#中文]", "Online 1/1", "● alice ★")

	// A private message opens a private conversation.
	if _, err := command.NewRunner(bob).Send(ctx, command.Conv{With: "alice"}, "悄悄话"); err != nil {
		t.Fatal(err)
	}
	h.until("the private message", func() bool { return h.m.findConv(command.Conv{With: "王小明"}) != nil })
	h.wantScreen("@王小明")
	// An error from the server lands in the conversation it came from.
	h.typeText("/kick nobody")
	h.key("enter")
	awaitType[cmdDoneMsg](h)
	h.wantScreen("!! │")
}

// realServer starts a chat server in this process and returns a way to
// log in to it; the sessions, then the server, go when the test ends.
func realServer(t *testing.T, ctx context.Context) func(name string) *chat.Session {
	t.Helper()
	srv := servertest.Start(t, nil)
	return func(name string) *chat.Session {
		t.Helper()
		s, err := chat.Connect(ctx, chat.Options{Addr: srv.Addr(), Name: name, Password: "pw-" + name})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

func waitMessage(t *testing.T, s *chat.Session, text string) {
	t.Helper()
	deadline := time.After(failsafe)
	for {
		select {
		case ev := <-s.Events():
			if ev.Kind == chat.EvFrame && ev.Frame.Type == protocol.TypeMessage && ev.Frame.Text == text {
				return
			}
		case <-deadline:
			t.Fatalf("never got %q", text)
		}
	}
}

// A conversation opened with nothing in it shows its newest messages: on
// a second device, a private message that the first one received.
func TestOpeningAConversationLoadsItsRecentMessages(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	login := realServer(t, ctx)
	phone := login("alice")
	bob := login("bob")
	login("carol")
	if _, err := command.NewRunner(bob).Send(ctx, command.Conv{With: "alice"}, "seen on the phone"); err != nil {
		t.Fatal(err)
	}
	waitMessage(t, phone, "seen on the phone")

	// alice logs in on her laptop, which takes over from the phone.
	laptop := login("alice")
	h := newHarness(t, func(c *Config) {
		c.Conn = NewConn(laptop, command.NewRunner(laptop), nil)
		c.Context = ctx
	})
	h.typeText("/switch @bob")
	h.key("enter")
	h.until("bob's earlier message", func() bool {
		c := h.m.findConv(command.Conv{With: "bob"})
		return c != nil && c.hasMessages()
	})
	h.wantScreen("[@bob]", "bob │ seen on the phone")

	// A conversation with no messages at all says so.
	h.typeText("/switch @carol")
	h.key("enter")
	h.until("the answer about carol", func() bool {
		c := h.m.findConv(command.Conv{With: "carol"})
		return c != nil && len(c.entries) > 0
	})
	h.wantScreen("[@carol]", "no messages here yet")
}

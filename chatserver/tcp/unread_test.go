package tcp_test

import (
	"testing"

	"github.com/parley-chat/parley/chatserver/server"
	"github.com/parley-chat/parley/shared/protocol"
)

// loginReply logs name in on a new connection and returns the reply.
func loginReply(t *testing.T, addr, name string) (*client, *protocol.Frame) {
	t.Helper()
	c := dialRaw(t, addr)
	c.hello()
	r := c.reply(c.send(&protocol.Frame{Type: protocol.TypeLogin, Name: name, Password: "pw"}))
	if r.Type != protocol.TypeOK {
		t.Fatalf("login %s: %s", name, js(r))
	}
	return c, r
}

func roomCounts(t *testing.T, r *protocol.Frame, room string) (int, int) {
	t.Helper()
	for _, ri := range r.Rooms {
		if ri.Name == room {
			return ri.Unread, ri.Mentions
		}
	}
	t.Fatalf("the login reply lists no room %s: %s", room, js(r))
	return 0, 0
}

// TestUnreadAcrossDevices: a user's read positions are the server's, so a
// second device has the same unread counts and private conversations.
func TestUnreadAcrossDevices(t *testing.T) {
	dir := t.TempDir()
	s := start(t, func(c *server.Config) { c.DataDir = dir })
	alice := login(t, s.Addr(), "alice")
	carol := login(t, s.Addr(), "carol")
	bob, first := loginReply(t, s.Addr(), "bob")
	if u, m := roomCounts(t, first, "lobby"); u != 0 || m != 0 || len(first.Private) != 0 {
		t.Fatalf("a new user's login reply: %s; want nothing unread", js(first))
	}
	for _, c := range []*client{alice, bob} {
		if r := c.do(&protocol.Frame{Type: protocol.TypeJoin, Room: "go"}); r.Type != protocol.TypeOK {
			t.Fatal(js(r))
		}
	}
	bob.nc.Close()

	sendText(t, alice, &protocol.Frame{Room: "lobby", Text: "morning all"})
	sendText(t, alice, &protocol.Frame{Room: "lobby", Text: "@bob, lunch?"})
	gone := sendText(t, alice, &protocol.Frame{Room: "lobby", Text: "bob: oops"})
	if r := alice.do(&protocol.Frame{Type: protocol.TypeRecall, Msg: gone}); r.Type != protocol.TypeOK {
		t.Fatal(js(r))
	}
	last := sendText(t, alice, &protocol.Frame{Room: "lobby", Text: "anyone?"})
	sendText(t, alice, &protocol.Frame{Room: "go", Text: "go 1.26 is out"})
	sendText(t, alice, &protocol.Frame{Room: "go", Text: "bob will like it"})
	sendText(t, carol, &protocol.Frame{To: "bob", Text: "hi from carol"})
	pm := sendText(t, alice, &protocol.Frame{To: "bob", Text: "hi from alice"})
	carol.nc.Close()
	// The login reply below says whether carol is online: wait until the
	// server has seen her connection end.
	alice.until(func(f *protocol.Frame) bool {
		return f.Type == protocol.TypePresence && f.Name == "carol" && f.Status == protocol.StatusOffline
	})

	// A new device: the counts and the private conversations, newest first.
	bob, r := loginReply(t, s.Addr(), "bob")
	if u, m := roomCounts(t, r, "lobby"); u != 3 || m != 1 {
		t.Errorf("lobby: unread %d, mentions %d; want 3 and 1: %s", u, m, js(r))
	}
	if u, m := roomCounts(t, r, "go"); u != 2 || m != 1 {
		t.Errorf("go: unread %d, mentions %d; want 2 and 1", u, m)
	}
	want := []protocol.PrivateInfo{
		{Name: "alice", Online: true, Last: pm, Unread: 1, Mentions: 1},
		{Name: "carol", Online: false, Last: pm - 1, Unread: 1, Mentions: 1},
	}
	if len(r.Private) != 2 || r.Private[0] != want[0] || r.Private[1] != want[1] {
		t.Fatalf("private conversations: %s; want %+v", js(r), want)
	}

	// Marking read on this device, and sending, move the positions.
	if r := bob.do(&protocol.Frame{Type: protocol.TypeRead, Room: "lobby", Msg: last}); r.Type != protocol.TypeOK || r.Msg != last {
		t.Fatalf("read: %s", js(r))
	}
	if r := bob.do(&protocol.Frame{Type: protocol.TypeRead, To: "alice", Msg: pm}); r.Type != protocol.TypeOK {
		t.Fatalf("read: %s", js(r))
	}
	if r := bob.do(&protocol.Frame{Type: protocol.TypeRead, Room: "lobby", Msg: 1}); r.Type != protocol.TypeOK || r.Msg != last {
		t.Fatalf("a read position goes back: %s", js(r))
	}
	sendText(t, bob, &protocol.Frame{Room: "go", Text: "I do"})
	wantCode(t, "read without msg", bob.do(&protocol.Frame{Type: protocol.TypeRead, Room: "lobby"}), protocol.CodeBadRequest)
	wantCode(t, "read of a room one is not in", alice.do(&protocol.Frame{Type: protocol.TypeRead, Room: "nowhere", Msg: 1}), protocol.CodeNoSuchRoom)
	wantCode(t, "read of nobody", bob.do(&protocol.Frame{Type: protocol.TypeRead, To: "nobody", Msg: 1}), protocol.CodeNoSuchUser)
	if r := login(t, s.Addr(), "dave").do(&protocol.Frame{Type: protocol.TypeRead, Room: "go", Msg: 1}); r.Type != protocol.TypeError || r.Code != protocol.CodeNotMember {
		t.Fatalf("read of a room one is not in: %s", js(r))
	}

	// The other device, after a restart: cleared where this one read.
	bob.nc.Close()
	alice.nc.Close()
	ctxShutdown(t, s)
	s = start(t, func(c *server.Config) { c.DataDir = dir })
	_, r = loginReply(t, s.Addr(), "bob")
	for room, want := range map[string]int{"lobby": 0, "go": 0} {
		if u, _ := roomCounts(t, r, room); u != want {
			t.Errorf("%s after reading: unread %d; want %d", room, u, want)
		}
	}
	if len(r.Private) != 2 || r.Private[0].Name != "alice" || r.Private[0].Unread != 0 || r.Private[0].Online ||
		r.Private[1].Name != "carol" || r.Private[1].Unread != 1 {
		t.Fatalf("private conversations after reading alice's: %s", js(r))
	}
}

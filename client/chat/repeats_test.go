package chat_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parley-chat/parley/chatserver/server"
	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/shared/protocol"
)

// count returns how many message events u was handed for each id.
func (u *user) count() map[uint64]int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := map[uint64]int{}
	for _, ev := range u.events {
		if ev.Kind == chat.EvFrame && (ev.Frame.Type == protocol.TypeMessage || ev.Frame.Type == protocol.TypeRecall) {
			n[ev.Frame.ID]++
		}
	}
	return n
}

// Someone who joins a room is shown its messages as history. The server
// restarts; the catch-up after the reconnect starts from before the join
// (those messages were sent after the login) and brings them again, as
// live messages. The session hands each out once.
func TestRestartDoesNotRepeatJoinHistory(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, func(c *server.Config) { c.DataDir = dir })
	addr := srv.Addr()
	alice := connect(t, addr, "alice")
	bob := connect(t, addr, "bob")
	bob.do(&protocol.Frame{Type: protocol.TypeJoin, Room: "den"})
	ids := []uint64{bob.say("den", "one"), bob.say("den", "two"), bob.say("den", "three")}
	alice.do(&protocol.Frame{Type: protocol.TypeJoin, Room: "den"})

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	alice.wait("reconnecting", kind(chat.EvReconnecting))
	startServer(t, func(c *server.Config) { c.DataDir = dir; c.Addr = addr })
	alice.wait("reconnected", kind(chat.EvReconnected))
	bob.wait("reconnected", kind(chat.EvReconnected))
	bob.say("den", "after")
	alice.wait("after", msg("after"))
	n := alice.count()
	for _, id := range ids {
		if n[id] != 1 {
			t.Errorf("message %d handed out %d times", id, n[id])
		}
	}
}

// History a session was shown is not shown again: not on joining the room
// again, not in a page that covers it, not after a fresh login's history.
// What was not shown is, even in a page that comes oldest first below
// what is shown.
func TestHistoryShowsEachMessageOnce(t *testing.T) {
	srv := startServer(t, func(c *server.Config) { c.JoinHistory = 3 })
	bob := connect(t, srv.Addr(), "bob")
	lobby := []uint64{bob.say("lobby", "l0"), bob.say("lobby", "l1")}
	bob.do(&protocol.Frame{Type: protocol.TypeJoin, Room: "den"})
	var den []uint64
	for i := range 10 {
		den = append(den, bob.say("den", fmt.Sprintf("m%d", i)))
	}

	alice := connect(t, srv.Addr(), "alice") // a fresh login: the lobby's history
	alice.do(&protocol.Frame{Type: protocol.TypeJoin, Room: "lobby"})
	alice.do(&protocol.Frame{Type: protocol.TypeHistory, Room: "lobby"})
	alice.do(&protocol.Frame{Type: protocol.TypeJoin, Room: "den"}) // m7-m9
	alice.do(&protocol.Frame{Type: protocol.TypeJoin, Room: "Den"})
	r := alice.do(&protocol.Frame{Type: protocol.TypeHistory, Room: "den", Before: den[7], Limit: 5}) // m2-m6
	if r.Limit != 5 {
		t.Fatalf("the page held %d messages", r.Limit)
	}
	alice.do(&protocol.Frame{Type: protocol.TypeHistory, Room: "den", Limit: 10}) // m0-m9: m0, m1 new
	alice.do(&protocol.Frame{Type: protocol.TypeHistory, Room: "den", Limit: 10})
	live := bob.say("den", "live")
	alice.wait("live", msg("live"))
	alice.do(&protocol.Frame{Type: protocol.TypeHistory, Room: "den", Limit: 20})

	n := alice.count()
	for _, id := range append(append(lobby, den...), live) {
		if n[id] != 1 {
			t.Errorf("message %d handed out %d times", id, n[id])
		}
	}
	if len(n) != len(lobby)+len(den)+1 {
		t.Errorf("%d messages handed out, want %d", len(n), len(lobby)+len(den)+1)
	}
}

// A note to oneself is one private conversation: its echo, its history
// and a reconnect's catch-up show it once.
func TestNoteToSelfShownOnce(t *testing.T) {
	srv := startServer(t, nil)
	alice := connect(t, srv.Addr(), "Alice")
	id := alice.do(&protocol.Frame{Type: protocol.TypeSend, To: "alice", Text: "memo", Key: chat.NewKey()}).Msg
	alice.do(&protocol.Frame{Type: protocol.TypeHistory, To: "ALICE"})
	alice.s.Refresh()
	alice.wait("reconnected", kind(chat.EvReconnected))
	alice.do(&protocol.Frame{Type: protocol.TypeHistory, To: "alice"})
	if n := alice.count(); n[id] != 1 || len(n) != 1 {
		t.Errorf("handed out %v, want message %d once", n, id)
	}
}

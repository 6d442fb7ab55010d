package hub_test

import (
	"context"
	"testing"

	"github.com/parley-chat/parley/chatserver/store"
	"github.com/parley-chat/parley/chatserver/store/inmem"
	"github.com/parley-chat/parley/chatserver/store/sqlite"
	"github.com/parley-chat/parley/shared/protocol"
)

// A topic is the owner's to set; members hear it, joins and room lists
// carry it, and it survives a restart, with either store.
func TestTopic(t *testing.T) {
	sq, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sq.Close() })
	for name, st := range map[string]store.Store{"inmem": inmem.New(), "sqlite": sq} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, st)
			alice, bob := newPeer(t, e.hub, "alice"), newPeer(t, e.hub, "bob")
			alice.mustLogin("pw")
			bob.mustLogin("pw")
			alice.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "go"})
			bob.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "go"})

			bob.expectErr(&protocol.Frame{Type: protocol.TypeTopic, Room: "go", Text: "mine now"}, protocol.CodeNotOwner)
			alice.expectErr(&protocol.Frame{Type: protocol.TypeTopic, Room: "lobby", Text: "x"}, protocol.CodeLobby)
			alice.expectErr(&protocol.Frame{Type: protocol.TypeTopic, Room: "nowhere", Text: "x"}, protocol.CodeNoSuchRoom)
			alice.expectErr(&protocol.Frame{Type: protocol.TypeTopic, Room: "go", Text: "two\nlines"}, protocol.CodeBadText)
			long := make([]byte, protocol.MaxTopicBytes+1)
			for i := range long {
				long[i] = 'x'
			}
			alice.expectErr(&protocol.Frame{Type: protocol.TypeTopic, Room: "go", Text: string(long)}, protocol.CodeTooLong)

			alice.mustDo(&protocol.Frame{Type: protocol.TypeTopic, Room: "go", Text: "Go 1.26 party"})
			ev := bob.next(isType(protocol.TypeTopic))
			if ev.Room != "go" || ev.Text != "Go 1.26 party" || ev.By != "alice" || ev.Time == 0 {
				t.Errorf("topic event %+v", ev)
			}
			r := bob.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "go"})
			if r.Topic != "Go 1.26 party" || r.TopicBy != "alice" || r.TopicTime != ev.Time {
				t.Errorf("join reply %+v", r)
			}
			rooms := bob.mustDo(&protocol.Frame{Type: protocol.TypeRooms})
			if len(rooms.Rooms) < 2 || rooms.Rooms[1].Topic != "Go 1.26 party" {
				t.Errorf("rooms reply %+v", rooms.Rooms)
			}
			e.close()

			e2 := newEnv(t, st)
			carol := newPeer(t, e2.hub, "carol")
			carol.mustLogin("pw")
			if r := carol.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "go"}); r.Topic != "Go 1.26 party" || r.TopicBy != "alice" {
				t.Errorf("join reply after restart %+v", r)
			}
			alice2 := newPeer(t, e2.hub, "alice")
			alice2.mustLogin("pw")
			alice2.mustDo(&protocol.Frame{Type: protocol.TypeTopic, Room: "go"})
			if ev := carol.next(isType(protocol.TypeTopic)); ev.Text != "" || ev.By != "alice" {
				t.Errorf("cleared topic event %+v", ev)
			}
			if r := carol.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "go"}); r.Topic != "" || r.TopicBy != "" {
				t.Errorf("join reply after clearing %+v", r)
			}
		})
	}
}

// Leaves and kicks carry their reasons to the room.
func TestLeaveAndKickReasons(t *testing.T) {
	e := newEnv(t, nil)
	alice, bob, carol := newPeer(t, e.hub, "alice"), newPeer(t, e.hub, "bob"), newPeer(t, e.hub, "carol")
	for _, p := range []*peer{alice, bob, carol} {
		p.mustLogin("pw")
		p.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "go"})
	}
	carol.mustDo(&protocol.Frame{Type: protocol.TypeLeave, Room: "go", Text: "lunch"})
	if f := alice.next(func(f *protocol.Frame) bool { return f.Type == protocol.TypeMember && f.Action == protocol.ActionLeave }); f.Text != "lunch" {
		t.Errorf("leave event %+v", f)
	}
	alice.mustDo(&protocol.Frame{Type: protocol.TypeKick, Room: "go", Name: "bob", Text: "spam"})
	if f := bob.next(func(f *protocol.Frame) bool { return f.Type == protocol.TypeMember && f.Action == protocol.ActionKick }); f.Text != "spam" || f.By != "alice" {
		t.Errorf("kick event %+v", f)
	}
	alice.expectErr(&protocol.Frame{Type: protocol.TypeLeave, Room: "go", Text: "a\nb"}, protocol.CodeBadText)
}

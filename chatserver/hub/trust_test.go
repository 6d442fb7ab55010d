package hub_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/chatserver/hub"
	"github.com/parley-chat/parley/chatserver/store"
	"github.com/parley-chat/parley/chatserver/store/inmem"
	"github.com/parley-chat/parley/chatserver/store/sqlite"
	"github.com/parley-chat/parley/shared/protocol"
)

// A room's history goes with its last member: carol posts in tmp1 and
// leaves, and dave, who makes tmp1 anew, reads nothing of hers, not even
// by paging back, and carol's messages are gone from the store.
func TestEmptiedRoomTakesItsHistory(t *testing.T) {
	st := inmem.New()
	e := newEnv(t, st)
	carol, dave := newPeer(t, e.hub, "carol"), newPeer(t, e.hub, "dave")
	carol.mustLogin("pw")
	dave.mustLogin("pw")
	carol.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "tmp1"})
	secret := carol.say("tmp1", "carol's secret plans")
	carol.mustDo(&protocol.Frame{Type: protocol.TypeLeave, Room: "tmp1"})

	from := len(dave.received())
	if r := dave.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "tmp1"}); r.Owner != "dave" {
		t.Errorf("dave's join: owner %q, want dave, the new room's creator", r.Owner)
	}
	dave.mustDo(&protocol.Frame{Type: protocol.TypeHistory, Room: "tmp1"})
	for _, f := range dave.received()[from:] {
		if f.ID == secret || strings.Contains(f.Text, "secret") {
			t.Errorf("dave read the old room's message: %s", protocol.Encode(f))
		}
	}
	if _, err := st.Message(context.Background(), secret); err == nil {
		t.Error("the emptied room's message is still in the store")
	}
	rooms := dave.mustDo(&protocol.Frame{Type: protocol.TypeRooms})
	if len(rooms.Rooms) != 2 || rooms.Rooms[1].Name != "tmp1" || rooms.Rooms[1].Members != 1 {
		t.Errorf("rooms after the new tmp1: %+v", rooms.Rooms)
	}
}

// A room left empty before rooms went with their last member is deleted,
// history and all, when the server starts.
func TestEmptyRoomFromBeforeIsDeletedAtStart(t *testing.T) {
	st := inmem.New()
	ctx := context.Background()
	msg := store.Message{ID: 1, Conv: store.RoomConv("old"), Room: "old", From: "carol", FromName: "carol", Text: "left behind"}
	if err := st.Apply(ctx, []store.Change{
		{Kind: store.CreateRoom, Room: store.Room{Key: "old", Name: "old"}},
		{Kind: store.AddMessage, Message: msg},
	}); err != nil {
		t.Fatal(err)
	}
	newEnv(t, st)
	rooms, _ := st.Rooms(ctx)
	if len(rooms) != 0 {
		t.Errorf("rooms after start: %+v; want the empty one gone", rooms)
	}
	if _, err := st.Message(ctx, 1); err == nil {
		t.Error("the empty room's message survived the start")
	}
}

// A kick keeps the member out until the owner unbans them; the owner
// sees who is banned, others do not, and bans survive a restart.
func TestKickBansUntilUnban(t *testing.T) {
	st := inmem.New()
	e := newEnv(t, st)
	alice, bob, carol := newPeer(t, e.hub, "alice"), newPeer(t, e.hub, "bob"), newPeer(t, e.hub, "carol")
	for _, p := range []*peer{alice, bob, carol} {
		p.mustLogin("pw")
		p.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "Go"})
	}
	alice.mustDo(&protocol.Frame{Type: protocol.TypeKick, Room: "go", Name: "bob"})
	if k := bob.next(isType(protocol.TypeKicked)); !strings.Contains(k.Message, "unban") {
		t.Errorf("kicked event %q does not say the kick lasts", k.Message)
	}
	r := bob.expectErr(&protocol.Frame{Type: protocol.TypeJoin, Room: "go"}, protocol.CodeBanned)
	if !strings.Contains(r.Message, "alice") {
		t.Errorf("banned refusal %q does not say who can let bob back", r.Message)
	}
	alice.say("go", "said after the kick")
	for _, f := range bob.received() {
		if f.Text == "said after the kick" {
			t.Error("bob read what was said after his kick")
		}
	}
	if who := alice.mustDo(&protocol.Frame{Type: protocol.TypeWho, Room: "go"}); !slices.Equal(who.Banned, []string{"bob"}) {
		t.Errorf("owner's who: banned %v, want [bob]", who.Banned)
	}
	if who := carol.mustDo(&protocol.Frame{Type: protocol.TypeWho, Room: "go"}); who.Banned != nil {
		t.Errorf("a member who is not the owner sees the bans %v", who.Banned)
	}
	carol.expectErr(&protocol.Frame{Type: protocol.TypeUnban, Room: "go", Name: "bob"}, protocol.CodeNotOwner)
	alice.expectErr(&protocol.Frame{Type: protocol.TypeUnban, Room: "go", Name: "carol"}, protocol.CodeBadRequest)
	alice.expectErr(&protocol.Frame{Type: protocol.TypeUnban, Room: "lobby", Name: "bob"}, protocol.CodeLobby)

	// A restart keeps the ban.
	e.close()
	e = newEnv(t, st)
	alice, bob = newPeer(t, e.hub, "alice"), newPeer(t, e.hub, "bob")
	alice.mustLogin("pw")
	bob.mustLogin("pw")
	bob.expectErr(&protocol.Frame{Type: protocol.TypeJoin, Room: "go"}, protocol.CodeBanned)
	if r := alice.mustDo(&protocol.Frame{Type: protocol.TypeUnban, Room: "go", Name: "BOB"}); r.Room != "Go" {
		t.Errorf("unban reply %+v", r)
	}
	bob.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "go"})
	if who := alice.mustDo(&protocol.Frame{Type: protocol.TypeWho, Room: "go"}); who.Banned != nil {
		t.Errorf("bans after the unban: %v", who.Banned)
	}
}

// Names that look like a registered one are refused, as are rooms that
// look like an existing room; names that merely differ in case are the
// same person, as before.
func TestNamesThatLookAlikeAreRefused(t *testing.T) {
	e := newEnv(t, nil)
	alice := newPeer(t, e.hub, "alice")
	alice.mustLogin("pw")
	for _, name := range []string{"аlice", "alıce", "alicе"} { // Cyrillic а, dotless ı, Cyrillic е
		_, err := newPeer(t, e.hub, name).login("pw")
		pe, ok := err.(*protocol.Error)
		if !ok || pe.Code != protocol.CodeBadName || !strings.Contains(pe.Message, "looks too much like alice") {
			t.Errorf("registering %q beside alice: %v; want bad_name saying it looks like alice", name, err)
		}
	}
	// The refusal left nothing behind: a different name still registers.
	newPeer(t, e.hub, "alicia").mustLogin("pw")
	// Alice herself still logs in, in any case.
	newPeer(t, e.hub, "ALICE").mustLogin("pw")

	alice = newPeer(t, e.hub, "alice")
	alice.mustLogin("pw")
	alice.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "general"})
	r := alice.expectErr(&protocol.Frame{Type: protocol.TypeJoin, Room: "gеneral"}, protocol.CodeBadName)
	if !strings.Contains(r.Message, "general") {
		t.Errorf("look-alike room refusal %q does not name the room it looks like", r.Message)
	}
	// Once the room is gone, its look-alike may be made.
	alice.mustDo(&protocol.Frame{Type: protocol.TypeLeave, Room: "general"})
	alice.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "gеneral"})
}

// Two look-alike names registering at the same moment: one wins, and the
// other is refused, never both registered.
func TestLookAlikeRegistrationsRace(t *testing.T) {
	e := newEnv(t, nil)
	names := []string{"bob", "bοb", "bоb", "bob"} // Latin, Greek ο, Cyrillic о
	errs := make(chan error, len(names))
	for _, n := range names {
		go func() {
			_, err := e.hub.Login(context.Background(), newPeer(t, e.hub, n), &protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: n, Password: "pw"}, testAddr)
			errs <- err
		}()
	}
	for range names {
		<-errs
	}
	users, _ := e.store.Users(context.Background())
	if len(users) != 1 {
		t.Errorf("registered %d users from look-alike names: %+v", len(users), users)
	}
}

func TestPrivateFileOnlyInPrivateMessages(t *testing.T) {
	e := newEnv(t, nil)
	alice, bob := newPeer(t, e.hub, "alice"), newPeer(t, e.hub, "bob")
	alice.mustLogin("pw")
	bob.mustLogin("pw")
	file := &protocol.File{Name: "payslip.pdf", Path: "payslip.pdf", Size: 10, Private: true}
	alice.expectErr(&protocol.Frame{Type: protocol.TypeSend, Kind: protocol.KindFile, File: file}, protocol.CodeBadRequest)
	alice.mustDo(&protocol.Frame{Type: protocol.TypeSend, To: "bob", Kind: protocol.KindFile, File: file})
	if f := bob.next(isType(protocol.TypeMessage)); f.File == nil || !f.File.Private {
		t.Errorf("bob got %+v; want the private file reference", f)
	}
}

// With a retention, messages older than it are deleted, file messages
// included, and newer ones are kept; a restart prunes at once.
func TestRetentionDeletesOldMessages(t *testing.T) {
	st := inmem.New()
	e := newEnv(t, st)
	alice := newPeer(t, e.hub, "alice")
	alice.mustLogin("pw")
	old := alice.say("lobby", "forty days ago")
	file := alice.mustDo(&protocol.Frame{Type: protocol.TypeSend, Kind: protocol.KindFile,
		File: &protocol.File{Name: "old.pdf", Path: "old.pdf", Size: 1}}).Msg
	e.clock.Add(35 * 24 * time.Hour)
	recent := alice.say("lobby", "five days ago")
	e.clock.Add(5 * 24 * time.Hour)
	e.close()

	e = newEnvWith(t, st, func(c *hub.Config) { c.Retention = 30 * 24 * time.Hour })
	e.clock.Add(40 * 24 * time.Hour)
	if _, err := e.hub.Prune(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, id := range []uint64{old, file} {
		if _, err := st.Message(context.Background(), id); err == nil {
			t.Errorf("message %d, older than the retention, is still stored", id)
		}
	}
	if _, err := st.Message(context.Background(), recent); err != nil {
		t.Errorf("message %d, within the retention, is gone: %v", recent, err)
	}
}

// A user in 600 rooms (SQLite reads at most 500 in one compound query)
// catches up on what each room said while they were away, and then
// gets live messages: the login is not cut short forever.
func TestCatchUpInSixHundredRooms(t *testing.T) {
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := newEnv(t, st)
	alice, bob := newPeer(t, e.hub, "alice"), newPeer(t, e.hub, "bob")
	token := alice.mustLogin("pw").Token
	bob.mustLogin("pw")
	const rooms = 600
	for i := range rooms {
		room := fmt.Sprintf("room%03d", i)
		alice.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: room})
		bob.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: room})
	}
	since := bob.say("lobby", "seen")
	alice.next(isMsg("seen"))
	e.hub.Leave(alice.sess)
	var want []uint64
	for i := range rooms {
		want = append(want, bob.say(fmt.Sprintf("room%03d", i), "while away"))
	}

	back := newPeer(t, e.hub, "alice")
	ok, err := back.loginFrame(&protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: "alice", Token: token, Since: since, Resume: true})
	if err != nil {
		t.Fatal(err)
	}
	if ok.More != 0 || ok.Since != want[len(want)-1] {
		t.Errorf("login reply more %d since %d; want the whole catch-up, since %d", ok.More, ok.Since, want[len(want)-1])
	}
	if got := live(back); !slices.Equal(got, want) {
		t.Errorf("caught up on %d messages, want %d", len(got), len(want))
	}
	last := bob.say("room599", "live")
	if f := back.next(isMsg("live")); f.ID != last {
		t.Errorf("live message %+v", f)
	}
}

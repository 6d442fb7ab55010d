// Package storetest is a conformance suite for store.Store
// implementations. Every implementation runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return inmem.New() })
//	}
//
// Stores keep times to the millisecond, so the suite uses times with no
// finer part and compares them with time.Time.Equal.
package storetest

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parley-chat/parley/chatserver/store"
)

// Run runs the suite. open must return a new, empty store each time it is
// called; Run closes it when the subtest that opened it ends.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Users", testUsers},
		{"Tokens", testTokens},
		{"Rooms", testRooms},
		{"RoomMembersOrder", testMembersOrder},
		{"SetOwner", testSetOwner},
		{"SetDelivered", testSetDelivered},
		{"MessageRoundTrip", testMessageRoundTrip},
		{"LastID", testLastID},
		{"Recall", testRecall},
		{"RecallInSameBatch", testRecallInSameBatch},
		{"History", testHistory},
		{"HistoryPaging", testHistoryPaging},
		{"Since", testSince},
		{"SinceManyRooms", testSinceManyRooms},
		{"Bans", testBans},
		{"Topic", testTopic},
		{"RoomModes", testRoomModes},
		{"MemberRoles", testMemberRoles},
		{"DeleteRoom", testDeleteRoom},
		{"Prune", testPrune},
		{"PrivateTo", testPrivateTo},
		{"LastBy", testLastBy},
		{"RecentKeys", testRecentKeys},
		{"EmptyBatch", testEmptyBatch},
		{"Edit", testEdit},
		{"Reply", testReply},
		{"React", testReact},
		{"ReactGoesWithRoomAndPrune", testReactGoes},
		{"Reads", testReads},
		{"Nicks", testNicks},
		{"Search", testSearch},
		{"Counts", testCounts},
		{"PrivateConvs", testPrivateConvs},
		{"Concurrent", testConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
}

// base is the time the suite's records are made at: a whole millisecond.
var base = time.UnixMilli(1777888800000)

// at returns the time of message id: base plus id seconds.
func at(id uint64) time.Time { return base.Add(time.Duration(id) * time.Second) }

func ctx(t *testing.T) context.Context { return t.Context() }

// Apply applies changes as one batch and fails the test if that fails.
func apply(t *testing.T, s store.Store, changes ...store.Change) {
	t.Helper()
	if err := s.Apply(ctx(t), changes); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

// display returns the display name the suite uses for a user key: the key
// with its first letter in upper case.
func display(key string) string {
	r, n := utf8.DecodeRuneInString(key)
	return string(unicode.ToUpper(r)) + key[n:]
}

func roomMsg(id uint64, room, from, text string) store.Message {
	return store.Message{ID: id, Conv: store.RoomConv(room), Room: room, From: from, FromName: display(from),
		Text: text, Time: at(id)}
}

func privMsg(id uint64, from, to, text string) store.Message {
	return store.Message{ID: id, Conv: store.PrivateConv(from, to), From: from, FromName: display(from),
		To: to, ToName: display(to), Text: text, Time: at(id)}
}

// recallOf returns the log entry, with id, that recalls m, as the hub
// makes it.
func recallOf(id uint64, m store.Message) store.Message {
	return store.Message{ID: id, Conv: m.Conv, Room: m.Room, From: m.From, FromName: m.FromName,
		To: m.To, ToName: m.ToName, Kind: store.KindRecall, Target: m.ID, Time: at(id)}
}

func add(ms ...store.Message) []store.Change {
	var out []store.Change
	for _, m := range ms {
		if m.Kind == store.KindRecall {
			out = append(out, store.Change{Kind: store.RecallMsg, Message: m})
		} else {
			out = append(out, store.Change{Kind: store.AddMessage, Message: m})
		}
	}
	return out
}

func ids(ms []store.Message) []uint64 {
	out := make([]uint64, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

// sameMessage reports whether a and b are equal, comparing times as
// instants.
func sameMessage(a, b store.Message) bool {
	ta, tb := a.Time, b.Time
	a.Time, b.Time = time.Time{}, time.Time{}
	ra, rb := a.Reactions, b.Reactions
	a.Reactions, b.Reactions = nil, nil
	return reflect.DeepEqual(a, b) && ta.Equal(tb) && slices.EqualFunc(ra, rb, func(x, y store.Reaction) bool {
		return x.Emoji == y.Emoji && slices.Equal(x.Users, y.Users) && slices.Equal(x.Names, y.Names)
	})
}

func sameUser(a, b store.User) bool {
	ta, tb := a.Created, b.Created
	a.Created, b.Created = time.Time{}, time.Time{}
	return a == b && ta.Equal(tb)
}

func checkMessages(t *testing.T, what string, got, want []store.Message) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: ids %v, want %v", what, ids(got), ids(want))
	}
	for i := range got {
		if !sameMessage(got[i], want[i]) {
			t.Fatalf("%s: entry %d is\n\t%+v\nwant\n\t%+v", what, i, got[i], want[i])
		}
	}
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("%s: error %v, want store.ErrNotFound", what, err)
	}
}

func testUsers(t *testing.T, s store.Store) {
	if us, err := s.Users(ctx(t)); err != nil || len(us) != 0 {
		t.Fatalf("Users of an empty store = %v, %v", us, err)
	}
	alice := store.User{Key: "alice", Name: "Alice", Hash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA", Created: base}
	lei := store.User{Key: "李雷", Name: "李雷", Hash: "h2", PMDelivered: 7, Created: base.Add(time.Hour)}
	for _, u := range []store.User{alice, lei} {
		if err := s.CreateUser(ctx(t), u); err != nil {
			t.Fatalf("CreateUser(%s): %v", u.Key, err)
		}
	}
	err := s.CreateUser(ctx(t), store.User{Key: "alice", Name: "ALICE", Hash: "other", Created: base.Add(time.Minute)})
	if !errors.Is(err, store.ErrExists) {
		t.Fatalf("CreateUser of a taken key: %v, want store.ErrExists", err)
	}
	for _, want := range []store.User{alice, lei} {
		got, err := s.User(ctx(t), want.Key)
		if err != nil || !sameUser(got, want) {
			t.Errorf("User(%s) = %+v, %v; want %+v", want.Key, got, err, want)
		}
	}
	_, err = s.User(ctx(t), "bob")
	wantNotFound(t, "User(bob)", err)
	_, err = s.User(ctx(t), "Alice") // keys are exact; the hub folds case
	wantNotFound(t, "User(Alice)", err)

	us, err := s.Users(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(us, func(a, b store.User) int { return cmp.Compare(a.Key, b.Key) })
	if len(us) != 2 || !sameUser(us[0], alice) || !sameUser(us[1], lei) {
		t.Errorf("Users = %+v; want alice and 李雷", us)
	}
}

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func testTokens(t *testing.T, s store.Store) {
	put := func(token, user string, exp time.Time) {
		t.Helper()
		if err := s.PutToken(ctx(t), hash(token), user, exp); err != nil {
			t.Fatalf("PutToken: %v", err)
		}
	}
	check := func(token, wantUser string, wantExp time.Time) {
		t.Helper()
		user, exp, err := s.TokenUser(ctx(t), hash(token))
		if wantUser == "" {
			wantNotFound(t, "TokenUser("+token+")", err)
			return
		}
		if err != nil || user != wantUser || !exp.Equal(wantExp) {
			t.Fatalf("TokenUser(%s) = %q, %v, %v; want %q, %v", token, user, exp, err, wantUser, wantExp)
		}
	}
	check("one", "", time.Time{})
	put("one", "alice", base.Add(1*time.Hour))
	put("two", "bob", base.Add(2*time.Hour))
	put("three", "alice", base.Add(3*time.Hour))
	check("one", "alice", base.Add(1*time.Hour))
	check("two", "bob", base.Add(2*time.Hour))
	check("four", "", time.Time{})

	// Putting a hash again replaces it.
	put("one", "carol", base.Add(4*time.Hour))
	check("one", "carol", base.Add(4*time.Hour))

	// Tokens that expired before now go; one expiring at now stays.
	if err := s.DeleteExpiredTokens(ctx(t), base.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	check("two", "bob", base.Add(2*time.Hour))
	check("three", "alice", base.Add(3*time.Hour))
	if err := s.DeleteExpiredTokens(ctx(t), base.Add(3*time.Hour+time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	check("two", "", time.Time{})
	check("three", "", time.Time{})
	check("one", "carol", base.Add(4*time.Hour))
}

// roomsByKey returns the store's rooms by key.
func roomsByKey(t *testing.T, s store.Store) map[string]store.Room {
	t.Helper()
	rooms, err := s.Rooms(ctx(t))
	if err != nil {
		t.Fatalf("Rooms: %v", err)
	}
	out := map[string]store.Room{}
	for _, r := range rooms {
		if _, dup := out[r.Key]; dup {
			t.Fatalf("Rooms lists %q twice", r.Key)
		}
		out[r.Key] = r
	}
	return out
}

func members(r store.Room) string {
	var parts []string
	for _, m := range r.Members {
		parts = append(parts, fmt.Sprintf("%s:%d", m.User, m.Seq))
	}
	return strings.Join(parts, " ")
}

func createRoom(key, name, owner string, created time.Time) store.Change {
	return store.Change{Kind: store.CreateRoom, Room: store.Room{Key: key, Name: name, Owner: owner, Created: created}}
}

func addMember(room, user string, seq uint64) store.Change {
	return store.Change{Kind: store.AddMember, Room: store.Room{Key: room}, Member: store.Member{User: user, Seq: seq}}
}

func removeMember(room, user string) store.Change {
	return store.Change{Kind: store.RemoveMember, Room: store.Room{Key: room}, Member: store.Member{User: user}}
}

func setOwner(room, owner string) store.Change {
	return store.Change{Kind: store.SetOwner, Room: store.Room{Key: room, Owner: owner}}
}

func testRooms(t *testing.T, s store.Store) {
	if rs := roomsByKey(t, s); len(rs) != 0 {
		t.Fatalf("an empty store has rooms %v", rs)
	}
	apply(t, s,
		createRoom("go", "Go", "alice", base),
		addMember("go", "alice", 1),
		addMember("go", "bob", 2),
		createRoom("中文", "中文", "bob", base.Add(time.Minute)),
		addMember("中文", "bob", 3),
		createRoom("empty", "Empty", "", base.Add(2*time.Minute)),
	)
	rs := roomsByKey(t, s)
	if len(rs) != 3 {
		t.Fatalf("Rooms = %v; want go, 中文 and empty", rs)
	}
	for _, want := range []struct {
		key, name, owner, members string
		created                   time.Time
	}{
		{"go", "Go", "alice", "alice:1 bob:2", base},
		{"中文", "中文", "bob", "bob:3", base.Add(time.Minute)},
		{"empty", "Empty", "", "", base.Add(2 * time.Minute)},
	} {
		r := rs[want.key]
		if r.Name != want.name || r.Owner != want.owner || members(r) != want.members || !r.Created.Equal(want.created) {
			t.Errorf("room %s = %+v; want name %s, owner %q, members %q, created %v",
				want.key, r, want.name, want.owner, want.members, want.created)
		}
	}

	// A room whose members all leave is kept, empty, with no owner.
	apply(t, s, removeMember("中文", "bob"), setOwner("中文", ""))
	rs = roomsByKey(t, s)
	if r, ok := rs["中文"]; !ok || len(r.Members) != 0 || r.Owner != "" {
		t.Errorf("after everyone left, room 中文 = %+v, %v; want it kept, empty", r, ok)
	}
	// Removing someone who is not a member changes nothing.
	apply(t, s, removeMember("go", "carol"), removeMember("nowhere", "alice"))
	if got := members(roomsByKey(t, s)["go"]); got != "alice:1 bob:2" {
		t.Errorf("members of go = %q after removing non-members", got)
	}
}

func testMembersOrder(t *testing.T, s store.Store) {
	apply(t, s, createRoom("go", "Go", "alice", base), addMember("go", "alice", 1))
	apply(t, s, addMember("go", "bob", 2), addMember("go", "carol", 4))
	apply(t, s, createRoom("rust", "Rust", "dave", base), addMember("rust", "dave", 5))
	apply(t, s, addMember("go", "李雷", 6))
	if got, want := members(roomsByKey(t, s)["go"]), "alice:1 bob:2 carol:4 李雷:6"; got != want {
		t.Fatalf("members of go = %q, want %q", got, want)
	}
	// Leaving and joining again moves a member to the end.
	apply(t, s, removeMember("go", "alice"))
	apply(t, s, addMember("go", "alice", 7))
	apply(t, s, removeMember("go", "carol"))
	rs := roomsByKey(t, s)
	if got, want := members(rs["go"]), "bob:2 李雷:6 alice:7"; got != want {
		t.Errorf("members of go = %q, want %q", got, want)
	}
	if got, want := members(rs["rust"]), "dave:5"; got != want {
		t.Errorf("members of rust = %q, want %q", got, want)
	}
}

func testSetOwner(t *testing.T, s store.Store) {
	apply(t, s, createRoom("go", "Go", "alice", base), addMember("go", "alice", 1), addMember("go", "bob", 2))
	apply(t, s, removeMember("go", "alice"), setOwner("go", "bob"))
	if r := roomsByKey(t, s)["go"]; r.Owner != "bob" || members(r) != "bob:2" {
		t.Errorf("room go = %+v; want owner bob, member bob", r)
	}
	apply(t, s, setOwner("go", ""))
	if r := roomsByKey(t, s)["go"]; r.Owner != "" {
		t.Errorf("owner of go = %q, want none", r.Owner)
	}
	// Setting the owner of a room that does not exist creates nothing.
	apply(t, s, setOwner("nowhere", "bob"))
	if _, ok := roomsByKey(t, s)["nowhere"]; ok {
		t.Errorf("SetOwner created a room")
	}
}

func testSetDelivered(t *testing.T, s store.Store) {
	if err := s.CreateUser(ctx(t), store.User{Key: "bob", Name: "Bob", Hash: "h", Created: base}); err != nil {
		t.Fatal(err)
	}
	delivered := func() uint64 {
		t.Helper()
		u, err := s.User(ctx(t), "bob")
		if err != nil {
			t.Fatal(err)
		}
		return u.PMDelivered
	}
	set := func(user string, id uint64) store.Change {
		return store.Change{Kind: store.SetDelivered, User: store.User{Key: user, PMDelivered: id}}
	}
	apply(t, s, set("bob", 5))
	if got := delivered(); got != 5 {
		t.Fatalf("PMDelivered = %d, want 5", got)
	}
	apply(t, s, set("bob", 9), set("bob", 12))
	if got := delivered(); got != 12 {
		t.Fatalf("PMDelivered = %d, want 12", got)
	}
	// It never goes back: a lower id comes from a batch accepted earlier.
	apply(t, s, set("bob", 8))
	if got := delivered(); got != 12 {
		t.Fatalf("PMDelivered = %d after setting 8; want it to stay 12", got)
	}
	// An unknown user is not created.
	apply(t, s, set("nobody", 3))
	_, err := s.User(ctx(t), "nobody")
	wantNotFound(t, "User(nobody) after SetDelivered", err)
}

// Text reaching a store has passed protocol.CheckText, which refuses
// NUL and other control characters; PostgreSQL's text cannot hold NUL.
func testMessageRoundTrip(t *testing.T, s store.Store) {
	text := strings.Repeat("你好, world 👋\n\t", 200)
	ms := []store.Message{
		{ID: 1, Conv: store.RoomConv("lobby"), Room: "lobby", From: "alice", FromName: "Alice", Text: text, Time: at(1), Key: "k-1"},
		{ID: 2, Conv: store.RoomConv("go"), Room: "go", From: "李雷", FromName: "李雷", Kind: "file",
			File: `{"name":"a b.png","size":12,"path":"shots/a b.png","sha256":"ab"}`, Text: "look", Time: at(2).Add(250 * time.Millisecond)},
		{ID: 5, Conv: store.PrivateConv("bob", "alice"), From: "bob", FromName: "Bob", To: "alice", ToName: "Alice",
			Text: "'quotes' \"and\" $1 ? %s -- no: \\ back", Time: time.UnixMilli(0)},
	}
	apply(t, s, add(ms...)...)
	for _, want := range ms {
		got, err := s.Message(ctx(t), want.ID)
		if err != nil || !sameMessage(got, want) {
			t.Errorf("Message(%d) = %+v, %v\nwant %+v", want.ID, got, err, want)
		}
	}
	for _, id := range []uint64{0, 3, 4, 6} {
		_, err := s.Message(ctx(t), id)
		wantNotFound(t, fmt.Sprintf("Message(%d)", id), err)
	}
}

func testLastID(t *testing.T, s store.Store) {
	if id, err := s.LastID(ctx(t)); err != nil || id != 0 {
		t.Fatalf("LastID of an empty store = %d, %v; want 0", id, err)
	}
	m := roomMsg(3, "lobby", "alice", "one")
	apply(t, s, add(m)...)
	if id, err := s.LastID(ctx(t)); err != nil || id != 3 {
		t.Fatalf("LastID = %d, %v; want 3", id, err)
	}
	// A recall entry has an id of its own, and counts.
	apply(t, s, add(recallOf(4, m))...)
	if id, err := s.LastID(ctx(t)); err != nil || id != 4 {
		t.Fatalf("LastID = %d, %v; want 4", id, err)
	}
	big := uint64(1) << 62
	apply(t, s, add(roomMsg(big, "lobby", "bob", "far"))...)
	if id, err := s.LastID(ctx(t)); err != nil || id != big {
		t.Fatalf("LastID = %d, %v; want %d", id, err, big)
	}
	if m, err := s.Message(ctx(t), big); err != nil || m.ID != big {
		t.Fatalf("Message(%d) = %+v, %v", big, m, err)
	}
}

func testRecall(t *testing.T, s store.Store) {
	file := roomMsg(1, "go", "alice", "the slides")
	file.Kind, file.File, file.Key = "file", `{"name":"s.pdf","size":1,"path":"s.pdf"}`, "key-1"
	other := roomMsg(2, "go", "bob", "thanks")
	pm := privMsg(3, "alice", "bob", "secret")
	apply(t, s, add(file, other, pm)...)

	rc := recallOf(4, file)
	rcPM := recallOf(5, pm)
	apply(t, s, add(rc)...)
	apply(t, s, add(rcPM)...)

	tomb := file
	tomb.Recalled, tomb.Text, tomb.File = true, "", ""
	pmTomb := pm
	pmTomb.Recalled, pmTomb.Text = true, ""
	for _, want := range []store.Message{tomb, other, pmTomb, rc, rcPM} {
		got, err := s.Message(ctx(t), want.ID)
		if err != nil || !sameMessage(got, want) {
			t.Errorf("Message(%d) = %+v, %v\nwant %+v", want.ID, got, err, want)
		}
	}
	// History shows the tombstone and leaves the recall entry out.
	h, err := s.History(ctx(t), store.RoomConv("go"), 100, 10)
	if err != nil {
		t.Fatal(err)
	}
	checkMessages(t, "History(#go)", h, []store.Message{tomb, other})
	h, err = s.History(ctx(t), store.PrivateConv("alice", "bob"), 100, 10)
	if err != nil {
		t.Fatal(err)
	}
	checkMessages(t, "History(@alice bob)", h, []store.Message{pmTomb})
}

func testRecallInSameBatch(t *testing.T, s store.Store) {
	m := roomMsg(1, "lobby", "alice", "oops")
	apply(t, s, add(m, recallOf(2, m))...)
	got, err := s.Message(ctx(t), 1)
	if err != nil || !got.Recalled || got.Text != "" {
		t.Errorf("Message(1) = %+v, %v; want it recalled with its text erased", got, err)
	}
}

func testHistory(t *testing.T, s store.Store) {
	a1 := roomMsg(1, "go", "alice", "a1")
	b2 := roomMsg(2, "lobby", "bob", "b2")
	a3 := roomMsg(3, "go", "bob", "a3")
	p4 := privMsg(4, "alice", "bob", "p4")
	a5 := roomMsg(5, "go", "alice", "a5")
	p6 := privMsg(6, "bob", "alice", "p6")
	apply(t, s, add(a1, b2, a3, p4, a5, p6)...)

	for _, tt := range []struct {
		conv   string
		before uint64
		limit  int
		want   []store.Message
	}{
		{store.RoomConv("go"), 7, 10, []store.Message{a1, a3, a5}},
		{store.RoomConv("go"), 7, 2, []store.Message{a3, a5}},  // the newest, oldest first
		{store.RoomConv("go"), 5, 10, []store.Message{a1, a3}}, // before is exclusive
		{store.RoomConv("go"), 3, 10, []store.Message{a1}},
		{store.RoomConv("go"), 1, 10, nil},
		{store.RoomConv("go"), 7, 0, nil},
		{store.RoomConv("lobby"), 7, 10, []store.Message{b2}},
		{store.PrivateConv("alice", "bob"), 7, 10, []store.Message{p4, p6}},
		{store.PrivateConv("bob", "alice"), 7, 1, []store.Message{p6}},
		{store.RoomConv("nowhere"), 7, 10, nil},
	} {
		got, err := s.History(ctx(t), tt.conv, tt.before, tt.limit)
		if err != nil {
			t.Fatalf("History(%s, %d, %d): %v", tt.conv, tt.before, tt.limit, err)
		}
		checkMessages(t, fmt.Sprintf("History(%s, %d, %d)", tt.conv, tt.before, tt.limit), got, tt.want)
	}
}

func testHistoryPaging(t *testing.T, s store.Store) {
	var want []uint64 // ids of #go entries History must return, in order
	var batch []store.Message
	var last store.Message
	for id := uint64(1); id <= 120; id++ {
		var m store.Message
		switch {
		case id%10 == 0 && last.ID != 0:
			m = recallOf(id, last) // left out of history
		case id%3 == 0:
			m = roomMsg(id, "lobby", "bob", "elsewhere")
		default:
			m = roomMsg(id, "go", "alice", fmt.Sprint("message ", id))
			last = m
			want = append(want, id)
		}
		batch = append(batch, m)
		if len(batch) == 7 {
			apply(t, s, add(batch...)...)
			batch = nil
		}
	}
	apply(t, s, add(batch...)...)

	// Page back from the newest, as a client does with its before.
	var pages [][]uint64
	before := uint64(1 << 62)
	for len(pages) <= len(want) {
		page, err := s.History(ctx(t), store.RoomConv("go"), before, 9)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > 9 {
			t.Fatalf("History returned %d entries with a limit of 9", len(page))
		}
		pages = append(pages, ids(page))
		before = page[0].ID
	}
	var got []uint64
	for i := len(pages) - 1; i >= 0; i-- {
		got = append(got, pages[i]...)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paging through #go gave %v\nwant %v", got, want)
	}
	for _, p := range pages[:len(pages)-1] {
		if len(p) != 9 {
			t.Errorf("a page before the last has %d entries, want 9", len(p))
		}
	}
}

func testSince(t *testing.T, s store.Store) {
	m1 := roomMsg(1, "lobby", "bob", "hello")
	m2 := roomMsg(2, "go", "bob", "in go")
	m3 := roomMsg(3, "other", "alice", "alice's, but in a room not asked for")
	m4 := privMsg(4, "alice", "bob", "from alice")
	m5 := privMsg(5, "carol", "alice", "to alice")
	m6 := privMsg(6, "bob", "carol", "not alice's")
	m7 := recallOf(7, m2)
	m8 := recallOf(8, m5)
	m9 := privMsg(9, "alice", "alice", "a note to self")
	m10 := roomMsg(10, "lobby", "carol", "bye")
	m11 := recallOf(11, m6)
	apply(t, s, add(m1, m2, m3, m4, m5, m6)...)
	apply(t, s, add(m7, m8, m9, m10, m11)...)

	convs := []string{store.RoomConv("lobby"), store.RoomConv("go")}
	tomb2, tomb5, tomb6 := m2, m5, m6
	tomb2.Recalled, tomb2.Text = true, ""
	tomb5.Recalled, tomb5.Text = true, ""
	tomb6.Recalled, tomb6.Text = true, ""
	for _, tt := range []struct {
		name        string
		user        string
		convs       []string
		after, upto uint64
		limit       int
		want        []store.Message
	}{
		{"everything", "alice", convs, 0, 11, 100, []store.Message{m1, tomb2, m4, tomb5, m7, m8, m9, m10}},
		{"a window", "alice", convs, 2, 8, 100, []store.Message{m4, tomb5, m7, m8}},
		{"upto is inclusive, after exclusive", "alice", convs, 4, 5, 100, []store.Message{tomb5}},
		{"limited to the oldest", "alice", convs, 0, 11, 3, []store.Message{m1, tomb2, m4}},
		{"private only", "alice", nil, 0, 11, 100, []store.Message{m4, tomb5, m8, m9}},
		{"another user", "carol", []string{store.RoomConv("other")}, 0, 11, 100, []store.Message{m3, tomb5, tomb6, m8, m11}},
		{"nothing new", "alice", convs, 11, 11, 100, nil},
		{"upto below after", "alice", convs, 8, 2, 100, nil},
	} {
		got, err := s.Since(ctx(t), tt.user, tt.convs, tt.after, tt.upto, tt.limit)
		if err != nil {
			t.Fatalf("%s: Since: %v", tt.name, err)
		}
		checkMessages(t, "Since, "+tt.name, got, tt.want)
	}
}

func testPrivateTo(t *testing.T, s store.Store) {
	m1 := privMsg(1, "bob", "alice", "first")
	m2 := roomMsg(2, "lobby", "bob", "not private")
	m3 := privMsg(3, "alice", "bob", "alice's own")
	m4 := privMsg(4, "alice", "alice", "a note to self")
	m5 := privMsg(5, "carol", "alice", "second")
	m6 := recallOf(6, m5)
	m7 := privMsg(7, "bob", "carol", "not to alice")
	m8 := privMsg(8, "bob", "alice", "third")
	apply(t, s, add(m1, m2, m3, m4, m5, m6, m7, m8)...)
	tomb5 := m5
	tomb5.Recalled, tomb5.Text = true, ""
	for _, tt := range []struct {
		name        string
		after, upto uint64
		limit       int
		want        []store.Message
	}{
		{"all", 0, 8, 100, []store.Message{m1, tomb5, m8}},
		{"after is exclusive", 1, 8, 100, []store.Message{tomb5, m8}},
		{"upto is inclusive", 0, 5, 100, []store.Message{m1, tomb5}},
		{"limited to the oldest", 0, 8, 2, []store.Message{m1, tomb5}},
		{"none", 8, 8, 100, nil},
	} {
		got, err := s.PrivateTo(ctx(t), "alice", tt.after, tt.upto, tt.limit)
		if err != nil {
			t.Fatalf("%s: PrivateTo: %v", tt.name, err)
		}
		checkMessages(t, "PrivateTo, "+tt.name, got, tt.want)
	}
}

func testLastBy(t *testing.T, s store.Store) {
	m1 := roomMsg(1, "go", "alice", "one")
	m2 := roomMsg(2, "go", "bob", "two")
	m3 := privMsg(3, "alice", "bob", "three")
	m4 := recallOf(4, m3)
	m5 := roomMsg(5, "lobby", "alice", "five")
	apply(t, s, add(m1, m2, m3, m4, m5)...)
	tomb3 := m3
	tomb3.Recalled, tomb3.Text = true, ""

	for _, tt := range []struct {
		user string
		max  uint64
		want *store.Message
	}{
		{"alice", 100, &m5},
		{"alice", 5, &m5},
		{"alice", 4, &tomb3}, // the recall entry is not a message; the tombstone is
		{"alice", 2, &m1},
		{"alice", 0, nil},
		{"bob", 100, &m2},
		{"bob", 1, nil},
		{"carol", 100, nil},
	} {
		got, err := s.LastBy(ctx(t), tt.user, tt.max)
		what := fmt.Sprintf("LastBy(%s, %d)", tt.user, tt.max)
		if tt.want == nil {
			wantNotFound(t, what, err)
			continue
		}
		if err != nil || !sameMessage(got, *tt.want) {
			t.Errorf("%s = %+v, %v\nwant %+v", what, got, err, *tt.want)
		}
	}
}

func testRecentKeys(t *testing.T, s store.Store) {
	keyed := func(m store.Message, key string) store.Message { m.Key = key; return m }
	m1 := keyed(roomMsg(1, "lobby", "alice", "a"), "k1")
	m2 := roomMsg(2, "lobby", "bob", "b")
	m3 := keyed(privMsg(3, "bob", "alice", "c"), "k1") // the same key, another sender
	m4 := keyed(roomMsg(4, "go", "alice", "d"), "k4")
	m5 := roomMsg(5, "go", "alice", "e")
	m6 := recallOf(6, m4)
	apply(t, s, add(m1, m2, m3, m4, m5, m6)...)
	tomb4 := m4
	tomb4.Recalled, tomb4.Text = true, ""

	if got, err := s.RecentKeys(ctx(t), 0); err != nil || len(got) != 0 {
		t.Errorf("RecentKeys(0) = %v, %v; want none", ids(got), err)
	}
	got, err := s.RecentKeys(ctx(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	checkMessages(t, "RecentKeys(2)", got, []store.Message{m3, tomb4})
	got, err = s.RecentKeys(ctx(t), 100)
	if err != nil {
		t.Fatal(err)
	}
	checkMessages(t, "RecentKeys(100)", got, []store.Message{m1, m3, tomb4})
}

func testEmptyBatch(t *testing.T, s store.Store) {
	apply(t, s)
	if err := s.Apply(ctx(t), []store.Change{}); err != nil {
		t.Fatalf("Apply of an empty batch: %v", err)
	}
	if id, err := s.LastID(ctx(t)); err != nil || id != 0 {
		t.Errorf("LastID = %d, %v after empty batches", id, err)
	}
}

// testConcurrent writes batches of two messages while other goroutines
// read. Readers must never see half a batch, and the race detector
// watches the rest.
func testConcurrent(t *testing.T, s store.Store) {
	const batches = 150
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}

	wg.Go(func() {
		defer close(done)
		for i := uint64(0); i < batches; i++ {
			a := roomMsg(2*i+1, "lobby", "alice", "first half")
			b := privMsg(2*i+2, "bob", "alice", "second half")
			b.Key = fmt.Sprint("key-", i)
			if err := s.Apply(context.Background(), add(a, b)); err != nil {
				report(fmt.Errorf("Apply: %w", err))
				return
			}
		}
	})
	wg.Go(func() {
		for i := range 20 {
			u := store.User{Key: fmt.Sprint("user", i), Name: fmt.Sprint("User", i), Hash: "h", Created: base}
			if err := s.CreateUser(context.Background(), u); err != nil {
				report(fmt.Errorf("CreateUser: %w", err))
				return
			}
			if err := s.PutToken(context.Background(), hash(u.Key), u.Key, base); err != nil {
				report(fmt.Errorf("PutToken: %w", err))
				return
			}
		}
	})
	for range 3 {
		wg.Go(func() {
			var prev uint64
			for {
				select {
				case <-done:
					return
				default:
				}
				last, err := s.LastID(context.Background())
				if err != nil {
					report(fmt.Errorf("LastID: %w", err))
					return
				}
				if last%2 != 0 {
					report(fmt.Errorf("LastID %d: half a batch is visible", last))
					return
				}
				if last < prev {
					report(fmt.Errorf("LastID went back from %d to %d", prev, last))
					return
				}
				prev = last
				msgs, err := s.Since(context.Background(), "alice", []string{store.RoomConv("lobby")}, 0, last, 1000)
				if err != nil {
					report(fmt.Errorf("Since: %w", err))
					return
				}
				if uint64(len(msgs)) != last {
					report(fmt.Errorf("Since up to %d returned %d entries", last, len(msgs)))
					return
				}
				if _, err := s.History(context.Background(), store.RoomConv("lobby"), last+1, 5); err != nil {
					report(fmt.Errorf("History: %w", err))
					return
				}
				if _, err := s.Users(context.Background()); err != nil {
					report(fmt.Errorf("Users: %w", err))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if last, err := s.LastID(ctx(t)); err != nil || last != 2*batches {
		t.Errorf("LastID = %d, %v; want %d", last, err, 2*batches)
	}
	if us, err := s.Users(ctx(t)); err != nil || len(us) != 20 {
		t.Errorf("Users: %d, %v; want 20", len(us), err)
	}
	keys, err := s.RecentKeys(ctx(t), batches)
	if err != nil || len(keys) != batches {
		t.Errorf("RecentKeys: %d, %v; want %d", len(keys), err, batches)
	}
}

// A user in more rooms than one compound query may read (SQLite allows
// 500 arms) still gets everything, in order, up to the limit.
func testSinceManyRooms(t *testing.T, s store.Store) {
	const rooms = 600
	var convs []string
	var all []store.Message
	id := uint64(0)
	for round := 0; round < 2; round++ {
		var batch []store.Message
		for i := range rooms {
			id++
			m := roomMsg(id, fmt.Sprintf("r%03d", i), "bob", fmt.Sprintf("round %d", round))
			batch = append(batch, m)
			if round == 0 {
				convs = append(convs, store.RoomConv(m.Room))
			}
		}
		id++
		pm := privMsg(id, "bob", "alice", "private")
		batch = append(batch, pm)
		apply(t, s, add(batch...)...)
		all = append(all, batch...)
	}
	got, err := s.Since(ctx(t), "alice", convs, 0, id, 5000)
	if err != nil {
		t.Fatalf("Since over %d rooms: %v", rooms, err)
	}
	checkMessages(t, "Since over 600 rooms", got, all)
	got, err = s.Since(ctx(t), "alice", convs, 100, id, 450)
	if err != nil {
		t.Fatalf("Since over %d rooms, limited: %v", rooms, err)
	}
	checkMessages(t, "Since over 600 rooms, limited", got, all[100:550])
}

func addBan(room, user string) store.Change {
	return store.Change{Kind: store.AddBan, Room: store.Room{Key: room}, Member: store.Member{User: user}}
}

func testBans(t *testing.T, s store.Store) {
	apply(t, s, createRoom("go", "Go", "alice", base), addMember("go", "alice", 1),
		createRoom("ops", "Ops", "alice", base), addMember("ops", "alice", 2))
	apply(t, s, addBan("go", "bob"), addBan("go", "carol"), addBan("go", "bob"), addBan("ops", "dave"))
	rs := roomsByKey(t, s)
	if got := strings.Join(rs["go"].Banned, " "); got != "bob carol" {
		t.Errorf("go's bans = %q, want \"bob carol\"", got)
	}
	if got := strings.Join(rs["ops"].Banned, " "); got != "dave" {
		t.Errorf("ops's bans = %q, want \"dave\"", got)
	}
	apply(t, s, store.Change{Kind: store.RemoveBan, Room: store.Room{Key: "go"}, Member: store.Member{User: "bob"}},
		store.Change{Kind: store.RemoveBan, Room: store.Room{Key: "go"}, Member: store.Member{User: "nobody"}})
	if got := strings.Join(roomsByKey(t, s)["go"].Banned, " "); got != "carol" {
		t.Errorf("go's bans after lifting bob's = %q, want \"carol\"", got)
	}
}

// A room's topic is kept with who set it and when, replaced by the next,
// cleared by an empty one, and goes with the room.
func testTopic(t *testing.T, s store.Store) {
	setTopic := func(room, text, by string, at time.Time) store.Change {
		return store.Change{Kind: store.SetTopic, Room: store.Room{Key: room, Topic: text, TopicBy: by, TopicTime: at}}
	}
	apply(t, s, createRoom("go", "Go", "alice", base), addMember("go", "alice", 1),
		createRoom("ops", "Ops", "alice", base), addMember("ops", "alice", 2))
	apply(t, s, setTopic("go", "Go 1.26 is out: 話そう", "Alice", base.Add(time.Minute)))
	rs := roomsByKey(t, s)
	if r := rs["go"]; r.Topic != "Go 1.26 is out: 話そう" || r.TopicBy != "Alice" || !r.TopicTime.Equal(base.Add(time.Minute)) {
		t.Errorf("go's topic = %q by %q at %v; want the one set", r.Topic, r.TopicBy, r.TopicTime)
	}
	if r := rs["ops"]; r.Topic != "" || r.TopicBy != "" || !r.TopicTime.IsZero() {
		t.Errorf("ops has a topic it was never given: %q by %q at %v", r.Topic, r.TopicBy, r.TopicTime)
	}
	apply(t, s, setTopic("go", "second", "Bob", base.Add(2*time.Minute)), setTopic("ops", "ops topic", "Alice", base))
	rs = roomsByKey(t, s)
	if r := rs["go"]; r.Topic != "second" || r.TopicBy != "Bob" {
		t.Errorf("go's topic after the second = %q by %q", r.Topic, r.TopicBy)
	}
	apply(t, s, setTopic("go", "", "Bob", base.Add(3*time.Minute)))
	if r := roomsByKey(t, s)["go"]; r.Topic != "" {
		t.Errorf("go's topic after clearing it = %q", r.Topic)
	}
	apply(t, s, removeMember("ops", "alice"), setOwner("ops", ""), store.Change{Kind: store.DeleteRoom, Room: store.Room{Key: "ops"}})
	apply(t, s, createRoom("ops", "Ops", "bob", base.Add(time.Hour)), addMember("ops", "bob", 3))
	if r := roomsByKey(t, s)["ops"]; r.Topic != "" {
		t.Errorf("a room made again after its deletion has the old topic %q", r.Topic)
	}
}

func setModes(room string, secret, lock bool) store.Change {
	return store.Change{Kind: store.SetModes, Room: store.Room{Key: room, Secret: secret, TopicLock: lock}}
}

func setRoles(room, user string, op, voice bool) store.Change {
	return store.Change{Kind: store.SetRoles, Room: store.Room{Key: room}, Member: store.Member{User: user, Operator: op, Voice: voice}}
}

// A room starts with its topic locked and not secret; its settings are
// kept as set, each room's its own, and a room made again after its
// deletion starts over.
func testRoomModes(t *testing.T, s store.Store) {
	apply(t, s, createRoom("go", "Go", "alice", base), addMember("go", "alice", 1),
		createRoom("ops", "Ops", "alice", base), addMember("ops", "alice", 2))
	rs := roomsByKey(t, s)
	for _, k := range []string{"go", "ops"} {
		if r := rs[k]; r.Secret || !r.TopicLock {
			t.Errorf("new room %s: secret %v, topic lock %v; want false, true", k, r.Secret, r.TopicLock)
		}
	}
	apply(t, s, setModes("go", true, false))
	rs = roomsByKey(t, s)
	if r := rs["go"]; !r.Secret || r.TopicLock {
		t.Errorf("go after +s -t: secret %v, topic lock %v", r.Secret, r.TopicLock)
	}
	if r := rs["ops"]; r.Secret || !r.TopicLock {
		t.Errorf("ops changed with go: secret %v, topic lock %v", r.Secret, r.TopicLock)
	}
	apply(t, s, setModes("go", false, false), setModes("ops", true, true))
	rs = roomsByKey(t, s)
	if r := rs["go"]; r.Secret || r.TopicLock {
		t.Errorf("go after -s: secret %v, topic lock %v", r.Secret, r.TopicLock)
	}
	if r := rs["ops"]; !r.Secret || !r.TopicLock {
		t.Errorf("ops after +s: secret %v, topic lock %v", r.Secret, r.TopicLock)
	}
	apply(t, s, removeMember("ops", "alice"), setOwner("ops", ""), store.Change{Kind: store.DeleteRoom, Room: store.Room{Key: "ops"}})
	apply(t, s, createRoom("ops", "Ops", "bob", base.Add(time.Hour)), addMember("ops", "bob", 3))
	if r := roomsByKey(t, s)["ops"]; r.Secret || !r.TopicLock {
		t.Errorf("ops made again: secret %v, topic lock %v; want the defaults", r.Secret, r.TopicLock)
	}
}

// roles lists r's members with their roles: "user:ov" (o for operator,
// v for voice).
func roles(r store.Room) string {
	var parts []string
	for _, m := range r.Members {
		p := m.User + ":"
		if m.Operator {
			p += "o"
		}
		if m.Voice {
			p += "v"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " ")
}

// A member's roles are kept as set, and go when they leave: joining
// again starts without them. Members keep their join order.
func testMemberRoles(t *testing.T, s store.Store) {
	apply(t, s, createRoom("go", "Go", "alice", base), addMember("go", "alice", 1), addMember("go", "bob", 2), addMember("go", "carol", 3))
	if got := roles(roomsByKey(t, s)["go"]); got != "alice: bob: carol:" {
		t.Errorf("roles of new members = %q", got)
	}
	apply(t, s, setRoles("go", "bob", true, false), setRoles("go", "carol", false, true))
	if got := roles(roomsByKey(t, s)["go"]); got != "alice: bob:o carol:v" {
		t.Errorf("roles after +o bob +v carol = %q", got)
	}
	apply(t, s, setRoles("go", "bob", true, true), setRoles("go", "carol", false, false))
	r := roomsByKey(t, s)["go"]
	if got := roles(r); got != "alice: bob:ov carol:" {
		t.Errorf("roles after +v bob -v carol = %q", got)
	}
	if got := members(r); got != "alice:1 bob:2 carol:3" {
		t.Errorf("members after role changes = %q", got)
	}
	apply(t, s, removeMember("go", "bob"))
	apply(t, s, addMember("go", "bob", 4))
	if got := roles(roomsByKey(t, s)["go"]); got != "alice: carol: bob:" {
		t.Errorf("roles after bob left and came back = %q; his roles must go with him", got)
	}
}

// A room deleted goes with its members, bans and history; other rooms
// and private messages stay, and a room of that name made afterwards,
// even in the same batch, starts empty.
func testDeleteRoom(t *testing.T, s store.Store) {
	m1 := roomMsg(1, "tmp", "carol", "secret plans")
	m2 := roomMsg(2, "go", "carol", "stays")
	m3 := privMsg(3, "carol", "dave", "stays too")
	m4 := recallOf(4, m1)
	apply(t, s, createRoom("tmp", "Tmp", "carol", base), addMember("tmp", "carol", 1), addBan("tmp", "eve"),
		createRoom("go", "Go", "carol", base), addMember("go", "carol", 2))
	apply(t, s, add(m1, m2, m3, m4)...)
	apply(t, s, removeMember("tmp", "carol"), setOwner("tmp", ""), store.Change{Kind: store.DeleteRoom, Room: store.Room{Key: "tmp"}})
	rs := roomsByKey(t, s)
	if _, ok := rs["tmp"]; ok {
		t.Errorf("the deleted room is still listed: %+v", rs["tmp"])
	}
	if _, ok := rs["go"]; !ok {
		t.Error("another room went with the deleted one")
	}
	h, err := s.History(ctx(t), store.RoomConv("tmp"), 100, 100)
	if err != nil || len(h) != 0 {
		t.Errorf("the deleted room's history = %v, %v; want none", h, err)
	}
	_, err = s.Message(ctx(t), 1)
	wantNotFound(t, "a deleted room's message", err)
	got, err := s.Since(ctx(t), "carol", []string{store.RoomConv("go"), store.RoomConv("tmp")}, 0, 100, 100)
	if err != nil {
		t.Fatal(err)
	}
	checkMessages(t, "Since after the delete", got, []store.Message{m2, m3})

	apply(t, s, createRoom("tmp", "TMP", "dave", base.Add(time.Hour)), addMember("tmp", "dave", 3),
		store.Change{Kind: store.DeleteRoom, Room: store.Room{Key: "tmp"}},
		createRoom("tmp", "tmp", "dave", base.Add(2*time.Hour)), addMember("tmp", "dave", 4))
	r := roomsByKey(t, s)["tmp"]
	if r.Name != "tmp" || members(r) != "dave:4" || len(r.Banned) != 0 {
		t.Errorf("room made again after a delete = %+v; want tmp with dave:4 and no bans", r)
	}
}

func testPrune(t *testing.T, s store.Store) {
	var msgs []store.Message
	for id := uint64(1); id <= 10; id++ {
		msgs = append(msgs, roomMsg(id, "go", "bob", fmt.Sprint(id)))
	}
	apply(t, s, add(msgs...)...)
	cut := at(7) // entries 1-6 are older
	n, err := s.Prune(ctx(t), cut, 4)
	if err != nil || n != 4 {
		t.Fatalf("Prune(limit 4) = %d, %v; want 4", n, err)
	}
	n, err = s.Prune(ctx(t), cut, 100)
	if err != nil || n != 2 {
		t.Fatalf("second Prune = %d, %v; want the 2 left", n, err)
	}
	if n, err := s.Prune(ctx(t), cut, 100); err != nil || n != 0 {
		t.Fatalf("third Prune = %d, %v; want nothing left to do", n, err)
	}
	h, err := s.History(ctx(t), store.RoomConv("go"), 100, 100)
	if err != nil {
		t.Fatal(err)
	}
	checkMessages(t, "history after pruning", h, msgs[6:])
	// An entry that is not older stops the pruning, even if older ones
	// follow it (a clock set back).
	late := roomMsg(11, "go", "bob", "clock set back")
	late.Time = at(1)
	apply(t, s, add(late)...)
	if n, err := s.Prune(ctx(t), at(9), 100); err != nil || n != 2 {
		t.Fatalf("Prune before 9 = %d, %v; want 2 (7 and 8)", n, err)
	}
}

// editOf returns the log entry, with id, that gives m the text text.
func editOf(id uint64, m store.Message, text string) store.Message {
	return store.Message{ID: id, Conv: m.Conv, Room: m.Room, From: m.From, FromName: m.FromName,
		To: m.To, ToName: m.ToName, Kind: store.KindEdit, Target: m.ID, Text: text, Time: at(id)}
}

// reactOf returns the log entry, with id, of from's reaction emoji to m.
func reactOf(id uint64, m store.Message, from, emoji string, on bool) store.Message {
	return store.Message{ID: id, Conv: m.Conv, Room: m.Room, From: from, FromName: display(from),
		To: m.To, ToName: m.ToName, Kind: store.KindReact, Target: m.ID, Text: emoji, On: on, Time: at(id)}
}

func change(k store.ChangeKind, m store.Message) store.Change {
	return store.Change{Kind: k, Message: m}
}

func message(t *testing.T, s store.Store, id uint64) store.Message {
	t.Helper()
	m, err := s.Message(ctx(t), id)
	if err != nil {
		t.Fatalf("Message(%d): %v", id, err)
	}
	return m
}

func testEdit(t *testing.T, s store.Store) {
	m := roomMsg(1, "go", "alice", "helo")
	p := privMsg(2, "alice", "bob", "hi bbo")
	apply(t, s, add(m, p)...)
	e1 := editOf(3, m, "hello")
	apply(t, s, change(store.EditMsg, e1), change(store.EditMsg, editOf(4, p, "hi bob")))
	e2 := editOf(5, m, "hello, world")
	apply(t, s, change(store.EditMsg, e2))

	got := message(t, s, 1)
	if got.Text != "hello, world" || !got.Edited {
		t.Errorf("Message(1) after two edits = %+v; want the last text, edited", got)
	}
	if got := message(t, s, 3); !sameMessage(got, e1) {
		t.Errorf("the edit entry = %+v; want %+v", got, e1)
	}
	h, err := s.History(ctx(t), store.RoomConv("go"), 100, 10)
	if err != nil || len(h) != 1 || h[0].Text != "hello, world" || !h[0].Edited {
		t.Fatalf("History = %+v, %v; want the message alone, with its new text and edited", h, err)
	}
	// A catch-up has the entries, so that a client applies them in turn.
	since, err := s.Since(ctx(t), "bob", []string{store.RoomConv("go")}, 0, 100, 100)
	if err != nil || !slices.Equal(ids(since), []uint64{1, 2, 3, 4, 5}) {
		t.Fatalf("Since = %v, %v; want 1 to 5", ids(since), err)
	}
	if since[2].Kind != store.KindEdit || since[2].Target != 1 || since[2].Text != "hello" {
		t.Errorf("Since's entry 3 = %+v; want the first edit", since[2])
	}
	// An edit is not a message: /recall's default and PrivateTo skip it.
	if last, err := s.LastBy(ctx(t), "alice", 100); err != nil || last.ID != 2 {
		t.Errorf("LastBy(alice) = %+v, %v; want message 2", last, err)
	}
	if pm, err := s.PrivateTo(ctx(t), "bob", 0, 100, 10); err != nil || !slices.Equal(ids(pm), []uint64{2}) {
		t.Errorf("PrivateTo(bob) = %v, %v; want [2]", ids(pm), err)
	}
	// A recall takes the text of the message and of its edits.
	apply(t, s, add(recallOf(6, m))...)
	if got := message(t, s, 1); got.Text != "" || !got.Recalled {
		t.Errorf("Message(1) after its recall = %+v", got)
	}
	for _, id := range []uint64{3, 5} {
		if got := message(t, s, id); got.Text != "" {
			t.Errorf("edit %d after the recall keeps the text %q", id, got.Text)
		}
	}
}

func testReply(t *testing.T, s store.Store) {
	m := roomMsg(1, "go", "alice", "first line\nsecond line")
	r := roomMsg(2, "go", "bob", "agreed")
	r.ReplyTo = 1
	apply(t, s, add(m, r)...)
	want := store.Quote{From: "Alice", Text: "first line\nsecond line"}
	if got := message(t, s, 2); got.ReplyTo != 1 || got.Quote != want {
		t.Errorf("Message(2) = %+v; want reply_to 1 with quote %+v", got, want)
	}
	h, err := s.History(ctx(t), store.RoomConv("go"), 100, 10)
	if err != nil || len(h) != 2 || h[1].Quote != want {
		t.Fatalf("History = %+v, %v; want the reply with its quote", h, err)
	}
	since, err := s.Since(ctx(t), "carol", []string{store.RoomConv("go")}, 1, 100, 10)
	if err != nil || len(since) != 1 || since[0].Quote != want {
		t.Fatalf("Since = %+v, %v; want the reply with its quote", since, err)
	}
	// The quote is the message as it is now: edited, then recalled.
	apply(t, s, change(store.EditMsg, editOf(3, m, "better")))
	if got := message(t, s, 2).Quote; got.Text != "better" {
		t.Errorf("quote after the edit = %+v", got)
	}
	apply(t, s, add(recallOf(4, m))...)
	if got := message(t, s, 2).Quote; got.Text != "" || !got.Recalled || got.From != "Alice" {
		t.Errorf("quote after the recall = %+v; want no text, recalled", got)
	}
}

func reactions(t *testing.T, s store.Store, id uint64) string {
	t.Helper()
	var parts []string
	for _, r := range message(t, s, id).Reactions {
		if len(r.Users) != len(r.Names) {
			t.Fatalf("reaction %+v: users and names differ", r)
		}
		parts = append(parts, r.Emoji+"="+strings.Join(r.Names, ","))
	}
	return strings.Join(parts, " ")
}

func testReact(t *testing.T, s store.Store) {
	m := roomMsg(1, "go", "alice", "ship it?")
	apply(t, s, add(m)...)
	apply(t, s,
		change(store.ReactMsg, reactOf(2, m, "bob", "👍", true)),
		change(store.ReactMsg, reactOf(3, m, "carol", "🎉", true)),
		change(store.ReactMsg, reactOf(4, m, "carol", "👍", true)))
	apply(t, s, change(store.ReactMsg, reactOf(5, m, "alice", "👍", true)))
	if got, want := reactions(t, s, 1), "👍=Bob,Carol,Alice 🎉=Carol"; got != want {
		t.Fatalf("reactions = %q; want %q", got, want)
	}
	// Taking one back, twice, and putting one on twice, count once.
	apply(t, s, change(store.ReactMsg, reactOf(6, m, "carol", "👍", false)),
		change(store.ReactMsg, reactOf(7, m, "carol", "👍", false)),
		change(store.ReactMsg, reactOf(8, m, "bob", "👍", true)))
	if got, want := reactions(t, s, 1), "👍=Bob,Alice 🎉=Carol"; got != want {
		t.Fatalf("reactions = %q; want %q", got, want)
	}
	apply(t, s, change(store.ReactMsg, reactOf(9, m, "carol", "🎉", false)))
	h, err := s.History(ctx(t), store.RoomConv("go"), 100, 10)
	if err != nil || len(h) != 1 || len(h[0].Reactions) != 1 || h[0].Reactions[0].Emoji != "👍" ||
		!slices.Equal(h[0].Reactions[0].Users, []string{"bob", "alice"}) {
		t.Fatalf("History = %+v, %v; want message 1 with 👍 by bob and alice", h, err)
	}
	since, err := s.Since(ctx(t), "bob", []string{store.RoomConv("go")}, 0, 100, 100)
	if err != nil || len(since) != 9 || since[1].Kind != store.KindReact || !since[1].On || since[5].On {
		t.Fatalf("Since = %+v, %v; want the message and its 8 reaction entries", since, err)
	}
	if last, err := s.LastBy(ctx(t), "alice", 100); err != nil || last.ID != 1 {
		t.Errorf("LastBy(alice) = %+v, %v; want message 1", last, err)
	}
	// A recall takes the reactions with it.
	apply(t, s, add(recallOf(10, m))...)
	if got := reactions(t, s, 1); got != "" {
		t.Errorf("reactions after the recall = %q; want none", got)
	}
}

func testReactGoes(t *testing.T, s store.Store) {
	apply(t, s, createRoom("go", "Go", "alice", base), addMember("go", "alice", 1))
	m := roomMsg(1, "go", "alice", "old")
	l := roomMsg(2, "lobby", "alice", "older")
	apply(t, s, add(m, l)...)
	apply(t, s, change(store.ReactMsg, reactOf(3, m, "bob", "👍", true)), change(store.ReactMsg, reactOf(4, l, "bob", "👍", true)))
	apply(t, s, store.Change{Kind: store.DeleteRoom, Room: store.Room{Key: "go"}})
	// The room's messages go with their reactions; the lobby's stay.
	_, err := s.Message(ctx(t), 1)
	wantNotFound(t, "Message(1) after DeleteRoom", err)
	if got := reactions(t, s, 2); got != "👍=Bob" {
		t.Errorf("the lobby message's reactions = %q", got)
	}
	// Pruning a message prunes its reactions.
	n, err := s.Prune(ctx(t), at(5), 10)
	if err != nil || n == 0 {
		t.Fatalf("Prune = %d, %v", n, err)
	}
	_, err = s.Message(ctx(t), 2)
	wantNotFound(t, "Message(2) after Prune", err)
}

func setRead(user, conv string, msg uint64) store.Change {
	return store.Change{Kind: store.SetRead, Read: store.Read{User: user, Conv: conv, Msg: msg}}
}

func testReads(t *testing.T, s store.Store) {
	lobby, goConv := store.RoomConv("lobby"), store.RoomConv("go")
	apply(t, s, setRead("alice", lobby, 5), setRead("alice", goConv, 3), setRead("bob", lobby, 9))
	apply(t, s, setRead("alice", lobby, 4)) // never goes down
	apply(t, s, setRead("alice", goConv, 7))
	got, err := s.Reads(ctx(t))
	want := []store.Read{rd("alice", goConv, 7), rd("alice", lobby, 5), rd("bob", lobby, 9)}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("Reads = %v, %v; want %v", got, err, want)
	}
	apply(t, s, store.Change{Kind: store.DeleteRoom, Room: store.Room{Key: "go"}})
	got, err = s.Reads(ctx(t))
	want = []store.Read{rd("alice", lobby, 5), rd("bob", lobby, 9)}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("Reads after the room went = %v, %v; want %v", got, err, want)
	}
}

func testCounts(t *testing.T, s store.Store) {
	lobby := store.RoomConv("lobby")
	pm := store.PrivateConv("alice", "bob")
	gone := roomMsg(4, "lobby", "bob", "alice, sorry")
	f := roomMsg(6, "lobby", "carol", "")
	f.Kind, f.File = "file", `{"name":"a","size":1,"path":"a"}`
	apply(t, s, add(
		roomMsg(1, "lobby", "bob", "hello alice"),
		roomMsg(2, "lobby", "alice", "hi, alice here"), // her own
		roomMsg(3, "lobby", "carol", "malice aforethought"),
		gone,
		roomMsg(5, "lobby", "bob", "@ALICE look"),
		f,
		privMsg(7, "bob", "alice", "psst"),
		privMsg(8, "alice", "bob", "what"),
		privMsg(9, "bob", "alice", "alice?"),
	)...)
	apply(t, s, add(recallOf(10, gone))...)
	apply(t, s, change(store.ReactMsg, reactOf(11, roomMsg(1, "lobby", "bob", ""), "bob", "👍", true)),
		change(store.EditMsg, editOf(12, roomMsg(5, "lobby", "bob", ""), "@alice look!")))
	got, err := s.Counts(ctx(t), "alice", []string{"Alice"}, []store.Unread{un(lobby, 1), un(pm, 7), un(store.RoomConv("none"), 0)}, 100, 100)
	want := []store.Count{cnt(lobby, 3, 1), cnt(pm, 1, 1), cnt(store.RoomConv("none"), 0, 0)}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("Counts = %v, %v; want %v", got, err, want)
	}
	// Bounded above by upto, and each count by the limit.
	got, err = s.Counts(ctx(t), "alice", []string{"alice"}, []store.Unread{un(lobby, 1)}, 5, 100)
	if want := []store.Count{cnt(lobby, 2, 1)}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("Counts up to 5 = %v, %v; want %v", got, err, want)
	}
	// No position: her own newest message there stands for it.
	got, err = s.Counts(ctx(t), "alice", []string{"alice"}, []store.Unread{un(lobby, 0), un(pm, 0)}, 100, 100)
	if want := []store.Count{cnt(lobby, 3, 1), cnt(pm, 1, 1)}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("Counts without positions = %v, %v; want %v", got, err, want)
	}
	got, err = s.Counts(ctx(t), "alice", []string{"alice"}, []store.Unread{un(lobby, 1)}, 100, 1)
	if want := []store.Count{cnt(lobby, 1, 1)}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("Counts with limit 1 = %v, %v; want %v", got, err, want)
	}
}

func testPrivateConvs(t *testing.T, s store.Store) {
	apply(t, s, add(
		privMsg(1, "bob", "alice", "hi"),
		privMsg(2, "alice", "carol", "hey carol"),
		roomMsg(3, "lobby", "alice", "room"),
		privMsg(4, "alice", "bob", "back to bob"),
		privMsg(5, "dave", "erin", "not hers"),
		privMsg(6, "alice", "alice", "note to self"),
	)...)
	apply(t, s, change(store.ReactMsg, reactOf(7, privMsg(2, "alice", "carol", ""), "carol", "👍", true)))
	got, err := s.PrivateConvs(ctx(t), "alice", 100, 10)
	want := []store.Private{
		store.Private{Conv: store.PrivateConv("alice", "alice"), With: "alice", WithName: "Alice", Last: 6},
		store.Private{Conv: store.PrivateConv("alice", "bob"), With: "bob", WithName: "Bob", Last: 4},
		store.Private{Conv: store.PrivateConv("alice", "carol"), With: "carol", WithName: "Carol", Last: 2},
	}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("PrivateConvs = %+v, %v\nwant %+v", got, err, want)
	}
	got, err = s.PrivateConvs(ctx(t), "alice", 3, 1)
	if want := want[2:]; err != nil || !slices.Equal(got, want) {
		t.Fatalf("PrivateConvs up to 3, 1 of them = %+v, %v; want %+v", got, err, want)
	}
}

func rd(user, conv string, msg uint64) store.Read {
	return store.Read{User: user, Conv: conv, Msg: msg}
}
func un(conv string, after uint64) store.Unread { return store.Unread{Conv: conv, After: after} }
func cnt(conv string, unread, mentions int) store.Count {
	return store.Count{Conv: conv, Unread: unread, Mentions: mentions}
}

func testNicks(t *testing.T, s store.Store) {
	if err := s.CreateUser(ctx(t), store.User{Key: "alice", Name: "Alice", Hash: "h", Created: base}); err != nil {
		t.Fatal(err)
	}
	nick := func(n string) store.Change {
		return store.Change{Kind: store.SetNick, User: store.User{Key: "alice", Nick: n}}
	}
	for _, n := range []string{"Ally 🌸", "", "Аля"} {
		apply(t, s, nick(n))
		u, err := s.User(ctx(t), "alice")
		if err != nil || u.Nick != n || u.Name != "Alice" {
			t.Fatalf("User after SetNick(%q) = %+v, %v", n, u, err)
		}
		us, err := s.Users(ctx(t))
		if err != nil || len(us) != 1 || us[0].Nick != n {
			t.Fatalf("Users after SetNick(%q) = %+v, %v", n, us, err)
		}
	}
	m := roomMsg(1, "lobby", "alice", "hi")
	m.FromNick = "Аля"
	apply(t, s, add(m)...)
	if got := message(t, s, 1); got.FromNick != "Аля" {
		t.Errorf("a message's nick = %q", got.FromNick)
	}
	apply(t, s, add(roomMsg(2, "lobby", "bob", "ally, look"), roomMsg(3, "lobby", "bob", "alice!"))...)
	got, err := s.Counts(ctx(t), "alice", []string{"Alice", "Ally"}, []store.Unread{un(store.RoomConv("lobby"), 1)}, 10, 10)
	if want := []store.Count{cnt(store.RoomConv("lobby"), 2, 2)}; err != nil || !slices.Equal(got, want) {
		t.Errorf("Counts with a name and a nick = %v, %v; want %v", got, err, want)
	}
	// Names beyond ASCII are found in any case too.
	apply(t, s, add(roomMsg(4, "lobby", "bob", "ZOË? ΑΛΙΚΗ!"))...)
	got, err = s.Counts(ctx(t), "alice", []string{"Zoë"}, []store.Unread{un(store.RoomConv("lobby"), 3)}, 10, 10)
	if want := []store.Count{cnt(store.RoomConv("lobby"), 1, 1)}; err != nil || !slices.Equal(got, want) {
		t.Errorf("Counts of Zoë = %v, %v; want %v", got, err, want)
	}
	got, err = s.Counts(ctx(t), "alice", []string{"αλίκη", "Αλικη"}, []store.Unread{un(store.RoomConv("lobby"), 3)}, 10, 10)
	if want := []store.Count{cnt(store.RoomConv("lobby"), 1, 1)}; err != nil || !slices.Equal(got, want) {
		t.Errorf("Counts of Αλικη = %v, %v; want %v", got, err, want)
	}
}

func testSearch(t *testing.T, s store.Store) {
	lobby, goConv := store.RoomConv("lobby"), store.RoomConv("go")
	gone := roomMsg(5, "lobby", "bob", "the deploy failed")
	edited := roomMsg(6, "lobby", "bob", "nothing here")
	apply(t, s, add(
		roomMsg(1, "lobby", "alice", "The deploy is done"),
		roomMsg(2, "go", "bob", "deploy the Go service"),
		privMsg(3, "bob", "alice", "secret deploy plan"),
		privMsg(4, "bob", "carol", "carol's deploy"),
		gone, edited,
		roomMsg(7, "lobby", "carol", "部署完成了, Zoë"),
		roomMsg(8, "lobby", "carol", `say "OR" NEAR * me`),
	)...)
	apply(t, s, add(recallOf(9, gone))...)
	apply(t, s, change(store.EditMsg, editOf(10, edited, "now a DEPLOY note")))
	search := func(convs []string, private bool, q string) []uint64 {
		t.Helper()
		got, err := s.Search(ctx(t), "alice", convs, private, store.SearchWords(q), 20)
		if err != nil {
			t.Fatalf("Search(%q): %v", q, err)
		}
		return ids(got)
	}
	for _, tc := range []struct {
		convs   []string
		private bool
		q       string
		want    []uint64
	}{
		{[]string{lobby}, true, "deploy", []uint64{6, 3, 1}}, // the edit counts; the recall and others' private ones do not
		{[]string{lobby, goConv}, false, "DEPLOY", []uint64{6, 2, 1}},
		{[]string{lobby}, false, "deploy done", []uint64{1}},
		{[]string{lobby}, false, "deploy failed", nil},
		{[]string{lobby}, false, "部署", []uint64{7}},
		{[]string{lobby}, false, "完成", []uint64{7}},
		{[]string{lobby}, false, "部完", nil},
		{[]string{lobby}, false, "zoe", []uint64{7}},
		{[]string{lobby}, false, `"OR"`, []uint64{8}},
		{[]string{lobby}, false, "NEAR", []uint64{8}},
		{[]string{lobby}, false, `deploy OR nothing`, nil},
		{[]string{lobby}, false, `*`, nil},
		{[]string{lobby}, false, `"`, nil},
		{nil, true, "deploy", []uint64{3}},
	} {
		if got := search(tc.convs, tc.private, tc.q); !slices.Equal(got, tc.want) {
			t.Errorf("Search(%v, %v, %q) = %v; want %v", tc.convs, tc.private, tc.q, got, tc.want)
		}
	}
	if got, err := s.Search(ctx(t), "alice", []string{lobby}, true, store.SearchWords("deploy"), 2); err != nil || !slices.Equal(ids(got), []uint64{6, 3}) {
		t.Errorf("Search with limit 2 = %v, %v", ids(got), err)
	}
}

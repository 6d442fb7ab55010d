package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-chat/parley/chatserver/store"
	"github.com/parley-chat/parley/chatserver/store/sqlite"
	"github.com/parley-chat/parley/chatserver/store/storetest"
)

func open(t *testing.T, dir string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, t.TempDir()) })
}

var base = time.UnixMilli(1777888800000)

func msg(id uint64, room, from, text string) store.Message {
	return store.Message{ID: id, Conv: store.RoomConv(room), Room: room, From: from, FromName: from, Text: text,
		Time: base.Add(time.Duration(id) * time.Second)}
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data", "chat")
	s := open(t, dir)
	if err := s.CreateUser(ctx, store.User{Key: "alice", Name: "Alice", Hash: "hash-a", Created: base}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, store.User{Key: "李雷", Name: "李雷", Hash: "hash-l", Created: base}); err != nil {
		t.Fatal(err)
	}
	token := []byte("token hash")
	if err := s.PutToken(ctx, token, "alice", base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	pm := store.Message{ID: 3, Conv: store.PrivateConv("alice", "李雷"), From: "alice", FromName: "Alice",
		To: "李雷", ToName: "李雷", Text: "你好", Time: base, Key: "k3"}
	recalled := msg(2, "go", "alice", "oops")
	batch := []store.Change{
		{Kind: store.CreateRoom, Room: store.Room{Key: "go", Name: "Go", Owner: "alice", Created: base}},
		{Kind: store.AddMember, Room: store.Room{Key: "go"}, Member: store.Member{User: "alice", Seq: 1}},
		{Kind: store.AddMember, Room: store.Room{Key: "go"}, Member: store.Member{User: "李雷", Seq: 2}},
		{Kind: store.AddMessage, Message: msg(1, "lobby", "alice", "hello")},
		{Kind: store.AddMessage, Message: recalled},
		{Kind: store.AddMessage, Message: pm},
		{Kind: store.RecallMsg, Message: store.Message{ID: 4, Conv: recalled.Conv, Room: "go", From: "alice", FromName: "alice",
			Kind: store.KindRecall, Target: 2, Time: base}},
		{Kind: store.SetDelivered, User: store.User{Key: "李雷", PMDelivered: 3}},
	}
	if err := s.Apply(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, dir)
	defer s.Close()
	if u, err := s.User(ctx, "李雷"); err != nil || u.Name != "李雷" || u.Hash != "hash-l" || u.PMDelivered != 3 || !u.Created.Equal(base) {
		t.Errorf("after reopening, User(李雷) = %+v, %v", u, err)
	}
	if us, err := s.Users(ctx); err != nil || len(us) != 2 {
		t.Errorf("after reopening, Users = %+v, %v", us, err)
	}
	if user, exp, err := s.TokenUser(ctx, token); err != nil || user != "alice" || !exp.Equal(base.Add(time.Hour)) {
		t.Errorf("after reopening, TokenUser = %q, %v, %v", user, exp, err)
	}
	rooms, err := s.Rooms(ctx)
	if err != nil || len(rooms) != 1 {
		t.Fatalf("after reopening, Rooms = %+v, %v", rooms, err)
	}
	if r := rooms[0]; r.Name != "Go" || r.Owner != "alice" || len(r.Members) != 2 ||
		r.Members[0] != (store.Member{User: "alice", Seq: 1}) || r.Members[1] != (store.Member{User: "李雷", Seq: 2}) {
		t.Errorf("after reopening, room = %+v", r)
	}
	if id, err := s.LastID(ctx); err != nil || id != 4 {
		t.Errorf("after reopening, LastID = %d, %v", id, err)
	}
	if m, err := s.Message(ctx, 2); err != nil || !m.Recalled || m.Text != "" {
		t.Errorf("after reopening, the recalled message is %+v, %v", m, err)
	}
	if m, err := s.Message(ctx, 3); err != nil || m.Text != "你好" || m.To != "李雷" || m.Key != "k3" {
		t.Errorf("after reopening, the private message is %+v, %v", m, err)
	}
	if keys, err := s.RecentKeys(ctx, 10); err != nil || len(keys) != 1 || keys[0].Key != "k3" {
		t.Errorf("after reopening, RecentKeys = %+v, %v", keys, err)
	}
}

// TestApplyAllOrNothing checks that a batch that fails partway leaves
// nothing of itself behind, and that the store goes on working.
func TestApplyAllOrNothing(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	defer s.Close()
	if err := s.CreateUser(ctx, store.User{Key: "alice", Name: "Alice", Hash: "h", Created: base}); err != nil {
		t.Fatal(err)
	}
	first := msg(1, "lobby", "alice", "first")
	if err := s.Apply(ctx, []store.Change{
		{Kind: store.AddMessage, Message: first},
		{Kind: store.SetDelivered, User: store.User{Key: "alice", PMDelivered: 1}},
	}); err != nil {
		t.Fatal(err)
	}

	for _, bad := range []struct {
		name string
		last store.Change
	}{
		{"duplicate message id", store.Change{Kind: store.AddMessage, Message: msg(1, "lobby", "alice", "again")}},
		{"unknown change kind", store.Change{Kind: store.ChangeKind(99)}},
	} {
		err := s.Apply(ctx, []store.Change{
			{Kind: store.CreateRoom, Room: store.Room{Key: "go", Name: "Go", Owner: "alice", Created: base}},
			{Kind: store.AddMember, Room: store.Room{Key: "go"}, Member: store.Member{User: "alice", Seq: 1}},
			{Kind: store.AddMessage, Message: msg(2, "go", "alice", "in the failed batch")},
			{Kind: store.RecallMsg, Message: store.Message{ID: 3, Conv: first.Conv, Room: "lobby", From: "alice",
				Kind: store.KindRecall, Target: 1, Time: base}},
			{Kind: store.SetDelivered, User: store.User{Key: "alice", PMDelivered: 9}},
			bad.last,
		})
		if err == nil {
			t.Fatalf("%s: Apply succeeded", bad.name)
		}
		if rooms, err := s.Rooms(ctx); err != nil || len(rooms) != 0 {
			t.Errorf("%s: rooms after a failed batch: %+v, %v", bad.name, rooms, err)
		}
		if id, err := s.LastID(ctx); err != nil || id != 1 {
			t.Errorf("%s: LastID after a failed batch = %d, %v; want 1", bad.name, id, err)
		}
		if _, err := s.Message(ctx, 2); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: message 2 of the failed batch: %v", bad.name, err)
		}
		if m, err := s.Message(ctx, 1); err != nil || m.Recalled || m.Text != "first" {
			t.Errorf("%s: message 1 after a failed batch = %+v, %v", bad.name, m, err)
		}
		if u, err := s.User(ctx, "alice"); err != nil || u.PMDelivered != 1 {
			t.Errorf("%s: PMDelivered after a failed batch = %d, %v; want 1", bad.name, u.PMDelivered, err)
		}
	}

	// The store still takes batches.
	if err := s.Apply(ctx, []store.Change{{Kind: store.AddMessage, Message: msg(2, "lobby", "alice", "second")}}); err != nil {
		t.Fatalf("Apply after failed batches: %v", err)
	}
	if id, err := s.LastID(ctx); err != nil || id != 2 {
		t.Errorf("LastID = %d, %v; want 2", id, err)
	}
}

func TestOpenMakesPrivateDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	s := open(t, dir)
	defer s.Close()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("data directory has mode %v; want no access for others", fi.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(dir, sqlite.FileName)); err != nil {
		t.Errorf("database file: %v", err)
	}
}

func TestOpenFails(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := sqlite.Open(context.Background(), file); err == nil {
		s.Close()
		t.Fatal("Open of a path that is a file succeeded")
	}
	notDB := t.TempDir()
	if err := os.WriteFile(filepath.Join(notDB, sqlite.FileName), []byte("this is not an SQLite database, not at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := sqlite.Open(context.Background(), notDB); err == nil {
		s.Close()
		t.Fatal("Open of a file that is not a database succeeded")
	}
}

// TestOpenOlderDatabase opens a database made before edits, replies and
// reactions: it gains their columns and table, and keeps its messages.
func TestOpenOlderDatabase(t *testing.T) {
	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE messages (
		id INTEGER PRIMARY KEY, conv TEXT NOT NULL, room TEXT NOT NULL, sender TEXT NOT NULL,
		from_name TEXT NOT NULL, recipient TEXT NOT NULL, to_name TEXT NOT NULL, kind TEXT NOT NULL,
		text TEXT NOT NULL, file TEXT NOT NULL, time INTEGER NOT NULL, target INTEGER NOT NULL,
		recalled INTEGER NOT NULL, idem TEXT NOT NULL);
		INSERT INTO messages VALUES (1, '#lobby', 'lobby', 'alice', 'Alice', '', '', '', 'from before', '', 1777888800000, 0, 0, '')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s := open(t, dir)
	defer s.Close()
	m, err := s.Message(t.Context(), 1)
	if err != nil || m.Text != "from before" || m.Edited || m.ReplyTo != 0 {
		t.Fatalf("Message(1) = %+v, %v", m, err)
	}
	edit := store.Message{ID: 2, Conv: m.Conv, Room: m.Room, From: "alice", FromName: "Alice", Kind: store.KindEdit, Target: 1, Text: "edited", Time: m.Time}
	react := store.Message{ID: 3, Conv: m.Conv, Room: m.Room, From: "bob", FromName: "Bob", Kind: store.KindReact, Target: 1, Text: "👍", On: true, Time: m.Time}
	if err := s.Apply(t.Context(), []store.Change{{Kind: store.EditMsg, Message: edit}, {Kind: store.ReactMsg, Message: react}}); err != nil {
		t.Fatal(err)
	}
	if m, err = s.Message(t.Context(), 1); err != nil || m.Text != "edited" || !m.Edited || len(m.Reactions) != 1 {
		t.Fatalf("Message(1) after an edit and a reaction = %+v, %v", m, err)
	}
	// The messages from before the search index are in it.
	if got, err := s.Search(t.Context(), "bob", []string{"#lobby"}, false, store.SearchWords("edited"), 5); err != nil || len(got) != 1 {
		t.Fatalf("Search of an older database = %+v, %v", got, err)
	}
}

// TestReactionsGo checks that no reaction outlives its message, whether
// it goes with its room or is pruned.
func TestReactionsGo(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	at := time.UnixMilli(1777888800000)
	msg := func(id uint64, conv, room string) store.Message {
		return store.Message{ID: id, Conv: conv, Room: room, From: "alice", FromName: "Alice", Text: "x", Time: at.Add(time.Duration(id) * time.Hour)}
	}
	react := func(id uint64, m store.Message) store.Change {
		return store.Change{Kind: store.ReactMsg, Message: store.Message{ID: id, Conv: m.Conv, Room: m.Room, From: "bob", FromName: "Bob",
			Kind: store.KindReact, Target: m.ID, Text: "👍", On: true, Time: m.Time}}
	}
	inGo, old, kept := msg(1, "#go", "go"), msg(2, "#lobby", "lobby"), msg(10, "#lobby", "lobby")
	if err := s.Apply(t.Context(), []store.Change{{Kind: store.AddMessage, Message: inGo}, {Kind: store.AddMessage, Message: old},
		{Kind: store.AddMessage, Message: kept}, react(11, inGo), react(12, old), react(13, kept)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(t.Context(), []store.Change{{Kind: store.DeleteRoom, Room: store.Room{Key: "go"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prune(t.Context(), at.Add(5*time.Hour), 100); err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var msgs []int64
	rows, err := db.Query(`SELECT msg FROM reactions ORDER BY msg`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		msgs = append(msgs, id)
	}
	rows.Close()
	if len(msgs) != 1 || msgs[0] != 10 {
		t.Fatalf("reactions left for messages %v; want those of message 10 only", msgs)
	}
}

// TestOpenDatabaseBeforeModes opens a database made before room settings
// and roles: its rooms have their topic locked (as every room's was,
// the owner's alone) and are not secret, their members have no roles,
// and settings can then be set.
func TestOpenDatabaseBeforeModes(t *testing.T) {
	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE rooms (key TEXT PRIMARY KEY, name TEXT NOT NULL, owner TEXT NOT NULL, created INTEGER NOT NULL);
		CREATE TABLE members (room TEXT NOT NULL, user TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (room, user));
		INSERT INTO rooms VALUES ('go', 'Go', 'alice', 1777888800000);
		INSERT INTO members VALUES ('go', 'alice', 1), ('go', 'bob', 2)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s := open(t, dir)
	defer s.Close()
	rooms, err := s.Rooms(t.Context())
	if err != nil || len(rooms) != 1 {
		t.Fatalf("Rooms = %+v, %v", rooms, err)
	}
	r := rooms[0]
	if r.Secret || !r.TopicLock || len(r.Members) != 2 || r.Members[1].Operator || r.Members[1].Voice {
		t.Fatalf("a room from before settings: %+v", r)
	}
	if err := s.Apply(t.Context(), []store.Change{{Kind: store.SetModes, Room: store.Room{Key: "go", Secret: true}},
		{Kind: store.SetRoles, Room: store.Room{Key: "go"}, Member: store.Member{User: "bob", Operator: true}}}); err != nil {
		t.Fatal(err)
	}
	if rooms, err = s.Rooms(t.Context()); err != nil || !rooms[0].Secret || rooms[0].TopicLock || !rooms[0].Members[1].Operator {
		t.Fatalf("Rooms after setting modes = %+v, %v", rooms, err)
	}
}

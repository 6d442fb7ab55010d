package hub_test

import (
	"context"
	"testing"

	"github.com/parley-chat/parley/chatserver/auth"
	"github.com/parley-chat/parley/chatserver/hub"
	"github.com/parley-chat/parley/chatserver/store/sqlite"
	"github.com/parley-chat/parley/shared/protocol"
)

func yes() *bool { v := true; return &v }
func no() *bool  { v := false; return &v }

func memberOf(t *testing.T, w *protocol.Frame, name string) protocol.MemberInfo {
	t.Helper()
	for _, m := range w.Members {
		if m.Name == name {
			return m
		}
	}
	t.Fatalf("who of %s has no %s: %+v", w.Room, name, w.Members)
	return protocol.MemberInfo{}
}

// Room settings and roles: the owner and operators change them, the room
// hears each change, operators kick and set the topic, an unlocked topic
// is any member's, a secret room is listed to its members only, and all
// of it survives a restart.
func TestModes(t *testing.T) {
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := newEnv(t, st)
	alice, bob, carol, dave := newPeer(t, e.hub, "alice"), newPeer(t, e.hub, "bob"), newPeer(t, e.hub, "carol"), newPeer(t, e.hub, "dave")
	for _, p := range []*peer{alice, bob, carol, dave} {
		p.mustLogin("pw")
	}
	r := alice.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "go"})
	if r.Secret == nil || *r.Secret || r.TopicLock == nil || !*r.TopicLock {
		t.Errorf("join reply of a new room: secret %v, topic_lock %v; want false, true", r.Secret, r.TopicLock)
	}
	bob.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "go"})
	carol.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "go"})

	// Only the owner and operators change anything.
	bob.expectErr(&protocol.Frame{Type: protocol.TypeMode, Room: "go", Secret: yes()}, protocol.CodeNotOwner)
	bob.expectErr(&protocol.Frame{Type: protocol.TypeKick, Room: "go", Name: "carol"}, protocol.CodeNotOwner)
	bob.expectErr(&protocol.Frame{Type: protocol.TypeTopic, Room: "go", Text: "bob's"}, protocol.CodeNotOwner)
	alice.expectErr(&protocol.Frame{Type: protocol.TypeMode, Room: "go"}, protocol.CodeBadRequest)
	alice.expectErr(&protocol.Frame{Type: protocol.TypeMode, Room: "go", Operator: yes()}, protocol.CodeBadRequest)
	alice.expectErr(&protocol.Frame{Type: protocol.TypeMode, Room: "go", Name: "dave", Operator: yes()}, protocol.CodeNotMember)
	alice.expectErr(&protocol.Frame{Type: protocol.TypeMode, Room: "go", Name: "alice", Operator: no()}, protocol.CodeBadRequest)
	alice.expectErr(&protocol.Frame{Type: protocol.TypeMode, Room: "lobby", Secret: yes()}, protocol.CodeLobby)
	dave.expectErr(&protocol.Frame{Type: protocol.TypeMode, Room: "go", Secret: yes()}, protocol.CodeNotMember)

	// bob becomes an operator: the room hears it, and he may kick and
	// set the topic; the owner stays the owner.
	alice.mustDo(&protocol.Frame{Type: protocol.TypeMode, Room: "go", Name: "bob", Operator: yes()})
	ev := carol.next(isType(protocol.TypeMode))
	if ev.Room != "go" || ev.By != "alice" || ev.Name != "bob" || ev.Operator == nil || !*ev.Operator || ev.Voice != nil {
		t.Errorf("mode event %s", protocol.Encode(ev))
	}
	w := carol.mustDo(&protocol.Frame{Type: protocol.TypeWho, Room: "go"})
	if m := memberOf(t, w, "bob"); !m.Operator || m.Owner || m.Voice {
		t.Errorf("bob in who: %+v", m)
	}
	if m := memberOf(t, w, "alice"); !m.Operator || !m.Owner {
		t.Errorf("alice in who: %+v", m)
	}
	bob.mustDo(&protocol.Frame{Type: protocol.TypeTopic, Room: "go", Text: "set by an operator"})

	// Voice is a mark, and no right to the locked topic.
	bob.mustDo(&protocol.Frame{Type: protocol.TypeMode, Room: "go", Name: "carol", Voice: yes()})
	alice.next(isType(protocol.TypeMode)) // bob's operator
	if ev := alice.next(isType(protocol.TypeMode)); ev.Name != "carol" || ev.Voice == nil || !*ev.Voice || ev.By != "bob" {
		t.Errorf("voice event %s", protocol.Encode(ev))
	}
	carol.expectErr(&protocol.Frame{Type: protocol.TypeTopic, Room: "go", Text: "carol's"}, protocol.CodeNotOwner)
	// Unlocked, the topic is any member's.
	bob.mustDo(&protocol.Frame{Type: protocol.TypeMode, Room: "go", TopicLock: no()})
	carol.next(isType(protocol.TypeMode)) // her voice
	if ev := carol.next(isType(protocol.TypeMode)); ev.TopicLock == nil || *ev.TopicLock || ev.Secret != nil || ev.Name != "" {
		t.Errorf("topic lock event %s", protocol.Encode(ev))
	}
	carol.mustDo(&protocol.Frame{Type: protocol.TypeTopic, Room: "go", Text: "carol's"})

	// Secret: listed to members only, and not there for a who from outside.
	alice.mustDo(&protocol.Frame{Type: protocol.TypeMode, Room: "go", Secret: yes()})
	for _, p := range []*peer{alice, dave} {
		listed := false
		for _, ri := range p.mustDo(&protocol.Frame{Type: protocol.TypeRooms}).Rooms {
			if ri.Name == "go" {
				listed = true
				if !ri.Secret || ri.TopicLock {
					t.Errorf("rooms entry %+v", ri)
				}
			}
		}
		if listed != (p == alice) {
			t.Errorf("%s: go listed %v", p.name, listed)
		}
	}
	dave.expectErr(&protocol.Frame{Type: protocol.TypeWho, Room: "go"}, protocol.CodeNoSuchRoom)
	// A change to what already is changes nothing and tells nobody.
	alice.mustDo(&protocol.Frame{Type: protocol.TypeMode, Room: "go", Secret: yes()})

	// An operator may kick even the owner, who is then banned like anyone
	// kicked; ownership passes on as when an owner leaves.
	bob.mustDo(&protocol.Frame{Type: protocol.TypeKick, Room: "go", Name: "alice"})
	if ev := carol.next(isType(protocol.TypeOwner)); ev.Name != "bob" {
		t.Errorf("owner after the owner was kicked: %s", protocol.Encode(ev))
	}
	e.close()

	// After a restart: the settings and roles are as they were.
	e2 := newEnv(t, st)
	carol2 := newPeer(t, e2.hub, "carol")
	carol2.mustLogin("pw")
	r = carol2.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "go"})
	if r.Secret == nil || !*r.Secret || r.TopicLock == nil || *r.TopicLock {
		t.Errorf("join reply after restart: secret %v, topic_lock %v", r.Secret, r.TopicLock)
	}
	w = carol2.mustDo(&protocol.Frame{Type: protocol.TypeWho, Room: "go"})
	if m := memberOf(t, w, "carol"); !m.Voice || m.Operator {
		t.Errorf("carol after restart: %+v", m)
	}
	if m := memberOf(t, w, "bob"); !m.Owner || !m.Operator {
		t.Errorf("bob after restart: %+v", m)
	}
}

// A server operator logs in with oper, is marked in who, and has an
// operator's rights in rooms they are in; a wrong password is refused.
func TestServerOperator(t *testing.T) {
	hash, err := auth.NewHasher(testParams, 1, 1).Hash(context.Background(), "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, nil, func(c *hub.Config) { c.Operators = []hub.Operator{{Name: "root", Hash: hash}} })
	alice, bob := newPeer(t, e.hub, "alice"), newPeer(t, e.hub, "bob")
	alice.mustLogin("pw")
	bob.mustLogin("pw")
	alice.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "go"})
	bob.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "go"})
	bob.expectErr(&protocol.Frame{Type: protocol.TypeOper, Name: "root", Password: "wrong"}, protocol.CodeBadCredentials)
	bob.expectErr(&protocol.Frame{Type: protocol.TypeOper, Name: "nobody", Password: "s3cret"}, protocol.CodeBadCredentials)
	bob.expectErr(&protocol.Frame{Type: protocol.TypeTopic, Room: "go", Text: "bob's"}, protocol.CodeNotOwner)
	if m := memberOf(t, alice.mustDo(&protocol.Frame{Type: protocol.TypeWho, Room: "lobby"}), "bob"); m.ServerOperator {
		t.Errorf("bob is a server operator before oper: %+v", m)
	}
	bob.mustDo(&protocol.Frame{Type: protocol.TypeOper, Name: "root", Password: "s3cret"})
	if m := memberOf(t, alice.mustDo(&protocol.Frame{Type: protocol.TypeWho, Room: "lobby"}), "bob"); !m.ServerOperator {
		t.Errorf("bob is no server operator after oper: %+v", m)
	}
	bob.mustDo(&protocol.Frame{Type: protocol.TypeTopic, Room: "go", Text: "bob's"})
}

// Guesses at a server operator's password are bounded as those at an
// account's: after a few wrong ones, even the right one waits.
func TestServerOperatorGuesses(t *testing.T) {
	hash, err := auth.NewHasher(testParams, 1, 1).Hash(context.Background(), "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, nil, func(c *hub.Config) { c.Operators = []hub.Operator{{Name: "root", Hash: hash}} })
	mallory := newPeer(t, e.hub, "mallory")
	mallory.mustLogin("pw")
	for i := 0; i < 4; i++ {
		mallory.expectErr(&protocol.Frame{Type: protocol.TypeOper, Name: "root", Password: "guess"}, protocol.CodeBadCredentials)
	}
	if r := mallory.expectErr(&protocol.Frame{Type: protocol.TypeOper, Name: "root", Password: "s3cret"}, protocol.CodeRateLimited); r.RetryMS <= 0 {
		t.Errorf("rate_limited without retry_ms: %+v", r)
	}
}

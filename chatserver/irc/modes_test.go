package irc_test

import (
	"context"
	"strings"
	"testing"

	"github.com/parley-chat/parley/chatserver/auth"
	"github.com/parley-chat/parley/chatserver/hub"
	"github.com/parley-chat/parley/chatserver/server"
	"github.com/parley-chat/parley/shared/protocol"
)

func lastParam(t *testing.T, params []string) string {
	t.Helper()
	if len(params) == 0 {
		t.Fatal("a line without parameters")
	}
	return params[len(params)-1]
}

// Channel modes are the room's settings and roles: the owner gives +o
// and +v, which NAMES and WHO show, +o may kick and set the topic, -t
// lets any member set it, +s makes the room secret (the @ symbol in
// NAMES, absent from LIST and NAMES for others), and a client on the
// chat protocol sees the same settings.
func TestChannelModes(t *testing.T) {
	s := start(t, nil)
	alice, bob, carol, dave := dial(t, s, "alice"), dial(t, s, "bob"), dial(t, s, "carol"), dial(t, s, "dave")
	alice.register("pw-a")
	bob.register("pw-b")
	carol.registerCaps("pw-c", "multi-prefix")
	dave.register("pw-d")
	for _, c := range []*client{alice, bob, carol} {
		c.send("JOIN #go")
		c.expect("366")
	}
	alice.sync()
	alice.send("MODE #go")
	if m := alice.expect("324"); lastParam(t, m.Params) != "+t" {
		t.Errorf("modes of a new channel %q, want +t", m.Params)
	}
	bob.send("MODE #go +o carol")
	bob.expect("482", "#go")
	bob.send("TOPIC #go :bob's")
	bob.expect("482", "#go")

	alice.send("MODE #go +o bob")
	if m := carol.expect("MODE", "#go"); m.Nick() != "alice" || strings.Join(m.Params[1:], " ") != "+o bob" {
		t.Errorf("mode line %+v", m)
	}
	bob.send("MODE #go +v carol")
	carol.expect("MODE", "+v", "carol")
	alice.send("MODE #go +v bob")
	carol.expect("MODE", "+v", "bob")
	carol.sync()
	carol.send("NAMES #go")
	if got := lastParam(t, carol.expect("353").Params); got != "+carol @+bob @alice" {
		t.Errorf("names with multi-prefix %q", got)
	}
	dave.send("NAMES #go")
	if got := lastParam(t, dave.expect("353").Params); got != "+carol @alice @bob" {
		t.Errorf("names %q", got)
	}
	alice.sync()
	alice.send("WHO #go")
	flags := map[string]string{}
	for i := 0; i < 3; i++ {
		m := alice.expect("352")
		flags[m.Params[5]] = m.Params[6]
	}
	if flags["alice"] != "H@" || flags["bob"] != "H@" || flags["carol"] != "H+" {
		t.Errorf("WHO flags %v", flags)
	}

	// Voice is no right to a locked topic; an operator's is.
	carol.send("TOPIC #go :carol's")
	carol.expect("482", "#go")
	bob.send("TOPIC #go :set by bob")
	alice.expect("TOPIC", "set by bob")
	// -t: any member sets it.
	bob.send("MODE #go -t")
	alice.expect("MODE", "-t")
	carol.send("TOPIC #go :carol's")
	alice.expect("TOPIC", "carol's")

	// The chat protocol's face sees the same.
	erin := dialNDJSON(t, s, "erin")
	r := erin.do(&protocol.Frame{Type: protocol.TypeWho, Room: "go"})
	for _, mb := range r.Members {
		if mb.Name == "bob" && (!mb.Operator || !mb.Voice) || mb.Name == "carol" && (mb.Operator || !mb.Voice) {
			t.Errorf("who on the chat protocol: %+v", mb)
		}
	}
	if r.TopicLock == nil || *r.TopicLock {
		t.Errorf("who reply's topic_lock %v after -t", r.TopicLock)
	}

	// +s: a secret room, hidden from those outside it.
	alice.send("MODE #go +s")
	bob.expect("MODE", "+s")
	alice.send("NAMES #go")
	if m := alice.expect("353"); m.Params[1] != "@" {
		t.Errorf("secret channel's NAMES symbol %q", m.Params[1])
	}
	dave.sync()
	dave.send("NAMES #go")
	if got := dave.sync(); len(got) != 1 || got[0].Command != "366" {
		t.Errorf("NAMES of a secret channel from outside: %v", commands(got))
	}
	dave.send("LIST")
	for _, m := range dave.sync() {
		if m.Command == "322" && strings.EqualFold(m.Params[1], "#go") {
			t.Errorf("LIST shows a secret channel to an outsider: %v", m.Params)
		}
	}
	for _, ri := range erin.do(&protocol.Frame{Type: protocol.TypeRooms}).Rooms {
		if strings.EqualFold(ri.Name, "go") {
			t.Errorf("the chat protocol's rooms list a secret room to an outsider: %+v", ri)
		}
	}

	// An operator kicks, the owner too; errors have their numerics.
	bob.send("MODE #go +o nobody")
	bob.expect("401")
	bob.send("MODE #go +o dave")
	bob.expect("441", "dave")
	dave.send("MODE #go +s")
	dave.expect("442", "#go")
	alice.send("MODE #go +k key")
	alice.expect("472", "k")
	bob.send("KICK #go alice :operators may")
	carol.expect("KICK", "alice")
	carol.expect("MODE", "+o", "bob") // the room passes to bob, who joined next
}

// OPER makes a server operator, shown with * in WHO and 313 in WHOIS; a
// wrong password is refused with 464.
func TestOper(t *testing.T) {
	hash, err := auth.NewHasher(auth.Params{Time: 1, MemoryKiB: 64, Threads: 1}, 1, 1).Hash(context.Background(), "operpw")
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, func(c *server.Config) { c.Operators = []hub.Operator{{Name: "root", Hash: hash}} })
	alice, bob := dial(t, s, "alice"), dial(t, s, "bob")
	alice.register("pw-a")
	bob.register("pw-b")
	alice.send("OPER root wrong")
	alice.expect("464")
	alice.send("OPER root operpw")
	alice.expect("381")
	alice.expect("MODE", "alice", "+o")
	alice.send("MODE alice")
	if m := alice.expect("221"); lastParam(t, m.Params) != "+o" {
		t.Errorf("user modes of an operator %q", m.Params)
	}
	bob.send("WHO alice")
	if m := bob.expect("352"); m.Params[6] != "H*" {
		t.Errorf("WHO flags of an operator %q", m.Params[6])
	}
	bob.send("WHOIS alice")
	bob.expect("313", "alice")
	bob.expect("318")
	alice.send("WHOIS bob")
	for _, m := range alice.sync() {
		if m.Command == "313" {
			t.Errorf("bob is shown as an operator: %v", m.Params)
		}
	}
}

// A command with a label gets its response labeled: one line with the
// label, several in a labeled-response batch, none as ACK.
func TestLabeledResponse(t *testing.T) {
	s := start(t, nil)
	alice := dial(t, s, "alice")
	alice.registerCaps("pw-a", "batch labeled-response echo-message message-tags")
	alice.sync()

	alice.send("@label=one PRIVMSG alice :to myself")
	m := alice.expect("PRIVMSG", "to myself")
	if ok, v := m.GetTag("label"); !ok || v != "one" {
		t.Errorf("echo's label %q (%v): %v", v, ok, m.AllTags())
	}
	alice.send("@label=two;+x=y JOIN #go,nochannel")
	got := alice.sync()
	if len(got) < 5 || got[0].Command != "BATCH" || got[len(got)-1].Command != "BATCH" {
		t.Fatalf("labeled JOIN: %v", commands(got))
	}
	if ok, v := got[0].GetTag("label"); !ok || v != "two" || got[0].Params[1] != "labeled-response" {
		t.Errorf("batch start %+v", got[0])
	}
	id := strings.TrimPrefix(got[0].Params[0], "+")
	if got[len(got)-1].Params[0] != "-"+id {
		t.Errorf("batch end %v", got[len(got)-1].Params)
	}
	var in []string
	for _, m := range got[1 : len(got)-1] {
		if _, b := m.GetTag("batch"); b != id {
			t.Errorf("%s outside the batch", m.Command)
		}
		in = append(in, m.Command)
	}
	if strings.Join(in, " ") != "JOIN 353 366 403" {
		t.Errorf("in the batch: %v", in)
	}
	alice.send("@label=three AWAY")
	if m := alice.expect("305"); !m.HasTag("label") {
		t.Errorf("AWAY's one reply has no label: %v", m.AllTags())
	}
	alice.send("@label=four PONG :x")
	if m := alice.expect("ACK"); lastTag(m.AllTags(), "label") != "four" {
		t.Errorf("ACK %v", m.AllTags())
	}
}

func lastTag(tags map[string]string, k string) string { return tags[k] }

// A PRIVMSG that would pass 512 bytes once relayed with the sender's
// source is refused with 417, and nobody gets part of it.
func TestInputTooLong(t *testing.T) {
	s := start(t, nil)
	alice, bob := dial(t, s, "alice"), dial(t, s, "bob")
	alice.register("pw-a")
	bob.register("pw-b")
	alice.send("JOIN #go")
	alice.expect("366")
	bob.send("JOIN #go")
	bob.expect("366")
	// ":alice!alice@parley PRIVMSG #go :" and CRLF take 35 bytes.
	fits, over := strings.Repeat("b", 512-35), strings.Repeat("c", 512-34)
	alice.send("PRIVMSG #go :"+over, "PRIVMSG #go :"+fits)
	alice.expect("417")
	m := bob.expect("PRIVMSG")
	if m.Params[1] != fits {
		t.Errorf("bob got %d bytes %q…; want the message that fits", len(m.Params[1]), m.Params[1][:10])
	}
	if l, _ := m.Line(); len(l) > 512 {
		t.Errorf("relayed in %d bytes", len(l))
	}
}

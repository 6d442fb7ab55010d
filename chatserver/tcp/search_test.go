package tcp_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/parley-chat/parley/chatserver/server"
	"github.com/parley-chat/parley/shared/protocol"
)

// searchFor returns the ids of a search's matches, in the order sent.
func searchFor(t *testing.T, c *client, f *protocol.Frame) []uint64 {
	t.Helper()
	f.Type = protocol.TypeSearch
	id := c.send(f)
	var out []uint64
	for {
		g := c.read()
		if g.Re == id {
			if g.Type != protocol.TypeOK || g.Limit != len(out) {
				t.Fatalf("search %s: %s after %d matches", js(f), js(g), len(out))
			}
			return out
		}
		if g.Type == protocol.TypeMessage && g.Search {
			if !g.History {
				t.Fatalf("a match that is not marked history: %s", js(g))
			}
			out = append(out, g.ID)
		}
	}
}

func TestSearch(t *testing.T) {
	s := start(t, func(c *server.Config) { c.DataDir = t.TempDir() })
	alice, bob, carol := login(t, s.Addr(), "alice"), login(t, s.Addr(), "bob"), login(t, s.Addr(), "carol")
	for _, c := range []*client{alice, bob} {
		if r := c.do(&protocol.Frame{Type: protocol.TypeJoin, Room: "ops"}); r.Type != protocol.TypeOK {
			t.Fatal(js(r))
		}
	}
	a := sendText(t, alice, &protocol.Frame{Room: "lobby", Text: "the deploy is done"})
	b := sendText(t, bob, &protocol.Frame{Room: "ops", Text: "deploy at 5"})
	p := sendText(t, bob, &protocol.Frame{To: "alice", Text: "deploy secrets"})
	sendText(t, bob, &protocol.Frame{To: "carol", Text: "carol's deploy"})
	zh := sendText(t, carol, &protocol.Frame{Room: "lobby", Text: "部署完成了"})
	op := sendText(t, carol, &protocol.Frame{Room: "lobby", Text: `deploy "OR" NEAR(x y) *`})

	for _, tc := range []struct {
		f    protocol.Frame
		want []uint64
	}{
		{protocol.Frame{Text: "deploy"}, []uint64{op, p, b, a}}, // not carol's private one, newest first
		{protocol.Frame{Text: "deploy", Room: "ops"}, []uint64{b}},
		{protocol.Frame{Text: "deploy", To: "bob"}, []uint64{p}},
		{protocol.Frame{Text: "完成"}, []uint64{zh}},
		{protocol.Frame{Text: `"OR"`}, []uint64{op}},
		{protocol.Frame{Text: `NEAR(x`}, []uint64{op}},
		{protocol.Frame{Text: `deploy OR nothing`}, nil},
		{protocol.Frame{Text: `deploy*`}, []uint64{op, p, b, a}},
	} {
		if got := searchFor(t, alice, &tc.f); !slices.Equal(got, tc.want) {
			t.Errorf("search %q in %q%q: %v; want %v", tc.f.Text, tc.f.Room, tc.f.To, got, tc.want)
		}
	}
	// Only the newest 20, and an edit is found by its new words.
	var last uint64
	for i := range 25 {
		last = sendText(t, alice, &protocol.Frame{Room: "lobby", Text: fmt.Sprintf("many %d", i)})
	}
	if got := searchFor(t, alice, &protocol.Frame{Text: "many"}); len(got) != protocol.SearchResults || got[0] != last {
		t.Errorf("search many: %v; want the newest %d, newest first", got, protocol.SearchResults)
	}
	if r, _ := alice.doSee(&protocol.Frame{Type: protocol.TypeEdit, Msg: a, Text: "the rollout is done"}, protocol.TypeEdit); r.Type != protocol.TypeOK {
		t.Fatal(js(r))
	}
	if got := searchFor(t, bob, &protocol.Frame{Text: "rollout"}); !slices.Equal(got, []uint64{a}) {
		t.Errorf("search rollout after the edit: %v", got)
	}

	for _, bad := range []struct {
		f    protocol.Frame
		code string
	}{
		{protocol.Frame{Text: ""}, protocol.CodeBadSearch},
		{protocol.Frame{Text: ` " * ( ) `}, protocol.CodeBadSearch},
		{protocol.Frame{Text: strings.Repeat("x", protocol.MaxSearchBytes+1)}, protocol.CodeBadSearch},
		{protocol.Frame{Text: strings.Repeat("x ", 17)}, protocol.CodeBadSearch},
		{protocol.Frame{Text: "deploy", Room: "ops"}, protocol.CodeNotMember},
		{protocol.Frame{Text: "deploy", Room: "nowhere"}, protocol.CodeNoSuchRoom},
		{protocol.Frame{Text: "deploy", To: "nobody"}, protocol.CodeNoSuchUser},
		{protocol.Frame{Text: "deploy", To: "bob", Room: "ops"}, protocol.CodeBadRequest},
	} {
		bad.f.Type = protocol.TypeSearch
		wantCode(t, "search "+js(&bad.f), carol.do(&bad.f), bad.code)
	}
}

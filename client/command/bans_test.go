package command_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/parley-chat/parley/client/command"
	"github.com/parley-chat/parley/client/lines"
	"github.com/parley-chat/parley/shared/protocol"
)

// owned answers as a chat server whose room Go alice owns and has
// kicked bob from.
func owned(f *protocol.Frame) *protocol.Frame {
	switch f.Type {
	case protocol.TypeKick, protocol.TypeUnban:
		return &protocol.Frame{Type: protocol.TypeOK, Room: "Go"}
	case protocol.TypeRooms:
		return &protocol.Frame{Type: protocol.TypeOK, Rooms: []protocol.RoomInfo{{Name: protocol.Lobby, Members: 2, Joined: true}, {Name: "Go", Members: 1, Owner: "alice", Joined: true}}}
	case protocol.TypeWho:
		return &protocol.Frame{Type: protocol.TypeOK, Room: "Go",
			Members: []protocol.MemberInfo{{Name: "alice", Online: true, Owner: true}}, Banned: []string{"bob", "李雷"}}
	}
	return &protocol.Frame{Type: protocol.TypeError, Code: protocol.CodeUnknownType, Message: "not here"}
}

// /kick says that the kicked member is banned until /unban, /unban sends
// the unban request for the current room, and /who carries the banned
// list the owner is sent.
func TestKickBansAndUnbanLetsBack(t *testing.T) {
	srv := newFakeChat(t, owned)
	r := command.NewRunner(srv.login("alice"))
	ctx := context.Background()
	r.Current = command.Conv{Room: "go"} // as typed: the server spells it Go

	out, err := r.Run(ctx, "/kick bob")
	if err != nil {
		t.Fatal(err)
	}
	if out == nil || out.Type != "kick" || out.Name != "bob" || out.Room != "Go" ||
		!strings.Contains(out.Text, "bob was removed from #Go and is banned from it until /unban bob") {
		t.Fatalf("/kick output %+v", out)
	}

	out, err = r.Run(ctx, "/who")
	if err != nil {
		t.Fatal(err)
	}
	if out == nil || strings.Join(out.Banned, ",") != "bob,李雷" {
		t.Fatalf("/who output %+v, want the banned list", out)
	}

	out, err = r.Run(ctx, "/unban @bob")
	if err != nil {
		t.Fatal(err)
	}
	if out == nil || out.Type != "unban" || !strings.Contains(out.Text, "bob is no longer banned from #Go") {
		t.Fatalf("/unban output %+v", out)
	}
	reqs := srv.requests()
	last := reqs[len(reqs)-1]
	if last.Type != protocol.TypeUnban || last.Room != "go" || last.Name != "bob" {
		t.Fatalf("/unban sent %+v", last)
	}

	// Not in a private conversation, and not without a name; neither is
	// sent.
	r.Current = command.Conv{With: "bob"}
	if _, err := r.Run(ctx, "/unban bob"); !isCode(err, command.CodeUsage) {
		t.Errorf("/unban in a private conversation: %v", err)
	}
	r.Current = command.Conv{Room: "Go"}
	if _, err := r.Run(ctx, "/unban"); !isCode(err, command.CodeUsage) {
		t.Errorf("/unban alone: %v", err)
	}
	if n := len(srv.requests()); n != len(reqs) {
		t.Errorf("%d requests sent for refused commands", n-len(reqs))
	}
	if help := r.HelpText(); !strings.Contains(help, "/unban NAME") || !strings.Contains(help, "ban them from it until /unban NAME") {
		t.Errorf("/help does not tell of bans:\n%s", help)
	}
}

func isCode(err error, code string) bool {
	pe, ok := err.(*protocol.Error)
	return ok && pe.Code == code
}

// Line mode shows the banned list of /who in its text and its JSON, and
// what /kick and /unban did.
func TestBansInLineMode(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		srv := newFakeChat(t, owned)
		r := command.NewRunner(srv.login("alice"))
		var out bytes.Buffer
		in := strings.NewReader("/switch #Go\n/kick bob\n/who\n/unban bob\n")
		if err := lines.Run(context.Background(), lines.Config{In: in, Out: &out, JSON: asJSON, Runner: r}); err != nil {
			t.Fatal(err)
		}
		got := out.String()
		for _, f := range srv.requests() {
			if (f.Type == protocol.TypeKick || f.Type == protocol.TypeUnban || f.Type == protocol.TypeWho) && f.Room != "Go" {
				t.Errorf("%s sent for room %q, want Go", f.Type, f.Room)
			}
		}
		if !asJSON {
			for _, want := range []string{
				"bob was removed from #Go and is banned from it until /unban bob",
				"* in #Go: alice (owner, online); banned: bob, 李雷 (/unban NAME lets one back)",
				"bob is no longer banned from #Go and may join it again",
			} {
				if !strings.Contains(got, want) {
					t.Errorf("line mode lacks %q:\n%s", want, got)
				}
			}
			continue
		}
		var sawWho, sawKick bool
		for _, l := range strings.Split(strings.TrimSpace(got), "\n") {
			var o command.Output
			if json.Unmarshal([]byte(l), &o) != nil {
				t.Fatalf("not JSON: %s", l)
			}
			switch o.Type {
			case "who":
				sawWho = strings.Join(o.Banned, ",") == "bob,李雷"
			case "kick":
				sawKick = o.Name == "bob" && o.Room == "Go"
			}
		}
		if !sawWho || !sawKick {
			t.Errorf("JSON line mode: who with banned %v, kick %v:\n%s", sawWho, sawKick, got)
		}
	}
}

package lines

import (
	"bytes"
	"testing"

	"github.com/parley-chat/parley/shared/protocol"
)

// Line mode does not print typing events as text; -json does.
func TestTypingNotPrintedAsText(t *testing.T) {
	f := &protocol.Frame{Type: protocol.TypeTyping, Room: "plans", From: "alice"}
	var text, js bytes.Buffer
	(&printer{out: &text}).frame(f, "bob")
	(&printer{out: &js, json: true}).frame(f, "bob")
	if text.Len() != 0 {
		t.Errorf("text mode printed %q", text.String())
	}
	if !bytes.Contains(js.Bytes(), []byte(`"type":"typing"`)) {
		t.Errorf("-json printed %q", js.String())
	}
}

// A mode event is told in words.
func TestModeInWords(t *testing.T) {
	yes, no := true, false
	var out bytes.Buffer
	(&printer{out: &out}).frame(&protocol.Frame{Type: protocol.TypeMode, Room: "Go", By: "ann", Name: "bob", Operator: &yes, TopicLock: &no}, "cat")
	want := "* ann let every member of #Go set its topic; made bob an operator of #Go\n"
	if out.String() != want {
		t.Errorf("printed %q, want %q", out.String(), want)
	}
}

// Presence is printed for other users, not for the user's own login,
// however the server writes the name; -json prints both.
func TestOwnPresenceNotPrinted(t *testing.T) {
	var text, js bytes.Buffer
	for _, f := range []*protocol.Frame{
		{Type: protocol.TypePresence, Name: "Bob", Status: protocol.StatusOnline},
		{Type: protocol.TypePresence, Name: "alice", Status: protocol.StatusOnline},
		{Type: protocol.TypePresence, Name: "alice", Status: protocol.StatusOffline},
	} {
		(&printer{out: &text}).frame(f, "bob")
		(&printer{out: &js, json: true}).frame(f, "bob")
	}
	if want := "* alice is online\n* alice went offline\n"; text.String() != want {
		t.Errorf("printed %q, want %q", text.String(), want)
	}
	if n := bytes.Count(js.Bytes(), []byte(`"type":"presence"`)); n != 3 {
		t.Errorf("-json printed %d presence events, want 3: %s", n, js.String())
	}
}

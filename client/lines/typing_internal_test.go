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

package files_test

import (
	"testing"

	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/client/files"
	"github.com/parley-chat/parley/shared/protocol"
)

func fileMsg(id uint64, name string) chat.Event {
	return chat.Event{Kind: chat.EvFrame, Frame: &protocol.Frame{
		Type: protocol.TypeMessage, ID: id, From: "alice", Room: "lobby", Kind: protocol.KindFile,
		File: &protocol.File{Name: name, Path: "d/" + name, Size: 3, SHA256: "abc"},
	}}
}

func TestIndex(t *testing.T) {
	x := files.NewIndex(3)
	x.Observe(chat.Event{Kind: chat.EvFrame, Frame: &protocol.Frame{Type: protocol.TypeMessage, ID: 1, Text: "hi"}})
	x.Observe(fileMsg(2, "a"))
	x.Observe(chat.Event{Kind: chat.EvReconnected})
	if _, ok := x.Lookup(1); ok {
		t.Error("a text message was indexed")
	}
	m, ok := x.Lookup(2)
	if !ok || m.File.Path != "d/a" || m.From != "alice" || m.Room != "lobby" {
		t.Fatalf("Lookup(2) = %+v, %v", m, ok)
	}
	x.Observe(fileMsg(3, "b"))
	x.Observe(fileMsg(4, "c"))
	x.Observe(fileMsg(5, "d"))
	if _, ok := x.Lookup(2); ok {
		t.Error("the oldest was kept past the limit")
	}
	if m, ok := x.Latest(); !ok || m.ID != 5 {
		t.Errorf("Latest = %+v", m)
	}
	// A recall forgets the message.
	x.Observe(chat.Event{Kind: chat.EvFrame, Frame: &protocol.Frame{Type: protocol.TypeRecall, ID: 5, Msg: 5, From: "alice"}})
	if _, ok := x.Lookup(5); ok {
		t.Error("a recalled file message is still indexed")
	}
	if m, ok := x.Latest(); !ok || m.ID != 4 {
		t.Errorf("Latest after recall = %+v", m)
	}
	// History brings it back only if not recalled.
	recalled := fileMsg(4, "c")
	recalled.Frame.Recalled = true
	x.Observe(recalled)
	if _, ok := x.Lookup(4); ok {
		t.Error("a recalled message from history is indexed")
	}
}

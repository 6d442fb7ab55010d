package tui

import (
	"testing"
	"time"

	"github.com/parley-chat/parley/shared/protocol"
)

func TestTypists(t *testing.T) {
	var ts typists
	now := time.Date(2026, 12, 2, 15, 0, 0, 0, time.UTC)
	ts.typed(&protocol.Frame{Type: protocol.TypeTyping, Room: "lobby", From: "bob"}, "alice", now)
	ts.typed(&protocol.Frame{Type: protocol.TypeTyping, Room: "lobby", From: "alice"}, "alice", now) // herself: not shown
	if got := ts.view("#lobby"); got != "bob is typing…" {
		t.Fatalf("view = %q", got)
	}
	ts.typed(&protocol.Frame{Type: protocol.TypeTyping, Room: "lobby", From: "carol", Nick: "Caz"}, "alice", now.Add(3*time.Second))
	if got := ts.view("#lobby"); got != "Caz, bob are typing…" {
		t.Fatalf("view = %q", got)
	}
	ts.typed(&protocol.Frame{Type: protocol.TypeTyping, To: "alice", From: "bob"}, "alice", now)
	if got := ts.view("@bob"); got != "bob is typing…" {
		t.Fatalf("view of the private conversation = %q", got)
	}
	ts.expire(now.Add(5 * time.Second)) // bob's notes expire, carol's not yet
	if got := ts.view("#lobby"); got != "Caz is typing…" {
		t.Fatalf("view after bob's expired = %q", got)
	}
	ts.stop("#lobby", "Carol") // her message came
	if got := ts.view("#lobby"); got != "" {
		t.Fatalf("view after carol's message = %q", got)
	}
}

package tui

import (
	"errors"
	"testing"

	"github.com/parley-chat/parley/client/chat"
)

// With a cluster's nodes, the status line shows the node connected to,
// and a reconnect that reached another node says so.
func TestStatusShowsTheNode(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Server = "a.example:7700,b.example:7700"
		c.Node = "a.example:7700"
	})
	h.wantScreen("alice @ a.example:7700", "connected as alice to a.example:7700.")
	h.dontWantScreen("b.example")

	h.event(chat.Event{Kind: chat.EvReconnecting, Attempt: 1, Err: errors.New("connection reset"), Addr: "b.example:7700"})
	h.event(chat.Event{Kind: chat.EvReconnected, Addr: "b.example:7700"})
	h.wantScreen("alice @ b.example:7700", "● connected · reconnected", "connected to b.example:7700")

	// /refresh moves on too, and says where it got to.
	h.typeText("/refresh")
	h.key("enter")
	h.event(chat.Event{Kind: chat.EvReconnecting, Attempt: 1, Err: errors.New("refresh"), Addr: "a.example:7700"})
	h.event(chat.Event{Kind: chat.EvReconnected, Addr: "a.example:7700"})
	h.wantScreen("alice @ a.example:7700", "reconnected to a.example:7700")
}

package tui

import (
	"strings"
	"testing"
)

// The conversation on screen is marked read up to its newest message
// once it has been shown for a while: in the lobby from the start, and
// in a conversation switched to.
func TestReadWhenShown(t *testing.T) {
	h := newHarness(t)
	f := h.message("bob", "lobby", "", "hello")
	f.ID, f.History = 7, true
	h.frame(f)
	h.until("the lobby is marked read", func() bool {
		for _, r := range h.conn.ranLines() {
			if r.line == "/read 7" && r.cur.Room == "lobby" {
				return true
			}
		}
		return false
	})
	for _, r := range h.conn.ranLines() {
		if strings.HasPrefix(r.line, "/read") && r.line != "/read 7" {
			t.Errorf("ran %q", r.line)
		}
	}
}

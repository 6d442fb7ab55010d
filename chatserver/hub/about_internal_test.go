package hub

import (
	"fmt"
	"strings"
	"testing"

	"github.com/parley-chat/parley/chatserver/store"
	"github.com/parley-chat/parley/shared/protocol"
)

// TestReactionsFitAFrame: the most reactions a message can have, each
// by many people with the longest names, still fit in one frame with
// the longest text.
func TestReactionsFitAFrame(t *testing.T) {
	var rs []store.Reaction
	for i := range maxReactions {
		r := store.Reaction{Emoji: fmt.Sprintf("🇦%c", rune(0x1F1E6+i))}
		for j := range 500 {
			name := strings.Repeat("𝒜", protocol.MaxNameRunes-3) + fmt.Sprintf("%03d", j)
			r.Users, r.Names = append(r.Users, name), append(r.Names, name)
		}
		rs = append(rs, r)
	}
	m := store.Message{ID: 1, Room: "lobby", FromName: strings.Repeat("𝒜", protocol.MaxNameRunes), Text: strings.Repeat("😀", protocol.MaxTextBytes/4),
		ReplyTo: 1, Quote: store.Quote{From: "x", Text: strings.Repeat("😀", 1000)}, Reactions: rs}
	f := entryFrame(&m, "lobby", true)
	if n := len(protocol.Encode(f)); n > protocol.DefaultMaxFrame {
		t.Fatalf("a message with the most reactions takes %d bytes; a frame is at most %d", n, protocol.DefaultMaxFrame)
	}
	names := 0
	for _, r := range f.Reactions {
		if r.Count != 500 {
			t.Fatalf("reaction %s counts %d; want 500", r.Emoji, r.Count)
		}
		names += len(r.Names)
	}
	if names != maxReactionNames {
		t.Errorf("%d names listed; want %d", names, maxReactionNames)
	}
}

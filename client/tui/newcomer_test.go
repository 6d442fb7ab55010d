package tui

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/client/command"
	"github.com/parley-chat/parley/client/files"
	"github.com/parley-chat/parley/shared/protocol"
)

// noEntryHolds fails if any line of the conversation repeats text.
func noEntryHolds(t *testing.T, h *harness, text string) {
	t.Helper()
	for _, e := range h.m.cur.entries {
		if strings.Contains(e.text, text) {
			t.Fatalf("the conversation repeats the text: %q", e.text[:min(len(e.text), 80)])
		}
	}
}

// A message over the server's limit is refused before it is sent, with
// an error that says how long it is and may be; the text stays on the
// input line to be shortened. When the server refuses one the client
// let through, the same happens.
func TestTooLongTextStaysInTheInput(t *testing.T) {
	h := newHarness(t)
	long := strings.Repeat("long text ", 410) // 4,100 bytes
	h.send(tea.PasteMsg{Content: long})
	h.key("enter")
	if n := len(h.conn.sentTexts()); n != 0 {
		t.Fatalf("%d sends of a text over the limit", n)
	}
	h.wantScreen("4100 bytes", "at most 4000")
	if got := h.m.input.Value(); got != long {
		t.Fatalf("the input holds %d bytes, want the %d typed", len(got), len(long))
	}
	noEntryHolds(t, h, "long text long text")

	// Shortened, it goes.
	for range 110 {
		h.key("backspace")
	}
	h.key("enter")
	if sent := awaitType[sentMsg](h); sent.err != nil {
		t.Fatal(sent.err)
	}
	if got := h.conn.lastSent().text; got != long[:3990] {
		t.Fatalf("sent %d bytes, want 3990", len(got))
	}

	// The server's limit is lower than the client knew: its too_long
	// refusal brings the text back to the input.
	h.conn.mu.Lock()
	h.conn.sendErr = &protocol.Error{Code: protocol.CodeTooLong, Message: "message has 3000 bytes; the limit is 2000"}
	h.conn.mu.Unlock()
	mid := strings.Repeat("mid text ", 333)
	h.send(tea.PasteMsg{Content: "//" + mid})
	h.key("enter")
	if h.m.input.Value() != "" {
		t.Fatal("the input was not cleared for a text within the limit")
	}
	awaitType[sentMsg](h)
	h.wantScreen("not sent: message has 3000 bytes; the limit is 2000")
	if got := h.m.input.Value(); got != "//"+mid {
		t.Fatalf("after the server's refusal the input holds %q…", got[:min(len(got), 20)])
	}
	noEntryHolds(t, h, "mid text mid text")
	h.dontWantScreen("⧗")
}

// /msg NAME TEXT goes through the runner, which refuses a text over the
// limit; the line comes back to the input too.
func TestTooLongPrivateMessageStaysInTheInput(t *testing.T) {
	h := newHarness(t)
	h.conn.setRun(func(cur command.Conv, line string) (*command.Output, command.Conv, error) {
		_, text, _ := strings.Cut(strings.TrimPrefix(line, "/msg "), " ")
		return nil, cur, command.CheckLength(text, protocol.MaxTextBytes)
	})
	line := "/msg bob " + strings.Repeat("秘", 1400) // 4,200 bytes
	h.send(tea.PasteMsg{Content: line})
	h.key("enter")
	awaitType[cmdDoneMsg](h)
	h.wantScreen("4200 bytes", "at most 4000")
	if got := h.m.input.Value(); got != line {
		t.Fatalf("the input holds %d bytes, want the line typed", len(got))
	}
	noEntryHolds(t, h, "秘秘秘秘")
}

// /refresh says in the status line and in the conversation that it is
// reconnecting, and in the conversation when the session is back.
func TestRefreshSaysSoAndWhenBack(t *testing.T) {
	h := newHarness(t)
	h.typeText("/refresh")
	h.key("enter")
	if h.conn.refreshed != 1 {
		t.Fatalf("refreshed %d times", h.conn.refreshed)
	}
	h.wantScreen("◌ reconnecting now (/refresh)", "reconnecting to chat.example:7700 now…")
	// The session reports the refresh's reconnect; its cause is no news.
	h.event(chat.Event{Kind: chat.EvReconnecting, Attempt: 1, Err: errors.New("refresh")})
	h.wantScreen("◌ reconnecting now (/refresh)")
	h.dontWantScreen(": refresh")
	h.event(chat.Event{Kind: chat.EvReconnected})
	h.wantScreen("● connected · reconnected", "reconnected to chat.example:7700")

	// A drop later on is the session's own business again.
	h.event(chat.Event{Kind: chat.EvReconnecting, Attempt: 1, Wait: 2 * time.Second, Err: errors.New("connection reset")})
	h.wantScreen("reconnecting in 2s (attempt 1): connection reset")
}

// A refusal from the file server shows its message, such as that the
// servers' secrets differ, without the code in front.
func TestFileServerRefusalShowsItsMessage(t *testing.T) {
	h := newHarness(t)
	h.xfer.fail = &files.Error{Status: 401, Code: files.CodeSecretMismatch,
		Message: "the chat server and the file server have different secrets; give both the same -secret-file"}
	path := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(path, []byte("hello"), 0o644)
	h.typeText("/upload " + path)
	h.key("enter")
	awaitType[transferDoneMsg](h)
	h.wantScreen("upload of notes.txt failed: the chat server and the file server", "have different secrets")
	h.dontWantScreen("secret_mismatch")
}

// The owner's /who shows who is banned from the room; /kick and /unban
// say what they did.
func TestBansShowInWho(t *testing.T) {
	h := newHarness(t)
	h.conn.setRun(func(cur command.Conv, line string) (*command.Output, command.Conv, error) {
		switch {
		case strings.HasPrefix(line, "/who"):
			return &command.Output{Type: "who", Room: "Go", Members: []protocol.MemberInfo{{Name: "alice", Online: true, Owner: true}},
				Banned: []string{"bob", "李雷"}}, cur, nil
		case strings.HasPrefix(line, "/kick"):
			return &command.Output{Type: "kick", Room: "Go", Name: "bob", Text: "bob was removed from #Go and is banned from it until /unban bob"}, cur, nil
		}
		return nil, cur, nil
	})
	h.typeText("/kick bob")
	h.key("enter")
	awaitType[cmdDoneMsg](h)
	h.wantScreen("bob was removed from #Go and is banned from it until /unban bob")
	h.typeText("/who Go")
	h.key("enter")
	awaitType[cmdDoneMsg](h)
	h.wantScreen("in #Go: ● alice ★", "banned from #Go: bob, 李雷 (/unban NAME lets one back)")
}

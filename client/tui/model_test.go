package tui

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/parley-chat/parley/client/capture"
	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/client/command"
	"github.com/parley-chat/parley/resources"
	"github.com/parley-chat/parley/shared/protocol"
)

func TestSendShowsPendingUntilTheServerHasIt(t *testing.T) {
	h := newHarness(t)
	hold := make(chan struct{})
	h.conn.mu.Lock()
	h.conn.hold = hold
	h.conn.mu.Unlock()

	h.typeText("hello :smile: 你好")
	h.key("enter")
	h.wantScreen("hello 😄 你好 ⧗")
	if got := h.m.input.Value(); got != "" {
		t.Errorf("input after enter = %q, want empty", got)
	}

	// The server echoes the message, then replies.
	echo := h.message("alice", "lobby", "", "hello 😄 你好")
	h.frame(echo)
	close(hold)
	sent := awaitType[sentMsg](h)
	if sent.err != nil {
		t.Fatal(sent.err)
	}
	got := h.conn.lastSent()
	if got.to != command.Lobby || got.text != "hello :smile: 你好" {
		t.Errorf("sent %+v, want the typed text to #lobby (the runner expands shortcodes)", got)
	}
	h.dontWantScreen("⧗")
	if n := strings.Count(h.screen(), "hello 😄 你好"); n != 1 {
		t.Errorf("the message shows %d times, want once", n)
	}
	if row := h.row("hello 😄"); !strings.Contains(row, "15:04") || !strings.Contains(row, "alice") {
		t.Errorf("message row %q lacks its time and sender", row)
	}
}

func TestSendFailureShowsInItsConversation(t *testing.T) {
	h := newHarness(t)
	h.conn.sendErr = &protocol.Error{Code: protocol.CodeBadText, Message: "message contains a control character (U+0007)"}
	h.typeText("ring ring")
	h.key("enter")
	awaitType[sentMsg](h)
	h.wantScreen("not sent: message contains a control character", "— ring ring")
}

func TestDoubleSlashSendsText(t *testing.T) {
	h := newHarness(t)
	h.typeText("//shrug")
	h.key("enter")
	awaitType[sentMsg](h)
	if got := h.conn.lastSent().text; got != "/shrug" {
		t.Errorf("sent %q, want /shrug", got)
	}
}

func TestUnreadCountsAndMentions(t *testing.T) {
	h := newHarness(t)
	h.conn.setRun(func(cur command.Conv, line string) (*command.Output, command.Conv, error) {
		if line == "/join go" {
			return &command.Output{Type: "switch", Room: "go"}, command.Conv{Room: "go"}, nil
		}
		return nil, cur, nil
	})
	h.typeText("/join go")
	h.key("enter")
	awaitType[cmdDoneMsg](h)
	h.wantScreen("[#go]")
	h.key("ctrl+p") // back to the lobby
	h.wantScreen("[#lobby]")

	h.frame(h.message("bob", "go", "", "first"))
	h.frame(h.message("bob", "go", "", "second"))
	if row := h.row("#go"); !strings.Contains(row, " 2 ") {
		t.Fatalf("#go row %q has no unread count of 2", row)
	}
	h.frame(h.message("bob", "go", "", "hey alice, look"))
	if row := h.row("#go"); !strings.Contains(row, "@3") {
		t.Fatalf("#go row %q has no mention mark", row)
	}
	// Your own messages and history are not unread.
	h.frame(h.message("alice", "go", "", "mine"))
	old := h.message("bob", "go", "", "old news")
	old.History = true
	h.frame(old)
	if row := h.row("#go"); !strings.Contains(row, "@3") {
		t.Fatalf("#go row %q: own messages or history were counted", row)
	}
	// A message in the current conversation is not unread.
	h.frame(h.message("bob", "lobby", "", "here"))
	if row := h.row("#lobby"); strings.Contains(row, " 1 ") {
		t.Fatalf("lobby row %q counts a message in the open conversation", row)
	}
	h.wantScreen("3 unread")

	h.key("ctrl+n")
	h.wantScreen("[#go]", "hey alice, look", "old news")
	if row := h.row("#go"); strings.Contains(row, "@3") || strings.Contains(row, " 3 ") {
		t.Fatalf("#go row %q still unread after opening it", row)
	}
	h.dontWantScreen("unread")
}

func TestPrivateConversations(t *testing.T) {
	h := newHarness(t)
	h.frame(h.message("bob", "", "alice", "psst"))
	row := h.row("@bob")
	if !strings.Contains(row, "@1") {
		t.Fatalf("private conversation row %q: a private message counts as a mention", row)
	}
	h.wantScreen("private")
	h.key("alt+2")
	h.wantScreen("[@bob]", "✉ private · bob", "only you two see this", "psst")

	// Text typed here goes to bob only.
	h.typeText("hi")
	h.key("enter")
	awaitType[sentMsg](h)
	if got := h.conn.lastSent(); got.to != (command.Conv{With: "bob"}) {
		t.Errorf("sent to %v, want @bob", got.to)
	}
	// Your own echo of a private message files under the other person.
	h.frame(h.message("alice", "", "bob", "echo"))
	if c := h.m.findConv(command.Conv{With: "bob"}); c == nil || len(c.messages()) != 2 {
		t.Fatalf("the echo did not land in @bob")
	}
}

func TestSwitchCommandsAndKeys(t *testing.T) {
	conn := newFakeConn("alice")
	conn.rooms = append(conn.rooms, protocol.RoomInfo{Name: "go", Joined: true}, protocol.RoomInfo{Name: "rust", Joined: true})
	h := newHarnessWithConn(t, conn)
	h.wantScreen("1 ▸#lobby", "2  #go", "3  #rust")
	h.key("alt+3")
	h.wantScreen("[#rust]")
	h.key("ctrl+n")
	h.wantScreen("[#lobby]") // wraps around
	h.typeText("/switch #go")
	h.key("enter")
	h.wantScreen("[#go]")
	h.typeText("/switch #nowhere")
	h.key("enter")
	h.wantScreen("you are not in #nowhere")
	h.typeText("/query carol")
	h.key("enter")
	h.wantScreen("[@carol]")
	// Picking from the list with the keyboard.
	h.key("shift+tab")
	h.key("up", "up", "enter")
	h.wantScreen("[#go]")
}

func newHarnessWithConn(t *testing.T, c *fakeConn) *harness {
	return newHarness(t, func(cfg *Config) { cfg.Conn = c })
}

func TestCommandsGoToTheRunnerAndErrorsStayInTheirConversation(t *testing.T) {
	h := newHarness(t)
	h.conn.setRun(func(cur command.Conv, line string) (*command.Output, command.Conv, error) {
		switch line {
		case "/kick bob":
			return nil, cur, &protocol.Error{Code: protocol.CodeNotOwner, Message: "only the owner of #lobby can remove people"}
		case "/rooms":
			return &command.Output{Type: "rooms", Rooms: []protocol.RoomInfo{{Name: "go", Members: 3, Owner: "bob"}}}, cur, nil
		case "/who":
			return &command.Output{Type: "who", Room: "lobby", Members: []protocol.MemberInfo{{Name: "bob", Online: true}, {Name: "王小明"}}}, cur, nil
		}
		return nil, cur, nil
	})
	h.typeText("/kick bob")
	h.key("enter")
	awaitType[cmdDoneMsg](h)
	h.wantScreen("!! │ only the owner of #lobby can remove people")
	h.typeText("/rooms")
	h.key("enter")
	awaitType[cmdDoneMsg](h)
	h.wantScreen("#go  3 members, owner bob")
	h.typeText("/who")
	h.key("enter")
	awaitType[cmdDoneMsg](h)
	h.wantScreen("in #lobby: ● bob, ○ 王小明")
	ran := h.conn.ranLines()
	if len(ran) < 3 || ran[0].cur != command.Lobby {
		t.Fatalf("runner got %+v", ran)
	}
}

func TestHelpIsShown(t *testing.T) {
	h := newHarness(t)
	h.send(tea.WindowSizeMsg{Width: 120, Height: 100})
	h.typeText("/help")
	h.key("enter")
	h.wantScreen("/join ROOM", "/sticker NAME", "/screenshot", "/download [ID|NAME] [DEST]", "F2 (alt+u)", "ctrl+g")
}

func TestInputHistory(t *testing.T) {
	h := newHarness(t)
	for _, s := range []string{"one", "two"} {
		h.typeText(s)
		h.key("enter")
		awaitType[sentMsg](h)
	}
	h.typeText("dra")
	h.key("up")
	if got := h.m.input.Value(); got != "two" {
		t.Fatalf("up: %q, want two", got)
	}
	h.key("up", "up")
	if got := h.m.input.Value(); got != "one" {
		t.Fatalf("up up up: %q, want one", got)
	}
	h.key("down", "down")
	if got := h.m.input.Value(); got != "dra" {
		t.Fatalf("back down: %q, want the draft", got)
	}
}

func TestCompletion(t *testing.T) {
	h := newHarness(t)
	h.conn.setRun(func(cur command.Conv, line string) (*command.Output, command.Conv, error) {
		return &command.Output{Type: "who", Room: "lobby", Members: []protocol.MemberInfo{{Name: "bob"}, {Name: "bella"}, {Name: "alice"}, {Name: "王小明"}}}, cur, nil
	})
	h.typeText("/who")
	h.key("enter")
	awaitType[cmdDoneMsg](h)
	h.m.rooms["golang"] = "golang"
	h.m.rooms["gophers"] = "gophers"

	cases := []struct {
		typed string
		tabs  int
		want  string
	}{
		{"/jo", 1, "/join "},
		{"/join go", 1, "/join golang "},
		{"/join go", 2, "/join gophers "},
		{"b", 1, "bella: "},
		{"b", 2, "bob: "},
		{"b", 3, "bella: "},
		{"hi b", 1, "hi bella "},
		{"/msg 王", 1, "/msg 王小明 "},
		{"ping @b", 1, "ping @bella "},
		{"so :tad", 1, "so :tada: "},
		{"a", 1, "a"}, // never yourself
	}
	for _, c := range cases {
		h.m.input.Reset()
		h.m.input.comp = nil
		h.typeText(c.typed)
		for range c.tabs {
			h.key("tab")
		}
		got := h.m.input.Value()
		if strings.HasPrefix(c.want, "so :tada:") {
			got += " "
		}
		if got != c.want {
			t.Errorf("%q + %d×Tab = %q, want %q", c.typed, c.tabs, got, c.want)
		}
	}
	// The candidates show while cycling.
	h.m.input.Reset()
	h.m.input.comp = nil
	h.typeText("b")
	h.key("tab")
	h.wantScreen("Tab: bella: bob:")
	h.key("x")
	h.dontWantScreen("Tab: bella")
}

func TestUploadPathCompletion(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "report.pdf"), []byte("x"), 0o644)
	os.Mkdir(filepath.Join(dir, "photos"), 0o755)
	h := newHarness(t)
	h.typeText("/upload " + dir + "/re")
	h.key("tab")
	if got, want := h.m.input.Value(), "/upload "+dir+"/report.pdf "; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestEmojiPicker(t *testing.T) {
	h := newHarness(t)
	h.typeText("party ")
	h.key("f3")
	h.wantScreen("Emoji", "😄 smile")
	h.typeText("tada")
	if h.m.picker == nil || len(h.m.picker.results) == 0 || h.m.picker.results[0].Code != ":tada:" {
		t.Fatalf("picker results for tada: %+v", h.m.picker.results)
	}
	h.wantScreen("🎉 tada")
	h.key("enter")
	if h.m.picker != nil {
		t.Fatal("picker still open after enter")
	}
	if got := h.m.input.Value(); got != "party 🎉" {
		t.Fatalf("input = %q, want the emoji inserted at the cursor", got)
	}
	// /emoji opens it with a search; Esc closes it without inserting.
	h.typeText("/emoji heart")
	h.key("enter")
	h.wantScreen("heart")
	h.key("right", "esc")
	if h.m.picker != nil || h.m.input.Value() != "" {
		t.Fatalf("after esc: picker %v, input %q", h.m.picker != nil, h.m.input.Value())
	}
	h.checkGeometry(100, 30)
}

func TestReconnectStatus(t *testing.T) {
	h := newHarness(t)
	h.wantScreen("● connected")
	h.event(chat.Event{Kind: chat.EvReconnecting, Wait: 5 * time.Second, Attempt: 2, Err: errors.New("connection refused")})
	h.wantScreen("reconnecting in 5s (attempt 2)", "connection refused")

	// Text typed now waits, marked pending.
	hold := make(chan struct{})
	h.conn.mu.Lock()
	h.conn.hold = hold
	h.conn.mu.Unlock()
	h.typeText("still there?")
	h.key("enter")
	h.wantScreen("still there? ⧗")

	h.now = h.now.Add(2 * time.Second)
	h.send(tickMsg(h.now))
	h.wantScreen("reconnecting in 3s (attempt 2)")
	h.now = h.now.Add(3 * time.Second)
	h.send(tickMsg(h.now))
	h.wantScreen("reconnecting… (attempt 2)")

	h.event(chat.Event{Kind: chat.EvReconnected})
	h.wantScreen("● connected · reconnected")
	close(hold)
	awaitType[sentMsg](h)
	h.dontWantScreen("⧗")

	// /refresh asks the session to reconnect now.
	h.typeText("/refresh")
	h.key("enter")
	if h.conn.refreshed != 1 {
		t.Errorf("refreshed %d times", h.conn.refreshed)
	}
}

func TestSessionEnds(t *testing.T) {
	h := newHarness(t)
	h.event(chat.Event{Kind: chat.EvFrame, Frame: &protocol.Frame{Type: protocol.TypeReplaced,
		Message: "you logged in from somewhere else; this session is closed"}})
	h.event(chat.Event{Kind: chat.EvClosed, Err: chat.ErrReplaced})
	h.wantScreen("✖ disconnected", "you logged in from somewhere else")
	if n := strings.Count(h.screen(), "somewhere else"); n != 1 {
		t.Errorf("the takeover is told %d times:\n%s", n, h.screen())
	}
	if !errors.Is(h.m.Err(), chat.ErrReplaced) {
		t.Errorf("Err() = %v", h.m.Err())
	}
	h.typeText("anyone?")
	h.key("enter")
	h.wantScreen("the session has ended")
	h.checkGeometry(100, 30)
}

func TestWidthsOfChineseAndEmoji(t *testing.T) {
	for _, w := range []int{100, 61, 40, 25} {
		t.Run(fmt.Sprint(w), func(t *testing.T) {
			h := newHarness(t)
			h.send(tea.WindowSizeMsg{Width: w, Height: 20})
			h.frame(h.message("王小明", "lobby", "", strings.Repeat("中文和emoji混排👍🏽🎉，", 12)))
			h.frame(h.message("ZoëÅ", "lobby", "", "family 👨‍👩‍👧‍👦 flag 🇫🇷 keycap 1️⃣ combining é"))
			h.typeText("输入中文也可以👍")
			h.key("f2")
			h.checkGeometry(w, 20)
		})
	}
}

func TestResize(t *testing.T) {
	h := newHarness(t)
	for i := range 30 {
		h.frame(h.message("bob", "lobby", "", fmt.Sprintf("message %d with some words to wrap around", i)))
	}
	for _, size := range [][2]int{{120, 40}, {50, 12}, {20, 8}, {200, 60}, {80, 24}} {
		h.send(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		h.checkGeometry(size[0], size[1])
		h.wantScreen("message 29")
	}
	// Too small to be useful is still drawn without breaking.
	h.send(tea.WindowSizeMsg{Width: 5, Height: 2})
	h.m.View()
}

func TestScrollback(t *testing.T) {
	h := newHarness(t)
	for i := range 60 {
		h.frame(h.message("bob", "lobby", "", fmt.Sprintf("line %02d", i)))
	}
	h.wantScreen("line 59")
	h.dontWantScreen("line 20")
	h.key("pgup", "pgup")
	h.wantScreen("scrolled back")
	h.dontWantScreen("line 59")
	// New messages do not move what you are reading.
	before := h.screen()
	h.frame(h.message("bob", "lobby", "", "newest"))
	h.wantScreen("↓ 1 new")
	after := h.screen()
	if cut(before, "╯╰─ ") != cut(after, "╯╰─ ") {
		t.Errorf("the view moved when a message arrived:\n%s\n%s", before, after)
	}
	h.send(tea.MouseWheelMsg{Button: tea.MouseWheelUp})
	h.key("end")
	h.wantScreen("newest")
	h.dontWantScreen("↓ 1 new", "scrolled back")
	h.send(tea.MouseWheelMsg{Button: tea.MouseWheelUp})
	h.wantScreen("scrolled back")
	h.send(tea.MouseWheelMsg{Button: tea.MouseWheelDown})
	h.dontWantScreen("scrolled back")
}

// cut returns s up to the line containing marker.
func cut(s, marker string) string {
	i := strings.Index(s, marker)
	if i < 0 {
		return s
	}
	return s[:i]
}

func TestHistoryPagesGoInOrder(t *testing.T) {
	h := newHarness(t)
	h.frame(&protocol.Frame{Type: protocol.TypeMessage, ID: 50, From: "bob", Room: "lobby", Text: "fifty", Time: h.now.UnixMilli()})
	h.frame(&protocol.Frame{Type: protocol.TypeMessage, ID: 10, From: "bob", Room: "lobby", Text: "ten", Time: h.now.UnixMilli(), History: true})
	h.frame(&protocol.Frame{Type: protocol.TypeMessage, ID: 50, From: "bob", Room: "lobby", Text: "fifty", Time: h.now.UnixMilli()})
	s := h.screen()
	if strings.Count(s, "fifty") != 1 || strings.Index(s, "ten") > strings.Index(s, "fifty") {
		t.Fatalf("history out of order or repeated:\n%s", s)
	}
	h.frame(&protocol.Frame{Type: protocol.TypeRecall, ID: 51, Msg: 50, From: "bob", Room: "lobby"})
	h.wantScreen("(message recalled)")
	h.dontWantScreen("fifty")
}

func TestDayChangesAreMarked(t *testing.T) {
	h := newHarness(t)
	old := h.message("bob", "lobby", "", "yesterday's")
	old.Time = h.now.Add(-24 * time.Hour).UnixMilli()
	old.History = true
	h.frame(old)
	h.frame(h.message("bob", "lobby", "", "today's"))
	h.wantScreen("Saturday, 21 November 2026", "Sunday, 22 November 2026")
}

func TestMemberListAndPrivateChatFromIt(t *testing.T) {
	h := newHarness(t)
	h.conn.setRun(func(cur command.Conv, line string) (*command.Output, command.Conv, error) {
		return &command.Output{Type: "who", Room: "lobby", Members: []protocol.MemberInfo{{Name: "alice", Online: true}, {Name: "bob", Online: true}, {Name: "carol"}}}, cur, nil
	})
	h.key("f2")
	h.typeText("/who")
	h.key("enter")
	awaitType[cmdDoneMsg](h)
	h.wantScreen("Online 2/3", "● alice", "● bob", "○ carol")
	h.frame(&protocol.Frame{Type: protocol.TypePresence, Name: "carol", Status: protocol.StatusOnline})
	h.wantScreen("Online 3/3", "● carol")
	h.frame(&protocol.Frame{Type: protocol.TypePresence, Name: "dave", Status: protocol.StatusOnline})
	h.wantScreen("Online 4/4", "● dave")

	// shift+tab: chats, messages, members.
	h.key("shift+tab", "shift+tab", "shift+tab")
	if h.m.focus != focusMembers {
		t.Fatalf("focus = %v, want the member list", h.m.focus)
	}
	h.key("down", "enter")
	h.wantScreen("[@bob]", "✉ private · bob ● online")
	if h.m.focus != focusInput {
		t.Error("opening a private chat does not return to typing")
	}
	h.key("f2")
	h.dontWantScreen("Online")
}

func TestClickingOpensConversationsAndPeople(t *testing.T) {
	h := newHarness(t)
	h.frame(h.message("bob", "", "alice", "psst"))
	h.m.View()
	var y int
	for i, l := range strings.Split(h.screen(), "\n") {
		if strings.Contains(l, "@bob") {
			y = i
		}
	}
	h.send(tea.MouseClickMsg{X: 3, Y: y, Button: tea.MouseLeft})
	h.wantScreen("[@bob]")
}

func TestFileMessagesDownload(t *testing.T) {
	h := newHarness(t)
	h.xfer.release = make(chan struct{})
	h.xfer.started = make(chan string, 1)
	f := h.message("bob", "lobby", "", "the slides")
	f.Kind = protocol.KindFile
	f.File = &protocol.File{Name: "slides 幻灯片.pdf", Size: 3 << 20, Path: "slides 幻灯片.pdf"}
	h.frame(f)
	h.wantScreen("📎 slides 幻灯片.pdf (3.0 MiB)", fmt.Sprintf("[%d]", f.ID), "the slides")

	h.key("ctrl+g")
	<-h.xfer.started
	awaitType[transferProgressMsg](h)
	h.wantScreen("↓ slides 幻灯片.pdf", "50%", "1.5 MiB / 3.0 MiB", "^X cancel")
	h.checkGeometry(100, 30)
	close(h.xfer.release)
	awaitType[transferDoneMsg](h)
	want := filepath.Join(h.m.cfg.Transfers.Downloads, "slides 幻灯片.pdf")
	h.wantScreen("saved slides 幻灯片.pdf to", "✔ saved to")
	if len(h.xfer.downloads) != 1 || h.xfer.downloads[0] != want {
		t.Fatalf("downloads %v", h.xfer.downloads)
	}
	h.dontWantScreen("^X cancel")
}

func TestSelectingAFileMessageWithKeys(t *testing.T) {
	h := newHarness(t)
	for i, name := range []string{"a.txt", "b.txt"} {
		f := h.message("bob", "lobby", "", "")
		f.Kind = protocol.KindFile
		f.File = &protocol.File{Name: name, Size: int64(i + 1)}
		h.frame(f)
	}
	h.frame(h.message("bob", "lobby", "", "text after"))
	h.key("shift+tab", "shift+tab") // the message pane
	if h.m.focus != focusMessages {
		t.Fatalf("focus %v", h.m.focus)
	}
	h.key("up", "up", "enter")
	awaitType[transferDoneMsg](h)
	if len(h.xfer.downloads) != 1 || filepath.Base(h.xfer.downloads[0]) != "a.txt" {
		t.Fatalf("downloaded %v, want a.txt", h.xfer.downloads)
	}
}

func TestUploadCanBeCancelled(t *testing.T) {
	h := newHarness(t)
	h.xfer.release = make(chan struct{}) // never released
	h.xfer.started = make(chan string, 1)
	path := filepath.Join(t.TempDir(), "big.bin")
	os.WriteFile(path, bytes.Repeat([]byte("x"), 4096), 0o644)
	h.typeText("/upload " + path)
	h.key("enter")
	<-h.xfer.started
	awaitType[transferProgressMsg](h)
	h.wantScreen("↑ big.bin", "50%")
	h.key("ctrl+x")
	awaitType[transferDoneMsg](h)
	h.wantScreen("upload of big.bin cancelled")
	h.dontWantScreen("↑ big.bin")
	if len(h.conn.sentFiles()) != 0 {
		t.Error("a cancelled upload was posted")
	}
}

func TestUploadPostsTheFile(t *testing.T) {
	h := newHarness(t)
	path := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(path, []byte("hello"), 0o644)
	h.typeText("/upload '" + path + "' 'my notes.txt'")
	h.key("enter")
	awaitType[transferDoneMsg](h)
	awaitType[noteMsg](h)
	got := h.conn.sentFiles()[0]
	if got.file.Name != "my notes.txt" || got.file.Size != 5 || got.to != command.Lobby {
		t.Fatalf("posted %+v", got)
	}
}

func TestDownloadByNameIntoAFolder(t *testing.T) {
	h := newHarness(t)
	dest := t.TempDir()
	os.WriteFile(filepath.Join(dest, "report.pdf"), nil, 0o644)
	h.xfer.put("", "docs/report.pdf")
	h.typeText("/download docs/report.pdf " + dest)
	h.key("enter")
	done := awaitType[transferDoneMsg](h)
	if want := filepath.Join(dest, "report (1).pdf"); done.path != want || done.err != nil {
		t.Fatalf("saved to %q (%v), want %q: an existing file is never replaced", done.path, done.err, want)
	}
	h.typeText("/download 12345")
	h.key("enter")
	awaitType[transferDoneMsg](h) // the shared folder has no file of that name either
	h.wantScreen("message 12345 is not a file here")
}

func TestStickers(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Sticker = resources.Sticker
		c.StickerNames = resources.StickerNames
	})
	h.typeText("/sticker")
	h.key("enter")
	h.wantScreen("stickers: cat, coffee, heart, ok, smile, star")
	h.typeText("/sticker nope")
	h.key("enter")
	h.wantScreen("no such sticker")
	h.typeText("/sticker heart")
	h.key("enter")
	awaitType[transferDoneMsg](h)
	awaitType[noteMsg](h)
	want, _ := resources.Sticker("heart")
	if got := h.xfer.uploads["sticker-heart.png"]; !bytes.Equal(got, want) {
		t.Fatal("the uploaded sticker is not the shipped image")
	}
	posted := h.conn.sentFiles()[0].file
	if posted.SHA256 == "" {
		t.Fatal("the sticker's file message has no checksum")
	}
	// The echo is drawn as a picture.
	echo := h.message("alice", "lobby", "", "")
	echo.Kind = protocol.KindFile
	echo.File = &posted
	h.frame(echo)
	h.wantScreen("sticker heart", "▀")
	h.checkGeometry(100, 30)
}

func TestScreenshot(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Capture = func() ([]byte, error) { return []byte("\x89PNG fake"), nil }
	})
	h.key("f4")
	awaitType[captureMsg](h)
	awaitType[transferDoneMsg](h)
	awaitType[noteMsg](h)
	got := h.conn.sentFiles()[0]
	if !strings.HasPrefix(got.file.Name, "screenshot-20261122-150400-") || !strings.HasSuffix(got.file.Name, ".png") {
		t.Errorf("screenshot named %q", got.file.Name)
	}
	if !bytes.Equal(h.xfer.uploads[got.file.Name], []byte("\x89PNG fake")) {
		t.Error("the capture was not what was uploaded")
	}
}

func TestScreenshotWithoutDisplay(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Capture = func() ([]byte, error) {
			return nil, fmt.Errorf("%w: neither DISPLAY nor WAYLAND_DISPLAY is set", capture.ErrNoDisplay)
		}
	})
	h.typeText("/screenshot")
	h.key("enter")
	awaitType[captureMsg](h)
	h.wantScreen("screenshot failed: no display to capture")
	if len(h.conn.sentFiles()) != 0 {
		t.Error("something was posted")
	}
}

func TestFileCommandsWithoutFileServer(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Transfers = nil })
	h.typeText("/upload /etc/hostname")
	h.key("enter")
	h.wantScreen("file transfers are not available")
}

func TestHostileTextIsDefused(t *testing.T) {
	h := newHarness(t)
	h.frame(h.message("bob\x1b[31m", "lobby", "", "\x1b[2J\x1b[Hgotcha\x07 \u202eevil"))
	s := h.m.View().Content
	if strings.Contains(s, "\x1b[2J") || strings.Contains(s, "\x07") || strings.Contains(s, "\u202e") {
		t.Fatal("control sequences from the network reached the terminal")
	}
	h.wantScreen("gotcha")
}

func TestMembersFollowJoinsAndLeaves(t *testing.T) {
	h := newHarness(t)
	h.conn.setRun(func(cur command.Conv, line string) (*command.Output, command.Conv, error) {
		switch line {
		case "/join go":
			return &command.Output{Type: "switch", Room: "go"}, command.Conv{Room: "go"}, nil
		case "/who go":
			return &command.Output{Type: "who", Room: "go", Members: []protocol.MemberInfo{{Name: "alice", Online: true, Owner: true}}}, cur, nil
		}
		return nil, cur, nil
	})
	h.key("f2")
	h.typeText("/join go")
	h.key("enter")
	h.await("the members of #go", func(msg tea.Msg) bool {
		w, ok := msg.(whoMsg)
		return ok && w.out != nil && w.out.Room == "go"
	})
	h.wantScreen("Online 1/1", "alice ★")
	h.frame(&protocol.Frame{Type: protocol.TypeMember, Room: "go", Name: "bob", Action: protocol.ActionJoin})
	h.wantScreen("bob joined #go", "● bob")
	h.frame(&protocol.Frame{Type: protocol.TypeMember, Room: "go", Name: "bob", Action: protocol.ActionLeave})
	h.wantScreen("bob left #go")
	h.frame(&protocol.Frame{Type: protocol.TypeKicked, Room: "go", By: "root"})
	h.wantScreen("root removed you from #go", "not a member")
	// Leaving closes the conversation.
	h.frame(&protocol.Frame{Type: protocol.TypeMember, Room: "go", Name: "alice", Action: protocol.ActionLeave})
	h.wantScreen("[#lobby]")
	h.dontWantScreen("#go")
}

func TestQuit(t *testing.T) {
	h := newHarness(t)
	_, cmd := h.m.Update(keyMsg("ctrl+c"))
	if cmd == nil {
		t.Fatal("ctrl+c does nothing")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Fatal("ctrl+c does not quit")
	}
	h.typeText("/quit")
	_, cmd = h.m.Update(keyMsg("enter"))
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Fatal("/quit does not quit")
	}
}

// A member list travels apart from presence and join news, so news that
// comes while the list is on its way is newer than the list.
func TestMemberListArrivingLateKeepsNewerNews(t *testing.T) {
	h := newHarness(t)
	awaitType[whoMsg](h) // the first load, answered with nothing
	asked := make(chan string, 1)
	release := make(chan struct{})
	h.conn.setRun(func(cur command.Conv, line string) (*command.Output, command.Conv, error) {
		switch line {
		case "/join go":
			return &command.Output{Type: "switch", Room: "go"}, command.Conv{Room: "go"}, nil
		case "/who lobby":
			asked <- line
			<-release
			return &command.Output{Type: "who", Room: "lobby", Members: []protocol.MemberInfo{{Name: "alice", Online: true}, {Name: "bob", Online: true}, {Name: "carol"}}}, cur, nil
		case "/who go":
			asked <- line
			<-release
			return &command.Output{Type: "who", Room: "go", Members: []protocol.MemberInfo{{Name: "alice", Online: true}, {Name: "frank", Online: true}}}, cur, nil
		}
		return nil, cur, nil
	})

	h.key("f2") // shows the members, which asks for them
	if got := recvOrFail(t, asked); got != "/who lobby" {
		t.Fatalf("asked %q", got)
	}
	h.frame(&protocol.Frame{Type: protocol.TypePresence, Name: "carol", Status: protocol.StatusOnline})
	h.frame(&protocol.Frame{Type: protocol.TypePresence, Name: "dave", Status: protocol.StatusOnline})
	h.frame(&protocol.Frame{Type: protocol.TypePresence, Name: "bob", Status: protocol.StatusOffline})
	release <- struct{}{}
	awaitType[whoMsg](h)
	h.wantScreen("Online 3/4", "● carol", "● dave", "○ bob")

	h.typeText("/join go")
	h.key("enter")
	awaitType[cmdDoneMsg](h)
	if got := recvOrFail(t, asked); got != "/who go" {
		t.Fatalf("asked %q", got)
	}
	h.frame(&protocol.Frame{Type: protocol.TypeMember, Room: "go", Name: "erin", Action: protocol.ActionJoin})
	h.frame(&protocol.Frame{Type: protocol.TypeMember, Room: "go", Name: "frank", Action: protocol.ActionLeave})
	release <- struct{}{}
	awaitType[whoMsg](h)
	h.wantScreen("Online 2/2", "● alice", "● erin")
	h.dontWantScreen("● frank")
}

func recvOrFail[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(failsafe):
		t.Fatal("nothing came")
		panic("unreachable")
	}
}

// A private conversation opened empty asks once for its newest messages.
// Rooms never ask (the server sends theirs with each join and login), nor
// does a conversation opened with messages in it or cleared, and a failed
// request is not repeated by every visit.
func TestRecentMessagesAreAskedForOnce(t *testing.T) {
	conn := newFakeConn("alice")
	conn.rooms = append(conn.rooms, protocol.RoomInfo{Name: "go", Joined: true})
	conn.setRun(func(cur command.Conv, line string) (*command.Output, command.Conv, error) {
		if line == "/history" && cur.With == "typo" {
			return nil, cur, protocol.Errorf(protocol.CodeNoSuchUser, "no such user: typo")
		}
		if line == "/history" {
			none := 0
			return &command.Output{Type: "history", To: cur.With, Count: &none}, cur, nil
		}
		return nil, cur, nil
	})
	h := newHarnessWithConn(t, conn)
	h.typeText("/query bob")
	h.key("enter")
	awaitType[recentMsg](h)
	h.wantScreen("[@bob]", "no messages here yet")
	// The first message takes the note's place.
	h.frame(h.message("bob", "", "alice", "there now"))
	h.wantScreen("bob │ there now")
	h.dontWantScreen("no messages here yet")
	h.typeText("/query typo")
	h.key("enter")
	awaitType[recentMsg](h)
	h.wantScreen("[@typo]", "recent messages not loaded: no such user: typo")
	// carol's conversation opens with a message in it.
	h.frame(h.message("carol", "", "alice", "hello"))
	// Every conversation visited again, and carol's cleared first.
	h.typeText("/switch @carol")
	h.key("enter")
	h.typeText("/clear")
	h.key("enter")
	for range 2 {
		for _, to := range []string{"#lobby", "#go", "@carol", "@typo", "@bob"} {
			h.typeText("/switch " + to)
			h.key("enter")
		}
	}
	h.typeText("/who")
	h.key("enter")
	awaitType[cmdDoneMsg](h)

	var asked []command.Conv
	for _, r := range conn.ranLines() {
		if r.line == "/history" {
			asked = append(asked, r.cur)
		}
	}
	want := []command.Conv{{With: "bob"}, {With: "typo"}}
	if !reflect.DeepEqual(asked, want) {
		t.Errorf("asked for the newest messages of %v, want %v", asked, want)
	}
	if c := h.m.findConv(command.Conv{With: "typo"}); c == nil {
		t.Error("@typo is gone")
	} else if len(c.entries) != 1 {
		t.Errorf("@typo shows %d lines, want the one error", len(c.entries))
	}
}

// Roles show in the member list and in /who, and a mode event changes
// them live and says in the conversation what changed.
func TestRolesInTheMemberList(t *testing.T) {
	h := newHarness(t)
	h.conn.setRun(func(cur command.Conv, line string) (*command.Output, command.Conv, error) {
		return &command.Output{Type: "who", Room: "lobby", Members: []protocol.MemberInfo{
			{Name: "alice", Online: true, Owner: true, Operator: true}, {Name: "bob", Online: true, Operator: true}, {Name: "carol", Online: true}}}, cur, nil
	})
	h.key("f2")
	h.typeText("/who")
	h.key("enter")
	awaitType[cmdDoneMsg](h)
	h.wantScreen("● alice ★", "● bob op", "in #lobby: ● alice ★, ● bob (op), ● carol")
	yes, no := true, false
	h.frame(&protocol.Frame{Type: protocol.TypeMode, Room: "lobby", By: "alice", Name: "carol", Voice: &yes})
	h.wantScreen("● carol +v", "alice gave carol voice in #lobby")
	h.frame(&protocol.Frame{Type: protocol.TypeMode, Room: "lobby", By: "alice", Name: "bob", Operator: &no})
	h.wantScreen("alice took operator from bob in #lobby")
	h.dontWantScreen("bob op")
}

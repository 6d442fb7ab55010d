package tui

import (
	"context"
	"errors"
	"io"
	"path"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/client/command"
	"github.com/parley-chat/parley/client/files"
	"github.com/parley-chat/parley/shared/protocol"
)

// fakeConn records what the screen asks of the connection.
type fakeConn struct {
	me     string
	events chan chat.Event
	rooms  []protocol.RoomInfo
	// private are the login reply's private conversations.
	private []protocol.PrivateInfo
	typed   []command.Conv // where Typing said the user types

	mu    sync.Mutex
	sent  []sentText
	files []sentFile
	ran   []ranLine
	// run answers Run; nil answers every command with no output.
	run func(cur command.Conv, line string) (*command.Output, command.Conv, error)
	// sendErr, if set, is what Send returns.
	sendErr error
	// hold, if set, makes Send wait until it is closed.
	hold      chan struct{}
	refreshed int
	// limit is what TextLimit says; 0 means the protocol's default.
	limit int
}

type sentText struct {
	to   command.Conv
	text string
}

type sentFile struct {
	to      command.Conv
	file    protocol.File
	caption string
}

type ranLine struct {
	cur  command.Conv
	line string
}

func newFakeConn(me string) *fakeConn {
	return &fakeConn{me: me, events: make(chan chat.Event, 64), rooms: []protocol.RoomInfo{{Name: "lobby", Joined: true}}}
}

func (f *fakeConn) Me() string                 { return f.me }
func (f *fakeConn) Events() <-chan chat.Event  { return f.events }
func (f *fakeConn) Rooms() []protocol.RoomInfo { return f.rooms }
func (f *fakeConn) Nick() string               { return "" }
func (f *fakeConn) Typing(to command.Conv) {
	f.mu.Lock()
	f.typed = append(f.typed, to)
	f.mu.Unlock()
}
func (f *fakeConn) Private() []protocol.PrivateInfo {
	return f.private
}
func (f *fakeConn) Commands() []command.Spec { return command.NewRunner(nil).Commands() }
func (f *fakeConn) Refresh()                 { f.mu.Lock(); f.refreshed++; f.mu.Unlock() }
func (f *fakeConn) TextLimit() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.limit > 0 {
		return f.limit
	}
	return protocol.MaxTextBytes
}
func (f *fakeConn) lastSent() sentText {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sent[len(f.sent)-1]
}
func (f *fakeConn) ranLines() []ranLine {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ranLine(nil), f.ran...)
}
func (f *fakeConn) sentFiles() []sentFile {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sentFile(nil), f.files...)
}
func (f *fakeConn) sentTexts() []sentText {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sentText(nil), f.sent...)
}
func (f *fakeConn) setRun(fn func(command.Conv, string) (*command.Output, command.Conv, error)) {
	f.mu.Lock()
	f.run = fn
	f.mu.Unlock()
}

func (f *fakeConn) Send(ctx context.Context, to command.Conv, text string) error {
	f.mu.Lock()
	f.sent = append(f.sent, sentText{to, text})
	hold, err := f.hold, f.sendErr
	f.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

func (f *fakeConn) SendFile(_ context.Context, to command.Conv, file protocol.File, caption string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files = append(f.files, sentFile{to, file, caption})
	return nil
}

func (f *fakeConn) Run(_ context.Context, cur command.Conv, line string) (*command.Output, command.Conv, error) {
	f.mu.Lock()
	f.ran = append(f.ran, ranLine{cur, line})
	run := f.run
	f.mu.Unlock()
	if run == nil {
		return nil, cur, nil
	}
	return run(cur, line)
}

// fakeTransfers is a file server in memory, as the transfer service
// uses one (files.Remote): the screen's transfers go through the real
// service, with its names, destinations and posting. Each transfer
// reports progress at its half-way point and then waits for release (if
// set) before finishing.
type fakeTransfers struct {
	mu        sync.Mutex
	uploads   map[string][]byte
	downloads []string
	// spaces records, for each upload by name and for each download in
	// order, the other person of the private space it was in ("" for
	// the shared folder).
	upSpace   map[string]string
	downSpace []string
	// present are the files there are, by space and path, besides the
	// uploads.
	present map[[2]string]bool
	release chan struct{}
	started chan string
	// fail, if set, is what every transfer ends with.
	fail error
}

var _ files.Remote = (*fakeTransfers)(nil)

// put makes a file at path in the space shared with with.
func (x *fakeTransfers) put(with, path string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.present == nil {
		x.present = map[[2]string]bool{}
	}
	x.present[[2]string{with, path}] = true
}

func (x *fakeTransfers) Publish(ctx context.Context, with, name string, body io.ReadSeeker, opts files.PublishOptions) (*files.Entry, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	size := int64(len(b))
	opts.Sink.Progress(files.Progress{Op: "upload", Name: name, Done: size / 2, Total: size})
	if x.started != nil {
		x.started <- name
	}
	if x.release != nil {
		select {
		case <-x.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	x.mu.Lock()
	if x.fail != nil {
		x.mu.Unlock()
		return nil, x.fail
	}
	if x.uploads == nil {
		x.uploads, x.upSpace = map[string][]byte{}, map[string]string{}
	}
	x.uploads[name] = b
	x.upSpace[name] = with
	x.mu.Unlock()
	opts.Sink.Progress(files.Progress{Op: "upload", Name: name, Done: size, Total: size, State: "done"})
	return &files.Entry{Name: path.Base(name), Path: name, Size: size}, nil
}

func (x *fakeTransfers) Download(ctx context.Context, with, p, target string, opts files.DownloadOptions) (*files.Downloaded, error) {
	opts.Sink.Progress(files.Progress{Op: "download", Name: p, Done: opts.Size / 2, Total: opts.Size})
	if x.started != nil {
		x.started <- path.Base(p)
	}
	if x.release != nil {
		select {
		case <-x.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	x.mu.Lock()
	x.downloads = append(x.downloads, target)
	x.downSpace = append(x.downSpace, with)
	x.mu.Unlock()
	return &files.Downloaded{Path: target, Remote: p, Size: opts.Size}, nil
}

func (x *fakeTransfers) Stat(_ context.Context, with, p string) (*files.Entry, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	_, up := x.uploads[p]
	if (up && x.upSpace[p] == with) || x.present[[2]string{with, p}] {
		return &files.Entry{Name: path.Base(p), Path: p, Size: int64(len(x.uploads[p]))}, nil
	}
	return nil, &files.Error{Status: 404, Code: "not_found", Message: "no such file in " + files.Place(with) + ": " + p}
}

// harness runs a Model the way bubbletea does, but under the test's
// control: commands run in goroutines and their messages queue up until
// the test delivers them with await.
type harness struct {
	t    *testing.T
	m    *Model
	conn *fakeConn
	xfer *fakeTransfers
	now  time.Time
	msgs chan tea.Msg
	done chan struct{}
}

// failsafe bounds waits so that a bug fails the test instead of hanging
// it; no test depends on how long anything takes.
const failsafe = 20 * time.Second

func newHarness(t *testing.T, opts ...func(*Config)) *harness {
	t.Helper()
	h := &harness{
		t:    t,
		conn: newFakeConn("alice"),
		xfer: &fakeTransfers{},
		now:  time.Date(2026, 11, 22, 15, 4, 0, 0, time.UTC),
		msgs: make(chan tea.Msg, 256),
		done: make(chan struct{}),
	}
	cfg := Config{
		Conn:   h.conn,
		Server: "chat.example:7700",
		Transfers: &files.Transfers{
			Remote: h.xfer,
			// The fake connection records what is posted.
			Post: func(ctx context.Context, to command.Conv, f protocol.File, caption string) error {
				return h.conn.SendFile(ctx, to, f, caption)
			},
			Me:        func() string { return h.conn.Me() },
			Downloads: t.TempDir(),
		},
		Now:          func() time.Time { return h.now },
		Location:     time.UTC,
		Capture:      func() ([]byte, error) { return []byte("png"), nil },
		Sticker:      func(name string) ([]byte, error) { return nil, errors.New("no stickers here") },
		StickerNames: func() []string { return nil },
	}
	for _, o := range opts {
		o(&cfg)
	}
	if fc, ok := cfg.Conn.(*fakeConn); ok {
		h.conn = fc // an option's own fake: the one the screen talks to
	}
	h.m = New(cfg)
	t.Cleanup(func() {
		close(h.done)
		close(h.conn.events)
	})
	h.send(tea.WindowSizeMsg{Width: 100, Height: 30})
	h.run(h.m.Init())
	return h
}

// run starts a command as bubbletea would.
func (h *harness) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() {
		msg := cmd()
		switch msg := msg.(type) {
		case nil:
		case tea.BatchMsg:
			for _, c := range msg {
				h.run(c)
			}
		default:
			if reflect.TypeOf(msg).String() == "tea.sequenceMsg" {
				h.t.Error("sequences are not used")
				return
			}
			select {
			case h.msgs <- msg:
			case <-h.done:
			}
		}
	}()
}

// send delivers a message to Update and starts the command it returns.
func (h *harness) send(msg tea.Msg) {
	h.t.Helper()
	_, cmd := h.m.Update(msg)
	h.run(cmd)
}

// await delivers queued messages until one satisfies ok, and returns it.
func (h *harness) await(what string, ok func(tea.Msg) bool) tea.Msg {
	h.t.Helper()
	deadline := time.After(failsafe)
	for {
		select {
		case msg := <-h.msgs:
			h.send(msg)
			if ok(msg) {
				return msg
			}
		case <-deadline:
			h.t.Fatalf("never got %s", what)
		}
	}
}

// until delivers queued messages until cond holds.
func (h *harness) until(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.After(failsafe)
	for !cond() {
		select {
		case msg := <-h.msgs:
			h.send(msg)
		case <-deadline:
			h.t.Fatalf("never got %s:\n%s", what, h.screen())
		}
	}
}

func awaitType[T tea.Msg](h *harness) T {
	h.t.Helper()
	var zero T
	msg := h.await(reflect.TypeOf(zero).String(), func(m tea.Msg) bool { _, ok := m.(T); return ok })
	return msg.(T)
}

// event delivers a session event and waits until the screen has it.
func (h *harness) event(ev chat.Event) {
	h.t.Helper()
	h.conn.events <- ev
	awaitType[eventMsg](h)
}

func (h *harness) frame(f *protocol.Frame) {
	h.t.Helper()
	h.event(chat.Event{Kind: chat.EvFrame, Frame: f})
}

var nextID uint64 = 100

// message makes a message event.
func (h *harness) message(from, room, to, text string) *protocol.Frame {
	nextID++
	return &protocol.Frame{Type: protocol.TypeMessage, ID: nextID, From: from, Room: room, To: to, Text: text, Time: h.now.UnixMilli()}
}

// key presses a key given as bubbletea names it ("enter", "ctrl+n", "a").
func (h *harness) key(names ...string) {
	h.t.Helper()
	for _, n := range names {
		h.send(keyMsg(n))
	}
}

func keyMsg(name string) tea.KeyPressMsg {
	special := map[string]rune{
		"enter": tea.KeyEnter, "tab": tea.KeyTab, "esc": tea.KeyEscape, "up": tea.KeyUp, "down": tea.KeyDown,
		"left": tea.KeyLeft, "right": tea.KeyRight, "pgup": tea.KeyPgUp, "pgdown": tea.KeyPgDown,
		"backspace": tea.KeyBackspace, "home": tea.KeyHome, "end": tea.KeyEnd, "f1": tea.KeyF1, "f2": tea.KeyF2,
		"f3": tea.KeyF3, "f4": tea.KeyF4, "f6": tea.KeyF6, "space": tea.KeySpace,
	}
	var k tea.Key
	rest := name
	for {
		mod, r, ok := strings.Cut(rest, "+")
		if !ok || len(r) == 0 {
			break
		}
		switch mod {
		case "ctrl":
			k.Mod |= tea.ModCtrl
		case "alt":
			k.Mod |= tea.ModAlt
		case "shift":
			k.Mod |= tea.ModShift
		default:
			panic("unknown modifier " + mod)
		}
		rest = r
	}
	if code, ok := special[rest]; ok {
		k.Code = code
		if rest == "space" && k.Mod == 0 {
			k.Text = " "
		}
		return tea.KeyPressMsg(k)
	}
	k.Code = []rune(rest)[0]
	if k.Mod == 0 {
		k.Text = rest
	}
	return tea.KeyPressMsg(k)
}

// typeText types text one character at a time.
func (h *harness) typeText(s string) {
	h.t.Helper()
	for _, g := range graphemes(s) {
		if g == " " {
			h.send(keyMsg("space"))
			continue
		}
		h.send(tea.KeyPressMsg{Code: []rune(g)[0], Text: g})
	}
}

// screen is the current view without colours.
func (h *harness) screen() string {
	return ansi.Strip(h.m.View().Content)
}

func (h *harness) wantScreen(subs ...string) {
	h.t.Helper()
	s := h.screen()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			h.t.Fatalf("screen lacks %q:\n%s", sub, s)
		}
	}
}

func (h *harness) dontWantScreen(subs ...string) {
	h.t.Helper()
	s := h.screen()
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			h.t.Fatalf("screen shows %q:\n%s", sub, s)
		}
	}
}

// row finds the screen line containing sub.
func (h *harness) row(sub string) string {
	for _, l := range strings.Split(h.screen(), "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

// checkGeometry asserts that every line of the view is exactly as wide
// as the terminal and that there are exactly as many lines as it is high.
func (h *harness) checkGeometry(w, ht int) {
	h.t.Helper()
	lines := strings.Split(h.m.View().Content, "\n")
	if len(lines) != ht {
		h.t.Fatalf("view has %d lines, want %d", len(lines), ht)
	}
	for i, l := range lines {
		if got := ansi.StringWidth(l); got != w {
			h.t.Fatalf("line %d is %d cells wide, want %d: %q", i, got, w, ansi.Strip(l))
		}
	}
}

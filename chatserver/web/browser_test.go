package web_test

// These tests drive the web client in a real browser (Debian's
// chromium, headless, through chromedp) against real chat and file
// servers on 127.0.0.1:0, with a terminal-client peer (client/chat)
// on the other side. One browser serves every test; each test has its
// own tab. A failing test leaves a screenshot, whose path it logs.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"go.uber.org/goleak"

	"github.com/parley-chat/parley/chatserver/server"
	"github.com/parley-chat/parley/chatserver/server/servertest"
	"github.com/parley-chat/parley/client/chat"
	fileserver "github.com/parley-chat/parley/fileserver/server"
	"github.com/parley-chat/parley/shared/protocol"
)

// browser is the shared browser, or nil with browserErr saying why.
var (
	browser    context.Context
	browserErr error
)

// waitLimit bounds every wait, so that a broken client fails instead of
// hanging. It is a safety net, not a performance assertion.
const waitLimit = 30 * time.Second

func TestMain(m *testing.M) {
	var stop func()
	browser, stop, browserErr = startBrowser()
	code := m.Run()
	if stop != nil {
		stop()
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines left running:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func startBrowser() (context.Context, func(), error) {
	path, err := exec.LookPath("chromium")
	if err != nil {
		return nil, nil, err
	}
	profile, err := os.MkdirTemp("", "parley-chromium-")
	if err != nil {
		return nil, nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1280, 800),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	// Start the browser now, so that the first test does not pay for it.
	if err := chromedp.Do(bctx); err != nil {
		bcancel()
		acancel()
		os.RemoveAll(profile)
		return nil, nil, err
	}
	return bctx, func() { bcancel(); acancel(); os.RemoveAll(profile) }, nil
}

// needBrowser fails a test when chromium cannot be started: a test that
// cannot run has not passed.
func needBrowser(t testing.TB) {
	t.Helper()
	if browserErr != nil {
		t.Fatalf("no browser (bash .ci/run installs chromium): %v", browserErr)
	}
}

// env is one test's servers.
type env struct {
	t       *testing.T
	chat    *server.Server
	files   *fileserver.Server
	secret  []byte
	dataDir string
	dir     string // the shared folder
	httpLn  string // the chat server's HTTP address, kept across restarts
	tcpLn   string
	mod     func(*server.Config)
	// cert and key, if set, make both servers speak TLS.
	cert, key string
}

func newEnv(t *testing.T, mod func(*server.Config)) *env {
	t.Helper()
	return startEnv(t, &env{mod: mod})
}

func startEnv(t *testing.T, e *env) *env {
	t.Helper()
	e.t, e.secret, e.dir = t, []byte("0123456789abcdef0123456789abcdef"), t.TempDir()
	scheme := "http://"
	if e.cert != "" {
		scheme = "https://"
	}
	e.dataDir = t.TempDir()
	state := t.TempDir()
	// The chat server's HTTP port is chosen first, so that the file
	// server can allow exactly the web client's origin.
	e.httpLn, e.tcpLn = freePort(t), "127.0.0.1:0"
	var err error
	e.files, err = fileserver.Start(context.Background(), fileserver.Config{
		Addr: "127.0.0.1:0", Dir: e.dir, State: state, Secret: e.secret,
		Settle:       20 * time.Millisecond,
		AllowOrigins: []string{scheme + e.httpLn},
		TLSCert:      e.cert, TLSKey: e.key,
		MinFree:  1,
		DiskFree: func(string) (int64, bool) { return 1 << 40, true },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.files.Shutdown(ctx)
	})
	e.startChat()
	return e
}

func (e *env) startChat() {
	e.t.Helper()
	e.chat = servertest.Start(e.t, func(c *server.Config) {
		c.Addr, c.HTTPAddr = e.tcpLn, e.httpLn
		c.DataDir = e.dataDir
		c.FilesSecret = e.secret
		c.FilesURL = "http://" + e.files.Addr()
		if e.cert != "" {
			c.FilesURL = "https://" + e.files.Addr()
			c.TLSCert, c.TLSKey = e.cert, e.key
		}
		if e.mod != nil {
			e.mod(c)
		}
	})
	e.httpLn, e.tcpLn = e.chat.HTTPAddr(), e.chat.Addr()
}

// restartChat stops the chat server and starts it again on the same
// ports with the same data.
func (e *env) restartChat() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.chat.Shutdown(ctx); err != nil {
		e.t.Fatal(err)
	}
	e.startChat()
}

func (e *env) url() string {
	if e.cert != "" {
		return "https://" + e.httpLn + "/"
	}
	return "http://" + e.httpLn + "/"
}

// peer is a terminal-client session (the client's protocol package).
type peer struct {
	t *testing.T
	s *chat.Session
}

func (e *env) peer(name string) *peer {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	opts := chat.Options{Addr: e.tcpLn, Name: name, Password: "pw-" + name, Reconnect: true}
	if e.cert != "" {
		opts.TLS = &tls.Config{InsecureSkipVerify: true} // the test's own certificate
	}
	s, err := chat.Connect(ctx, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { s.Close() })
	return &peer{t: e.t, s: s}
}

func (p *peer) do(f *protocol.Frame) *protocol.Frame {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	r, err := p.s.Do(ctx, f)
	if err != nil {
		p.t.Fatalf("%s: %v", f.Type, err)
	}
	return r
}

// waitMessage waits for a message event that ok accepts.
func (p *peer) waitMessage(ok func(*protocol.Frame) bool) *protocol.Frame {
	p.t.Helper()
	timeout := time.After(waitLimit)
	for {
		select {
		case ev, open := <-p.s.Events():
			if !open {
				p.t.Fatal("peer session ended")
			}
			if ev.Kind == chat.EvFrame && ev.Frame.Type == protocol.TypeMessage && ok(ev.Frame) {
				return ev.Frame
			}
		case <-timeout:
			p.t.Fatal("peer: no such message arrived")
		}
	}
}

// tab opens a tab of the shared browser at width×height.
func tab(t testing.TB, width, height int64) context.Context {
	t.Helper()
	needBrowser(t)
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(func() {
		if t.Failed() {
			shot(t, ctx, "failure-"+strings.ReplaceAll(t.Name(), "/", "-"))
		}
		cancel()
	})
	var opts []chromedp.EmulateViewportOption
	if width < 500 {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height, opts...)); err != nil {
		t.Fatal(err)
	}
	// Every page records what its Content-Security-Policy blocked.
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.__csp = []; document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));`,
	}); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// shot saves a screenshot of the tab and logs where.
func shot(t testing.TB, ctx context.Context, name string) string {
	dir := os.Getenv("PARLEY_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "parley-web-screenshots")
	}
	os.MkdirAll(dir, 0o755)
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	buf, err := chromedp.Run(sctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	t.Logf("screenshot: %s", path)
	return path
}

// run runs browser actions with the safety-net timeout.
func run(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	rctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	if err := chromedp.Do(rctx, actions...); err != nil {
		t.Fatal(err)
	}
}

// eval evaluates a JavaScript expression (awaiting a promise) and
// decodes its value.
func eval[T any](t testing.TB, ctx context.Context, expr string) T {
	t.Helper()
	rctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	v, err := chromedp.Run(rctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// do runs a JavaScript statement for its effect.
func do(t *testing.T, ctx context.Context, expr string) {
	t.Helper()
	eval[chromedp.Void](t, ctx, expr)
}

// waitJS waits until the JavaScript expression is true.
func waitJS(t *testing.T, ctx context.Context, expr string) {
	t.Helper()
	rctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	if _, err := chromedp.Run(rctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(waitLimit))); err != nil {
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("waiting for %s: %v\npage text:\n%s", expr, err, text)
	}
}

// js quotes s as a JavaScript string.
func js(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x2028 || r == 0x2029:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// messageShown is an expression that is true when a message with this
// text is shown in the current conversation.
func messageShown(text string) string {
	return `[...document.querySelectorAll('#messages .msg .text')].some(e => e.textContent === ` + js(text) + `)`
}

func countShown(t *testing.T, ctx context.Context, text string) int {
	t.Helper()
	return eval[int](t, ctx, `[...document.querySelectorAll('#messages .msg:not(.notice) .text')].filter(e => e.textContent === `+js(text)+`).length`)
}

// login opens the page and logs in (registering the name).
func login(t *testing.T, ctx context.Context, e *env, name string) {
	t.Helper()
	run(t, ctx,
		chromedp.Navigate(e.url()),
		chromedp.WaitVisible(chromedp.ID("login-name")),
		chromedp.SendKeys(chromedp.ID("login-name"), name),
		chromedp.SendKeys(chromedp.ID("login-password"), "pw-"+name),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("messages")),
	)
	waitJS(t, ctx, `document.getElementById('conn-text').textContent === 'online'`)
}

// say types text into the message box and sends it with Enter.
func say(t *testing.T, ctx context.Context, text string) {
	t.Helper()
	run(t, ctx,
		chromedp.Focus(chromedp.ID("input")),
		chromedp.SetValue(chromedp.ID("input"), text),
		pressEnter(),
	)
}

// pressEnter presses and releases Enter as a keyboard does: a keyDown
// that carries the text, which the page may cancel, and a keyUp.
// (chromedp.SendKeys adds a separate "char" event, which types a newline
// even after the page cancelled the key, and lands on whatever has the
// focus by then.)
func pressEnter() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeKeyDown, input.DispatchKeyEventTypeKeyUp} {
			p := input.DispatchKeyEventParams{Type: typ, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13}
			if typ == input.DispatchKeyEventTypeKeyDown {
				p.Text, p.UnmodifiedText = "\r", "\r"
			}
			if _, err := chromedp.Call(ctx, input.DispatchKeyEvent, p); err != nil {
				return err
			}
		}
		return nil
	})
}

func TestLoginSendReceivePrivate(t *testing.T) {
	e := newEnv(t, nil)
	bob := e.peer("bob")
	ctx := tab(t, 1280, 800)
	login(t, ctx, e, "alice")
	// The browser sends to the lobby; the terminal peer receives it.
	say(t, ctx, "hello from the browser :tada:")
	got := bob.waitMessage(func(f *protocol.Frame) bool { return f.From == "alice" })
	if got.Text != "hello from the browser 🎉" || got.Room != "lobby" {
		t.Fatalf("bob got %+v", got)
	}
	waitJS(t, ctx, messageShown("hello from the browser 🎉"))
	if v := eval[string](t, ctx, `document.getElementById('input').value`); v != "" {
		t.Fatalf("the message box holds %q after sending", v)
	}

	// The peer answers; the browser shows it once.
	bob.do(&protocol.Frame{Type: protocol.TypeSend, Room: "lobby", Text: "hi alice, from the terminal", Key: chat.NewKey()})
	waitJS(t, ctx, messageShown("hi alice, from the terminal"))
	if n := countShown(t, ctx, "hi alice, from the terminal"); n != 1 {
		t.Fatalf("shown %d times", n)
	}

	// The member list shows bob online; clicking him opens a private
	// conversation.
	run(t, ctx, chromedp.Click(chromedp.ID("toggle-members")))
	waitJS(t, ctx, `[...document.querySelectorAll('#member-list button')].some(b => b.textContent === 'bob')`)
	do(t, ctx, `[...document.querySelectorAll('#member-list button')].find(b => b.textContent === 'bob').click()`)
	waitJS(t, ctx, `document.getElementById('conv-title').textContent === '@bob'`)
	say(t, ctx, "just between us")
	got = bob.waitMessage(func(f *protocol.Frame) bool { return f.From == "alice" && f.To != "" })
	if got.Text != "just between us" || got.To != "bob" {
		t.Fatalf("bob got %+v", got)
	}
	bob.do(&protocol.Frame{Type: protocol.TypeSend, To: "alice", Text: "private reply", Key: chat.NewKey()})
	waitJS(t, ctx, messageShown("private reply"))

	// A private message while the lobby is open counts as unread there.
	do(t, ctx, `document.querySelector('#conv-list button').click()`)
	waitJS(t, ctx, `document.getElementById('conv-title').textContent === '#lobby'`)
	bob.do(&protocol.Frame{Type: protocol.TypeSend, To: "alice", Text: "are you there, alice?", Key: chat.NewKey()})
	waitJS(t, ctx, `[...document.querySelectorAll('#conv-list .badge')].some(b => b.textContent === '@1')`)
	waitJS(t, ctx, `document.title === '(1) Parley'`)

	// Slash commands: /join makes and enters a room the browser owns.
	say(t, ctx, "/join #webroom")
	waitJS(t, ctx, `document.getElementById('conv-title').textContent === '#webroom'`)
	waitJS(t, ctx, `document.getElementById('conv-sub').textContent === 'owner: alice'`)

	// Recall from the message's menu: everyone sees a tombstone.
	bob.do(&protocol.Frame{Type: protocol.TypeJoin, Room: "webroom"})
	say(t, ctx, "oops, wrong room")
	waitJS(t, ctx, messageShown("oops, wrong room"))
	bob.waitMessage(func(f *protocol.Frame) bool { return f.Text == "oops, wrong room" })
	run(t, ctx, chromedp.Click(chromedp.CSS(`#messages .msg.mine:last-of-type button.actions`)))
	run(t, ctx, chromedp.Click(chromedp.CSS(`#messages .msg.mine:last-of-type .menu button`)))
	waitJS(t, ctx, `!`+messageShown("oops, wrong room")+` && document.querySelector('#messages .msg.mine:last-of-type .body').textContent === 'message recalled'`)

	// The owner kicks bob from the member list and lets him back.
	run(t, ctx, chromedp.Click(chromedp.CSS(`#member-list button[aria-label="Kick bob"]`)))
	waitJS(t, ctx, `!!document.querySelector('#banned button[aria-label="Unban bob"]')`)
	if _, err := bob.s.Do(context.Background(), &protocol.Frame{Type: protocol.TypeJoin, Room: "webroom"}); err == nil || !strings.Contains(err.Error(), "banned") {
		t.Fatalf("bob's join after the kick: %v", err)
	}
	run(t, ctx, chromedp.Click(chromedp.CSS(`#banned button[aria-label="Unban bob"]`)))
	waitJS(t, ctx, `!document.querySelector('#banned button')`)
	bob.do(&protocol.Frame{Type: protocol.TypeJoin, Room: "webroom"})
	waitJS(t, ctx, `[...document.querySelectorAll('#member-list button')].some(b => b.textContent === 'bob')`)

	// Presence is live: bob's going offline shows in the member list.
	waitJS(t, ctx, `!!document.querySelector('#member-list button[aria-label="Private conversation with bob, online"]')`)
	bob.s.Close()
	waitJS(t, ctx, `!!document.querySelector('#member-list button[aria-label="Private conversation with bob, offline"]')`)
}

func TestHistoryOnScroll(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.JoinHistory = 10 })
	bob := e.peer("bob")
	for i := 1; i <= 80; i++ {
		bob.do(&protocol.Frame{Type: protocol.TypeSend, Room: "lobby", Text: fmt.Sprintf("old message %d", i), Key: chat.NewKey()})
	}
	ctx := tab(t, 1280, 800)
	login(t, ctx, e, "carol")
	waitJS(t, ctx, messageShown("old message 80"))
	if countShown(t, ctx, "old message 1") != 0 {
		t.Fatal("the first message was shown before scrolling back")
	}
	// Scrolling to the top loads older pages until the start.
	// Each scroll waits for its page to show (more messages, or the
	// start), so that a slow page is not scrolled past.
	for i := 0; i < 10; i++ {
		n := eval[int](t, ctx, `document.querySelectorAll('#messages .msg:not(.notice)').length`)
		do(t, ctx, `document.getElementById('messages').scrollTop = 0; document.getElementById('messages').dispatchEvent(new Event('scroll'))`)
		if eval[bool](t, ctx, messageShown("old message 1")) {
			break
		}
		waitJS(t, ctx, fmt.Sprintf(`document.querySelectorAll('#messages .msg:not(.notice)').length > %d || document.querySelector('#messages .start').textContent.startsWith('This is the start')`, n))
	}
	waitJS(t, ctx, messageShown("old message 1"))
	waitJS(t, ctx, `document.querySelector('#messages .start').textContent === 'This is the start of the conversation.'`)
	// One day, one separator, above the first message.
	if n := eval[int](t, ctx, `document.querySelectorAll('#messages .day').length`); n != 1 {
		t.Fatalf("%d day separators", n)
	}
	for _, text := range []string{"old message 1", "old message 40", "old message 80"} {
		if n := countShown(t, ctx, text); n != 1 {
			t.Fatalf("%q shown %d times", text, n)
		}
	}
}

func TestUploadAndFolder(t *testing.T) {
	e := newEnv(t, nil)
	ctx := tab(t, 1280, 800)
	login(t, ctx, e, "dora")
	run(t, ctx, chromedp.Click(chromedp.ID("toggle-files")))
	waitJS(t, ctx, `document.getElementById('file-list').textContent.includes('Nothing here yet')`)

	// Upload through the file button (the input it opens).
	src := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(src, []byte(strings.Repeat("parley notes\n", 1000)), 0o644)
	run(t, ctx, chromedp.SetUploadFiles(chromedp.ID("file-input"), []string{src}))
	waitJS(t, ctx, `[...document.querySelectorAll('#messages .file button')].some(b => b.textContent.startsWith('📄 notes.txt'))`)
	waitJS(t, ctx, `[...document.querySelectorAll('#file-list button')].some(b => b.textContent === 'notes.txt')`)
	if b, err := os.ReadFile(filepath.Join(e.dir, "notes.txt")); err != nil || string(b) != strings.Repeat("parley notes\n", 1000) {
		t.Fatalf("the file server holds %d bytes, %v", len(b), err)
	}

	// The same name again gets a free name; /upload -f replaces one's own.
	os.WriteFile(src, []byte("second version"), 0o644)
	run(t, ctx, chromedp.SetUploadFiles(chromedp.ID("file-input"), []string{src}))
	waitJS(t, ctx, `[...document.querySelectorAll('#file-list button')].some(b => b.textContent === 'notes (1).txt')`)
	say(t, ctx, "/upload -f")
	os.WriteFile(src, []byte("third version"), 0o644)
	run(t, ctx, chromedp.SetUploadFiles(chromedp.ID("file-input"), []string{src}))
	waitJS(t, ctx, `[...document.querySelectorAll('#messages .file button')].filter(b => b.textContent.startsWith('📄 notes.txt')).length === 2`)
	if b, _ := os.ReadFile(filepath.Join(e.dir, "notes.txt")); string(b) != "third version" {
		t.Fatalf("after /upload -f the folder holds %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(e.dir, "notes (1).txt")); string(b) != "second version" {
		t.Fatalf("notes (1).txt holds %q", b)
	}

	// A file copied into the folder by hand appears live, through the
	// event stream.
	os.WriteFile(filepath.Join(e.dir, "by-hand.txt"), []byte("hello"), 0o644)
	waitJS(t, ctx, `[...document.querySelectorAll('#file-list button')].some(b => b.textContent === 'by-hand.txt')`)

	// A pasted image is uploaded and shown as a thumbnail.
	do(t, ctx, `(async () => {
		const r = await fetch('/stickers/cat.png');
		const blob = await r.blob();
		const dt = new DataTransfer();
		dt.items.add(new File([blob], 'image.png', {type: 'image/png'}));
		document.getElementById('input').dispatchEvent(new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, cancelable: true}));
	})()`)
	waitJS(t, ctx, `[...document.querySelectorAll('#messages img.thumb')].some(i => i.complete && i.naturalWidth > 0 && i.src.startsWith('blob:'))`)
	waitJS(t, ctx, `[...document.querySelectorAll('#file-list button')].some(b => b.textContent.startsWith('screenshot-'))`)

	// Deleting one's own file removes it from the panel, live.
	do(t, ctx, `window.confirm = () => true; document.querySelector('#file-list button[aria-label="Delete notes.txt"]').click()`)
	waitJS(t, ctx, `![...document.querySelectorAll('#file-list button')].some(b => b.textContent === 'notes.txt')`)
	if _, err := os.Stat(filepath.Join(e.dir, "notes.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("notes.txt is still there: %v", err)
	}
	// Uploads, the event stream and thumbnails all keep to the policy.
	if v := eval[[]string](t, ctx, `window.__csp`); len(v) > 0 {
		t.Errorf("Content-Security-Policy violations: %q", v)
	}
}

func TestReconnectAfterRestart(t *testing.T) {
	e := newEnv(t, nil)
	ctx := tab(t, 1280, 800)
	login(t, ctx, e, "erin")
	say(t, ctx, "before the restart")
	waitJS(t, ctx, messageShown("before the restart"))

	// The chat server goes down; what is typed meanwhile waits in the
	// outbox, and the page says it is reconnecting, with a countdown.
	ctxS, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a bound for a loaded machine, not a measure
	if err := e.chat.Shutdown(ctxS); err != nil {
		t.Fatal(err)
	}
	cancel()
	waitJS(t, ctx, `document.getElementById('conn-text').textContent.includes('Reconnecting in')`)
	waitJS(t, ctx, `!document.getElementById('reconnect-now').hidden`)
	say(t, ctx, "typed while the server was down")
	waitJS(t, ctx, `document.getElementById('outbox').textContent.includes('typed while the server was down')`)

	e.startChat()
	// A peer who speaks before the browser is back: the catch-up brings it.
	frank := e.peer("frank")
	frank.do(&protocol.Frame{Type: protocol.TypeSend, Room: "lobby", Text: "said while erin was away", Key: chat.NewKey()})
	// Reconnect now, unless the countdown has run out already (the
	// button is tested in TestTakeover, where nothing reconnects by itself).
	do(t, ctx, `(() => { const b = document.getElementById('reconnect-now'); if (!b.hidden) b.click(); })()`)
	waitJS(t, ctx, `document.getElementById('conn-text').textContent === 'online'`)
	waitJS(t, ctx, messageShown("typed while the server was down"))
	waitJS(t, ctx, messageShown("said while erin was away"))
	waitJS(t, ctx, `document.getElementById('outbox').textContent === ''`)
	for _, text := range []string{"before the restart", "typed while the server was down", "said while erin was away"} {
		if n := countShown(t, ctx, text); n != 1 {
			t.Fatalf("%q shown %d times", text, n)
		}
	}
	// The server stored the queued message once.
	frank.do(&protocol.Frame{Type: protocol.TypeHistory, Room: "lobby", Limit: 50})
	frank.s.Barrier()
	n := 0
	for ev := range frank.s.Events() {
		if ev.Kind == chat.EvMark {
			close(ev.Mark)
			break
		}
		if ev.Kind == chat.EvFrame && ev.Frame.Type == protocol.TypeMessage && ev.Frame.Text == "typed while the server was down" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("the message typed while the server was down reached the peer %d times", n)
	}

	// /refresh reconnects at once; a message sent just before it, not
	// yet answered, goes again on the new connection and is stored once.
	do(t, ctx, `(() => {
		const input = document.getElementById('input');
		for (const line of ['sent as the refresh began', '/refresh']) {
			input.value = line;
			input.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true, cancelable: true}));
		}
	})()`)
	got := frank.waitMessage(func(f *protocol.Frame) bool { return f.From == "erin" })
	if got.Text != "sent as the refresh began" {
		t.Fatalf("frank got %q", got.Text)
	}
	waitJS(t, ctx, `[...document.querySelectorAll('#messages .notice .text')].filter(n => n.textContent === 'Reconnected.').length === 2`)
	say(t, ctx, "after the refresh")
	if got := frank.waitMessage(func(f *protocol.Frame) bool { return f.From == "erin" }); got.Text != "after the refresh" {
		t.Fatalf("frank got %q after the refresh: the message before it came twice?", got.Text)
	}
	if n := countShown(t, ctx, "sent as the refresh began"); n != 1 {
		t.Fatalf("shown %d times", n)
	}
}

func TestTakeover(t *testing.T) {
	e := newEnv(t, nil)
	ctx := tab(t, 1280, 800)
	login(t, ctx, e, "gus")
	term := e.peer("gus") // the same name and password, from the terminal
	waitJS(t, ctx, `!document.getElementById('banner').hidden && document.getElementById('banner').textContent.includes('somewhere else')`)
	waitJS(t, ctx, `document.getElementById('reconnect-now').textContent === 'Log in here again'`)
	state := eval[string](t, ctx, `document.getElementById('conn-dot').className`)
	if state != "dot replaced" {
		t.Fatalf("connection state %q", state)
	}
	// Only the person's click logs in here again, and then the terminal
	// is the one told.
	run(t, ctx, chromedp.Click(chromedp.ID("reconnect-now")))
	waitJS(t, ctx, `document.getElementById('conn-text').textContent === 'online' && document.getElementById('banner').hidden`)
	timeout := time.After(waitLimit)
	for replaced := false; !replaced; {
		select {
		case ev := <-term.s.Events():
			replaced = ev.Kind == chat.EvFrame && ev.Frame.Type == protocol.TypeReplaced
		case <-timeout:
			t.Fatal("the terminal session was not replaced")
		}
	}
}

func TestHostileContent(t *testing.T) {
	e := newEnv(t, nil)
	mallory := e.peer("mallory")
	ctx := tab(t, 390, 844)
	login(t, ctx, e, "henry")
	long := strings.Repeat("W", 4000)
	for _, text := range []string{
		`<img src=x onerror="window.__pwned='img'">`,
		`<script>window.__pwned='script'</script>`,
		`javascript:window.__pwned='link' and javascript:alert(1)`,
		`see https://example.org/page?q=1 and <a href="javascript:window.__pwned='a'">this</a>`,
		long,
	} {
		mallory.do(&protocol.Frame{Type: protocol.TypeSend, Room: "lobby", Text: text, Key: chat.NewKey()})
	}
	// Names, room names and topics are the server's strings too.
	evil := e.peer("<img/src=x/onerror=__pwned=1>")
	evil.do(&protocol.Frame{Type: protocol.TypeSend, Room: "lobby", Text: "hi from a name", Key: chat.NewKey()})
	evil.do(&protocol.Frame{Type: protocol.TypeSend, To: "henry", Text: "and privately", Key: chat.NewKey()})
	say(t, ctx, "/join <svg/onload=__pwned=2>")
	waitJS(t, ctx, `document.getElementById('conv-title').textContent === '#<svg/onload=__pwned=2>'`)
	say(t, ctx, "/switch #lobby")
	waitJS(t, ctx, `document.getElementById('conv-title').textContent === '#lobby'`)
	waitJS(t, ctx, `[...document.querySelectorAll('#conv-list .name')].some(n => n.textContent === '@<img/src=x/onerror=__pwned=1>')`)
	waitJS(t, ctx, messageShown("hi from a name"))
	waitJS(t, ctx, messageShown(long))
	waitJS(t, ctx, messageShown(`<img src=x onerror="window.__pwned='img'">`))
	type result struct {
		Pwned   any      `json:"pwned"`
		Imgs    int      `json:"imgs"`
		Scripts int      `json:"scripts"`
		Hrefs   []string `json:"hrefs"`
		PageW   int      `json:"pageW"`
		ViewW   int      `json:"viewW"`
		BoxW    int      `json:"boxW"`
		BoxCW   int      `json:"boxCW"`
	}
	res := eval[result](t, ctx, `({
		pwned: window.__pwned ?? null,
		imgs: document.querySelectorAll('#app img:not(.thumb):not(#sticker-grid img), #app svg').length,
		scripts: document.querySelectorAll('#app script, #app b').length,
		hrefs: [...document.querySelectorAll('#messages a')].map(a => a.href),
		pageW: document.documentElement.scrollWidth,
		viewW: window.innerWidth,
		boxW: document.getElementById('messages').scrollWidth,
		boxCW: document.getElementById('messages').clientWidth,
	})`)
	if res.Pwned != nil || res.Imgs != 0 || res.Scripts != 0 {
		t.Fatalf("hostile text was run or parsed: %+v", res)
	}
	if len(res.Hrefs) != 1 || res.Hrefs[0] != "https://example.org/page?q=1" {
		t.Fatalf("links: %q", res.Hrefs)
	}
	if res.PageW > res.ViewW || res.BoxW > res.BoxCW {
		t.Fatalf("the layout is wider than the screen: page %d of %d, messages %d of %d", res.PageW, res.ViewW, res.BoxW, res.BoxCW)
	}
	// A CSP that forbids inline script is in force: an inline script
	// added to the page does not run.
	do(t, ctx, `(() => { const s = document.createElement('script'); s.textContent = "window.__pwned='inline'"; document.body.append(s); })()`)
	pwned := eval[any](t, ctx, `window.__pwned ?? null`)
	if pwned != nil {
		t.Fatalf("an inline script ran: %v", pwned)
	}
	waitJS(t, ctx, `window.__csp.some(v => v.startsWith('script-src') && v.endsWith(' inline'))`)
}

// freePort finds a port for a server that must come back on the same one.
func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// What is typed faster than the server's rate limit waits its turn: every
// line is stored once, in order, and the connection is never closed as a
// flood.
func TestPacedToRateLimit(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.Limits = protocol.Limits{RatePerSec: 4, RateBurst: 4} })
	bob := e.peer("bob")
	ctx := tab(t, 1280, 800)
	login(t, ctx, e, "mia")
	const n = 20
	do(t, ctx, `(() => {
		const input = document.getElementById('input');
		for (let i = 1; i <= `+fmt.Sprint(n)+`; i++) {
			input.value = 'line ' + i;
			input.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true, cancelable: true}));
		}
	})()`)
	for i := 1; i <= n; i++ {
		got := bob.waitMessage(func(f *protocol.Frame) bool { return f.From == "mia" })
		if want := fmt.Sprintf("line %d", i); got.Text != want {
			t.Fatalf("bob got %q, want %q", got.Text, want)
		}
	}
	waitJS(t, ctx, messageShown(fmt.Sprintf("line %d", n)))
	waitJS(t, ctx, `document.getElementById('outbox').textContent === ''`)
	if s := eval[string](t, ctx, `document.getElementById('conn-text').textContent`); s != "online" {
		t.Fatalf("connection: %s", s)
	}
	if notes := eval[string](t, ctx, `[...document.querySelectorAll('#messages .notice')].map(n => n.textContent).join('\n')`); strings.Contains(notes, "Not sent") || strings.Contains(notes, "Reconnect") {
		t.Fatalf("notices: %s", notes)
	}
	for i := 1; i <= n; i++ {
		if c := countShown(t, ctx, fmt.Sprintf("line %d", i)); c != 1 {
			t.Fatalf("line %d shown %d times", i, c)
		}
	}
}

// A wrong password is refused with the server's reason and the form
// stays; the right one logs in. A reload of the tab logs back in with
// its token, shows the history, and Log out forgets the token.
func TestLoginErrorsReloadLogout(t *testing.T) {
	e := newEnv(t, nil)
	e.peer("pat").s.Close() // registers pat with the password "pw-pat"
	ctx := tab(t, 1280, 800)
	run(t, ctx,
		chromedp.Navigate(e.url()),
		chromedp.WaitVisible(chromedp.ID("login-name")),
		chromedp.Click(chromedp.ID("login-submit")),
	)
	waitJS(t, ctx, `document.getElementById('login-error').textContent === 'Type a name and a password.'`)

	// With the chat server down, the form says it cannot reach it.
	ctxS, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if err := e.chat.Shutdown(ctxS); err != nil {
		t.Fatal(err)
	}
	cancel()
	run(t, ctx,
		chromedp.SendKeys(chromedp.ID("login-name"), "pat"),
		chromedp.SendKeys(chromedp.ID("login-password"), "pw-pat"),
		chromedp.Click(chromedp.ID("login-submit")),
	)
	waitJS(t, ctx, `document.getElementById('login-error').textContent.startsWith('Could not reach the chat server at ') && !document.getElementById('login-submit').disabled`)
	e.startChat()
	do(t, ctx, `document.getElementById('login-name').value = ''`)
	run(t, ctx,
		chromedp.SendKeys(chromedp.ID("login-name"), "pat"),
		chromedp.SendKeys(chromedp.ID("login-password"), "not-the-password"),
		chromedp.Click(chromedp.ID("login-submit")),
	)
	waitJS(t, ctx, `document.getElementById('login-error').textContent.includes('wrong password') && !document.getElementById('login').hidden`)
	if v := eval[string](t, ctx, `document.getElementById('login-name').value`); v != "pat" {
		t.Fatalf("the name field holds %q after the refusal", v)
	}
	run(t, ctx,
		chromedp.SendKeys(chromedp.ID("login-password"), "pw-pat"),
		chromedp.Click(chromedp.ID("login-submit")),
	)
	waitJS(t, ctx, `document.getElementById('conn-text').textContent === 'online'`)
	say(t, ctx, "said before the reload")
	waitJS(t, ctx, messageShown("said before the reload"))
	if tok := eval[string](t, ctx, `sessionStorage.getItem('parley.token') || ''`); tok == "" || strings.Contains(eval[string](t, ctx, `location.href`), tok) {
		t.Fatal("the token is not in sessionStorage, or is in the URL")
	}

	run(t, ctx, chromedp.Reload())
	waitJS(t, ctx, `document.getElementById('login').hidden && document.getElementById('conn-text').textContent === 'online'`)
	waitJS(t, ctx, messageShown("said before the reload"))
	if n := countShown(t, ctx, "said before the reload"); n != 1 {
		t.Fatalf("shown %d times after the reload", n)
	}

	// Log out reloads the page: wait for the new one's form.
	lctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	if _, err := chromedp.Run(lctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.ID("logout")))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `!document.getElementById('login').hidden && sessionStorage.getItem('parley.token') === null`)
}

// Whatever the text, the page shows exactly it: random strings from
// scripts of every direction, combining marks, joiners, markup and
// entities come back from the page's text as they were sent.
func TestTextShownAsSent(t *testing.T) {
	e := newEnv(t, nil)
	quinn := e.peer("quinn")
	ctx := tab(t, 1280, 800)
	login(t, ctx, e, "rosa")
	pieces := []string{"<", ">", "&amp;", "&lt;b&gt;", "\"", "'", "`", "</div>", "<!--", "-->", "${x}", "\\", "\u202e", "\u200d",
		"\u0301", "ﷺ", "مرحبا", "שלום", "李雷", "👩‍👩‍👧", "🏳️‍🌈", "e\u0301", " ", "  ", "\t", "\n", "x", "javascript:", "http://", "https://a.b/c?d=e&f=<g>",
		"<svg onload=alert(1)>", "\u00a0", "\ufeff", "𝕏", "ǅ", "İ", "ß", ":tada", ":", "/"}
	rng := mathrand.New(mathrand.NewPCG(17, 29))
	var sent []string
	for i := 0; i < 40; i++ {
		var b strings.Builder
		b.WriteString(fmt.Sprintf("m%d ", i))
		for j := rng.IntN(12); j >= 0; j-- {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		text := b.String()
		quinn.do(&protocol.Frame{Type: protocol.TypeSend, Room: "lobby", Text: text, Key: chat.NewKey()})
		sent = append(sent, text)
	}
	waitJS(t, ctx, messageShown(sent[len(sent)-1]))
	shown := eval[[]string](t, ctx, `[...document.querySelectorAll('#messages .msg:not(.notice) .text')].map(e => e.textContent)`)
	if len(shown) != len(sent) {
		t.Fatalf("%d messages shown, %d sent", len(shown), len(sent))
	}
	for i := range sent {
		if shown[i] != sent[i] {
			t.Errorf("message %d: shown %q, sent %q", i, shown[i], sent[i])
		}
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('#messages svg, #messages script, #messages div:not(.msg):not(.head):not(.body):not(.day):not(.file):not(.menu):not(.reactions)').length`); n != 0 {
		t.Errorf("%d elements made from the text", n)
	}
}

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/resources"
)

// TestTUIInTmux drives the real full-screen client in tmux, with a
// line-mode client as the other person, a real file server, and an X
// server to take screenshots of.
func TestTUIInTmux(t *testing.T) {
	needTool(t, "tmux")
	xvfb := needTool(t, "Xvfb")

	data := t.TempDir()
	shared := t.TempDir()
	files := startFiles(t, filepath.Join(data, "secret"), shared)
	srv := startChat(t, data, "-files-url", "http://"+files, "-history", "3")
	display := tuiStartXvfb(t, xvfb)
	peer := connected(t, srv.addr, "bob")

	home := t.TempDir()
	env := []string{
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, "config"),
		"DISPLAY=" + display,
		"WAYLAND_DISPLAY=",
		"XDG_SESSION_TYPE=x11",
		"LANG=C.UTF-8",
	}
	tm := tuiStartTmux(t, home)

	// First run: name and password given; the screen comes up.
	tm.run(append(env, "PARLEY_PASSWORD=pw-小明"), "-server", srv.addr, "-name", "小明")
	tm.waitScreen("● connected")
	tm.waitScreen("小明 @ " + srv.addr)

	// A shortcode typed here arrives as an emoji.
	tm.typeText("hello :tada: 你好")
	tm.keys("Enter")
	peer.waitEvent("the emoji message", isMessage("hello 🎉 你好"))

	// The other person's message shows on the screen.
	peer.send("hi 小明 from bob :wave:")
	tm.waitScreen("bob │ hi 小明 from bob 👋")

	// F4 takes a screenshot, uploads it to the shared folder and posts it.
	tm.keys("F4")
	shot := waitFile(t, shared, regexp.MustCompile(`^screenshot-.*\.png$`))
	b, err := os.ReadFile(filepath.Join(shared, shot))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if got := img.Bounds().Size(); got.X != 640 || got.Y != 480 {
		t.Errorf("the screenshot is %v, want the 640x480 display", got)
	}
	e := peer.waitEvent("the screenshot message", isFileMessage(shot))
	if e.str("from") != "小明" {
		t.Errorf("the screenshot was posted by %q", e.str("from"))
	}
	tm.waitScreen("📎 " + shot)

	// A sticker is a file message with the shipped picture.
	tm.typeText("/sticker heart")
	tm.keys("Enter")
	peer.waitEvent("the sticker", isFileMessage("sticker-heart.png"))
	want, _ := resources.Sticker("heart")
	if got, _ := os.ReadFile(filepath.Join(shared, "sticker-heart.png")); !bytes.Equal(got, want) {
		t.Error("the shared sticker is not the shipped image")
	}
	tm.waitScreen("sticker heart")

	// /help shows in the conversation; /quit leaves cleanly.
	tm.typeText("/help")
	tm.keys("Enter")
	tm.waitScreen("F2 (alt+u)")
	tm.typeText("/quit")
	tm.keys("Enter")
	tm.waitExit(0)

	// The server and name are remembered; the password never is; the
	// resume token is private to the user.
	conf := filepath.Join(home, "config", "parley")
	login, err := os.ReadFile(filepath.Join(conf, "login.json"))
	if err != nil {
		t.Fatal(err)
	}
	var saved struct{ Server, Name string }
	json.Unmarshal(login, &saved)
	if saved.Server != srv.addr || saved.Name != "小明" {
		t.Errorf("remembered %+v", saved)
	}
	st, err := os.Stat(filepath.Join(conf, "sessions.json"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("sessions.json has mode %v, want 0600", st.Mode().Perm())
	}
	filepath.Walk(conf, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte("pw-小明")) {
				t.Errorf("%s holds the password", p)
			}
		}
		return nil
	})

	// While 小明 is away, bob says five things.
	for i := 1; i <= 5; i++ {
		peer.send(fmt.Sprintf("while away %d", i))
	}
	peer.waitEvent("bob's last message", isMessage("while away 5"))

	// Second run: no flags, no password: the saved session logs in. The
	// lobby shows its newest three messages (-history 3), and /history
	// pages back from the oldest of them.
	tm.run(env)
	tm.waitScreen("● connected")
	tm.waitScreen("小明 @ " + srv.addr)
	tm.waitScreen("bob │ while away 3")
	if s := tm.screen(); strings.Contains(s, "while away 2") {
		t.Fatalf("more than the newest three shown at login:\n%s", s)
	}
	tm.typeText("/history 2")
	tm.keys("Enter")
	tm.waitScreen("bob │ while away 1")
	tm.waitScreen("bob │ while away 2")
	tm.typeText("/quit")
	tm.keys("Enter")
	tm.waitExit(0)

	// Third run: the saved session is gone, so the form asks for the
	// password, with the server and the name filled in.
	os.Remove(filepath.Join(conf, "sessions.json"))
	tm.run(env)
	tm.waitScreen("Password")
	tm.waitScreen("Server      " + srv.addr)
	tm.waitScreen("Name        小明")
	tm.typeText("wrong")
	tm.keys("Enter")
	tm.waitScreen("wrong password")
	tm.keys("C-u")
	tm.typeText("pw-小明")
	tm.keys("Enter")
	tm.waitScreen("● connected")
	tm.keys("C-c")
	tm.waitExit(0)
}

func isFileMessage(name string) func(event) bool {
	return func(e event) bool {
		f, _ := e["file"].(map[string]any)
		n, _ := f["name"].(string)
		return e.str("type") == "message" && e.str("kind") == "file" && n == name
	}
}

// waitFile waits for a file whose name matches re to appear in dir.
func waitFile(t *testing.T, dir string, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if re.MatchString(e.Name()) {
				return e.Name()
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no file matching %s in %s", re, dir)
	return ""
}

// tuiStartXvfb starts an X server on a free display. -noreset keeps it
// up between clients; without it, every other capture fails.
func tuiStartXvfb(t *testing.T, xvfb string) string {
	t.Helper()
	for n := 100 + os.Getpid()%300; n < 1000; n++ {
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X%d-lock", n)); err == nil {
			continue
		}
		cmd := exec.Command(xvfb, fmt.Sprintf(":%d", n), "-noreset", "-nolisten", "tcp", "-screen", "0", "640x480x24")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		sock := fmt.Sprintf("/tmp/.X11-unix/X%d", n)
		deadline := time.Now().Add(waitLimit)
		for {
			if _, err := os.Stat(sock); err == nil {
				t.Cleanup(func() { cmd.Process.Kill(); <-done })
				return fmt.Sprintf(":%d", n)
			}
			select {
			case <-done:
			case <-time.After(50 * time.Millisecond):
				if time.Now().Before(deadline) {
					continue
				}
				cmd.Process.Kill()
				<-done
				t.Fatal("Xvfb did not start")
			}
			break // it exited: the display was taken meanwhile
		}
	}
	t.Fatal("no free X display")
	return ""
}

// tuiTmux is a tmux server of the test's own, with one window at a time
// running the client.
type tuiTmux struct {
	t      *testing.T
	socket string
	dir    string
	runs   int
}

func tuiStartTmux(t *testing.T, dir string) *tuiTmux {
	tm := &tuiTmux{t: t, socket: filepath.Join(dir, "tmux.sock"), dir: dir}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last screen:\n%s", tm.screen())
		}
		exec.Command("tmux", "-S", tm.socket, "kill-server").Run()
	})
	return tm
}

func (tm *tuiTmux) tmux(args ...string) string {
	tm.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", tm.socket}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// run starts the client in a new 120×36 window; the window stays after
// the client exits, and its exit code is written to a file.
func (tm *tuiTmux) run(env []string, args ...string) {
	tm.t.Helper()
	tm.runs++
	exitFile := filepath.Join(tm.dir, fmt.Sprintf("exit-%d", tm.runs))
	var sh strings.Builder
	fmt.Fprintf(&sh, "cd %s && env", shellQuote(tm.dir))
	for _, e := range env {
		sh.WriteString(" " + shellQuote(e))
	}
	sh.WriteString(" " + shellQuote(filepath.Join(bin, "client")))
	for _, a := range args {
		sh.WriteString(" " + shellQuote(a))
	}
	fmt.Fprintf(&sh, " 2>%s; echo $? > %s; sleep 600", shellQuote(exitFile+".stderr"), shellQuote(exitFile))
	if tm.runs == 1 {
		tm.tmux("new-session", "-d", "-s", "parley", "-x", "120", "-y", "36", sh.String())
		return
	}
	// A new window, then the old one goes. Killing the session's only
	// window first would end the tmux server, which might still be on
	// its way out when the next command reaches its socket.
	tm.tmux("new-window", "-t", "parley", sh.String())
	tm.tmux("kill-window", "-a", "-t", "parley")
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func (tm *tuiTmux) screen() string {
	out, _ := exec.Command("tmux", "-S", tm.socket, "capture-pane", "-p", "-t", "parley").CombinedOutput()
	return string(out)
}

// waitScreen waits until the screen shows s.
func (tm *tuiTmux) waitScreen(s string) {
	tm.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !strings.Contains(tm.screen(), s) {
		if time.Now().After(deadline) {
			tm.t.Fatalf("the screen never showed %q", s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// typeText types text literally.
func (tm *tuiTmux) typeText(s string) {
	tm.t.Helper()
	tm.tmux("send-keys", "-t", "parley", "-l", s)
}

// paste pastes s as a terminal pastes what a person copied: in one
// bracketed paste, which the client takes as one input, rather than
// key by key.
func (tm *tuiTmux) paste(s string) {
	tm.t.Helper()
	tm.tmux("set-buffer", "-b", "e2e", "--", s)
	tm.tmux("paste-buffer", "-p", "-d", "-b", "e2e", "-t", "parley")
}

// keys presses keys by tmux's names (Enter, F4, C-c).
func (tm *tuiTmux) keys(keys ...string) {
	tm.t.Helper()
	tm.tmux(append([]string{"send-keys", "-t", "parley"}, keys...)...)
}

// waitExit waits for the client to exit with code.
func (tm *tuiTmux) waitExit(code int) {
	tm.t.Helper()
	exitFile := filepath.Join(tm.dir, fmt.Sprintf("exit-%d", tm.runs))
	deadline := time.Now().Add(waitLimit)
	for {
		b, err := os.ReadFile(exitFile)
		if err == nil && len(bytes.TrimSpace(b)) > 0 {
			if got := strings.TrimSpace(string(b)); got != fmt.Sprint(code) {
				stderr, _ := os.ReadFile(exitFile + ".stderr")
				tm.t.Fatalf("the client exited with %s, want %d; stderr:\n%s", got, code, stderr)
			}
			return
		}
		if time.Now().After(deadline) {
			tm.t.Fatal("the client did not exit")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

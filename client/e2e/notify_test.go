package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A private message or a mention in a conversation not on screen rings
// the terminal bell and names itself in the window title, until that
// conversation is shown.
func TestMentionBellAndTitle(t *testing.T) {
	needTool(t, "tmux")
	srv := startChat(t, t.TempDir())
	bob := connected(t, srv.addr, "bob")
	home := t.TempDir()
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, "config"), "LANG=C.UTF-8"}
	tm := tuiStartTmux(t, home)
	tm.run(append(env, "PARLEY_PASSWORD=pw-alice"), "-server", srv.addr, "-name", "alice")
	tm.waitScreen("● connected")
	bells := filepath.Join(home, "bells")
	tm.tmux("set-option", "-g", "bell-action", "any")
	tm.tmux("set-hook", "-g", "alert-bell", "run-shell 'echo bell >> "+bells+"'")
	title := func() string {
		return strings.TrimSpace(tm.tmux("display-message", "-p", "-t", "parley", "#{pane_title}"))
	}
	waitTitle := func(want string) {
		t.Helper()
		deadline := time.Now().Add(waitLimit)
		for !strings.Contains(title(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("the window title is %q; want it to say %q", title(), want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	rang := func() int {
		b, _ := os.ReadFile(bells)
		return strings.Count(string(b), "bell")
	}
	waitBells := func(n int) {
		t.Helper()
		deadline := time.Now().Add(waitLimit)
		for rang() < n {
			if time.Now().After(deadline) {
				t.Fatalf("the bell rang %d times; want %d", rang(), n)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// A message in the lobby, on screen, that does not mention her: nothing.
	bob.send("morning")
	tm.waitScreen("bob │ morning")
	// A private message, with the lobby on screen.
	bob.send("/msg alice are you there?")
	waitTitle("bob wrote to you")
	waitBells(1)
	tm.typeText("/switch @bob")
	tm.keys("Enter")
	tm.waitScreen("are you there?")
	deadline := time.Now().Add(waitLimit)
	for strings.Contains(title(), "wrote to you") {
		if time.Now().After(deadline) {
			t.Fatalf("the title still says %q once the conversation is shown", title())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A mention in the lobby while the private conversation is shown.
	time.Sleep(2 * time.Second) // bells two seconds apart ring apart
	bob.send("alice: lunch?")
	waitTitle("bob mentioned you in #lobby")
	waitBells(2)
	tm.typeText("/quit")
	tm.keys("Enter")
	tm.waitExit(0)
	if n := rang(); n != 2 {
		t.Errorf("the bell rang %d times; want 2", n)
	}
}

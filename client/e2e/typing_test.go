package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Typing in one full-screen client shows "bob is typing…" in another,
// and goes after a few seconds; a line-mode client gets the events.
func TestTypingInTmux(t *testing.T) {
	needTool(t, "tmux")
	srv := startChat(t, t.TempDir())
	carol := connected(t, srv.addr, "carol")
	start := func(name string) *tuiTmux {
		home := t.TempDir()
		env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, "config"), "LANG=C.UTF-8"}
		tm := tuiStartTmux(t, home)
		tm.run(append(env, "PARLEY_PASSWORD=pw-"+name), "-server", srv.addr, "-name", name)
		tm.waitScreen("● connected")
		return tm
	}
	alice, bob := start("alice"), start("bob")
	bob.typeText("hello th")
	alice.waitScreen("bob is typing…")
	e := carol.waitEvent("bob's typing", func(e event) bool { return e.str("type") == "typing" })
	if e.str("from") != "bob" || e.str("room") != "lobby" {
		t.Errorf("carol got %v", e)
	}
	// It goes by itself once bob stops.
	deadline := time.Now().Add(waitLimit)
	for strings.Contains(alice.screen(), "bob is typing…") {
		if time.Now().After(deadline) {
			t.Fatal("bob is typing… never went")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// A command is not typing; the message ends it at once.
	bob.keys("C-u")
	bob.typeText("/who")
	bob.keys("C-u")
	bob.typeText("hello there")
	alice.waitScreen("bob is typing…")
	bob.keys("Enter")
	alice.waitScreen("bob │ hello there")
	if strings.Contains(alice.screen(), "bob is typing…") {
		t.Error("bob is typing… stayed after his message")
	}
	for _, tm := range []*tuiTmux{alice, bob} {
		tm.typeText("/quit")
		tm.keys("Enter")
		tm.waitExit(0)
	}
	carol.in.Close()
	carol.wait()
}

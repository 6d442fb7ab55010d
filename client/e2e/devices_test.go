package e2e

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A second device: what bob read on his first (line mode), the second
// (the full-screen client in tmux) shows as read; what he did not, as
// unread; and his private conversations are listed at once.
func TestSecondDevice(t *testing.T) {
	needTool(t, "tmux")
	srv := startChat(t, t.TempDir())
	bob := connected(t, srv.addr, "bob")
	bob.in.Close()
	bob.wait()
	alice := connected(t, srv.addr, "alice")
	carol := connected(t, srv.addr, "carol")
	carol.send("/msg bob are you there?")
	carol.waitEvent("carol's message", isMessage("are you there?"))
	carol.in.Close()
	carol.wait()
	alice.send("/msg bob lunch?")
	alice.waitEvent("alice's message", isMessage("lunch?"))
	alice.send("morning all")
	alice.send("bob, the build is green")
	alice.waitEvent("the mention", isMessage("bob, the build is green"))

	// The first device: the counts and the list, then alice's read.
	one := connected(t, srv.addr, "bob")
	c := one.waitEvent("connected", func(e event) bool { return e.str("type") == "connected" })
	private, _ := c["private"].([]any)
	if len(private) != 2 {
		t.Fatalf("bob's first device lists %v; want alice's and carol's", c["private"])
	}
	first, _ := private[0].(map[string]any)
	second, _ := private[1].(map[string]any)
	if first["name"] != "alice" || first["unread"] != 1.0 || first["online"] != true || second["name"] != "carol" || second["online"] != false {
		t.Errorf("bob's private conversations: %v", private)
	}
	if rooms, _ := c["rooms"].([]any); len(rooms) != 1 || rooms[0].(map[string]any)["unread"] != 2.0 || rooms[0].(map[string]any)["mentions"] != 1.0 {
		t.Errorf("bob's rooms: %v", c["rooms"])
	}
	one.do("/switch @alice")
	one.do("/read")
	one.waitEvent("the read", func(e event) bool { return e.str("type") == "read" && e.str("to") == "alice" })
	one.in.Close()
	if code := one.wait(); code != 0 {
		t.Fatalf("bob's first device exited with %d", code)
	}

	// The second device shows alice's conversation read, carol's and the
	// lobby's not.
	home := t.TempDir()
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, "config"), "LANG=C.UTF-8"}
	tm := tuiStartTmux(t, home)
	tm.run(append(env, "PARLEY_PASSWORD=pw-bob"), "-server", srv.addr, "-name", "bob")
	tm.waitScreen("● connected")
	screen := tm.screen()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`#lobby\s+@2`),
		regexp.MustCompile(`@carol\s+@1`),
	} {
		if !want.MatchString(screen) {
			t.Errorf("the second device's screen has no %s:\n%s", want, screen)
		}
	}
	if !strings.Contains(screen, "@alice") || regexp.MustCompile(`@alice\s+@?\d`).MatchString(screen) {
		t.Errorf("the second device shows alice's conversation missing or unread:\n%s", screen)
	}
	// Shown on this device for more than a second each, the lobby and
	// carol's conversation are read on the next.
	time.Sleep(2 * time.Second)
	tm.typeText("/switch @carol")
	tm.keys("Enter")
	tm.waitScreen("are you there?")
	time.Sleep(2 * time.Second) // on screen for more than a second
	tm.typeText("/quit")
	tm.keys("Enter")
	tm.waitExit(0)
	three := connected(t, srv.addr, "bob")
	c = three.waitEvent("connected", func(e event) bool { return e.str("type") == "connected" })
	for _, p := range c["private"].([]any) {
		if p := p.(map[string]any); p["unread"] != nil {
			t.Errorf("after the full-screen client showed them, a conversation is unread: %v", c["private"])
		}
	}
	if rooms := c["rooms"].([]any); rooms[0].(map[string]any)["unread"] != nil {
		t.Errorf("after the full-screen client showed it, the lobby is unread: %v", rooms)
	}
	three.in.Close()
	three.wait()
}

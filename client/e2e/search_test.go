package e2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"testing"
)

// /search through line mode and the full-screen client, and /jump to a
// match in its conversation.
func TestSearchBothFaces(t *testing.T) {
	needTool(t, "tmux")
	srv := startChat(t, t.TempDir())
	alice := connected(t, srv.addr, "alice")
	bob := connected(t, srv.addr, "bob")
	bob.do("/join ops")
	bob.send("the deploy of 部署 is at five")
	hit := bob.waitEvent("bob's message", isMessage("the deploy of 部署 is at five")).num("id")
	for i := range 30 {
		bob.send(fmt.Sprintf("filler %d", i))
	}
	bob.waitEvent("the last filler", isMessage("filler 29"))
	bob.do("/switch #lobby")
	bob.send(`a lobby deploy, "OR" NEAR *`)
	bob.waitEvent("the lobby message", isMessage(`a lobby deploy, "OR" NEAR *`))

	// Line mode: the matches as message objects with search, then /context.
	bob.do("/search deploy in #ops")
	m := bob.waitEvent("the match", func(e event) bool { return e["search"] == true })
	if m.num("id") != hit || m.str("room") != "ops" {
		t.Errorf("the match: %v", m)
	}
	bob.do(`/search "OR" NEAR`)
	bob.waitEvent("the match of syntax words", func(e event) bool { return e["search"] == true && e.str("room") == "lobby" })
	alice.do("/search 部署")
	alice.waitEvent("no match for alice", func(e event) bool { return e.str("type") == "search" && e["count"] == 0.0 })

	// The full-screen client, as bob once his line mode is gone: the
	// list, then /jump into #ops.
	bob.in.Close()
	if code := bob.wait(); code != 0 {
		t.Errorf("bob exited with %d", code)
	}
	home := t.TempDir()
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, "config"), "LANG=C.UTF-8"}
	tm := tuiStartTmux(t, home)
	tm.run(append(env, "PARLEY_PASSWORD=pw-bob"), "-server", srv.addr, "-name", "bob")
	tm.waitScreen("● connected")
	tm.typeText("/search 部署")
	tm.keys("Enter")
	tm.waitScreen("1 matches of 部署")
	tm.waitScreen(fmt.Sprintf("[%d]", hit))
	tm.typeText(fmt.Sprintf("/jump %d", hit))
	tm.keys("Enter")
	tm.waitScreen("bob │ the deploy of 部署 is at five")
	if !regexp.MustCompile(`#ops`).MatchString(tm.screen()) {
		t.Errorf("the jump did not open #ops")
	}
	tm.typeText("/quit")
	tm.keys("Enter")
	tm.waitExit(0)
	alice.in.Close()
	if code := alice.wait(); code != 0 {
		t.Errorf("alice exited with %d", code)
	}
}

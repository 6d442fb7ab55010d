package e2e

import (
	"fmt"
	"path/filepath"
	"testing"
)

// The full-screen client in tmux: ↑ on an empty line edits the last
// message, /reply quotes, /react and others' reactions show as counts,
// and edits by others change the text on the screen.
func TestTUIEditReplyReact(t *testing.T) {
	needTool(t, "tmux")
	srv := startChat(t, t.TempDir())
	bob := connected(t, srv.addr, "bob")
	home := t.TempDir()
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, "config"), "LANG=C.UTF-8"}
	tm := tuiStartTmux(t, home)
	tm.run(append(env, "PARLEY_PASSWORD=pw-alice"), "-server", srv.addr, "-name", "alice")
	tm.waitScreen("● connected")

	tm.typeText("see you at noon")
	tm.keys("Enter")
	id := bob.waitEvent("alice's message", isMessage("see you at noon")).num("id")
	tm.waitScreen("alice │ see you at noon")

	// ↑ on the empty line puts the edit of the last message there.
	tm.keys("Up")
	tm.waitScreen(fmt.Sprintf("/edit %d see you at noon", id))
	tm.keys("BSpace", "BSpace", "BSpace", "BSpace")
	tm.typeText("one")
	tm.keys("Enter")
	e := bob.waitEvent("the edit", func(e event) bool { return e.str("type") == "edit" })
	if e.num("msg") != id || e.str("text") != "see you at one" {
		t.Errorf("bob got %v", e)
	}
	tm.waitScreen("see you at one (edited)")

	// Bob's reply shows with a quote; his reaction and hers, as counts.
	bob.send(fmt.Sprintf("/reply %d fine by me", id))
	tm.waitScreen("bob │ ↪ alice: see you at one")
	tm.waitScreen("│ fine by me")
	bob.do(fmt.Sprintf("/react %d :thumbsup:", id))
	tm.waitScreen("👍 1")
	tm.typeText(fmt.Sprintf("/react %d :thumbsup:", id))
	tm.keys("Enter")
	tm.waitScreen("👍 2")
	bob.waitEvent("alice's reaction", func(e event) bool { return e.str("type") == "react" && e.str("from") == "alice" })

	// Alice edits the message replied to: the quote follows.
	tm.typeText(fmt.Sprintf("/edit %d see you at two", id))
	tm.keys("Enter")
	tm.waitScreen("↪ alice: see you at two")

	// Bob edits his reply; the screen follows.
	reply := bob.waitEvent("bob's reply", isMessage("fine by me")).num("id")
	bob.do(fmt.Sprintf("/edit %d fine by me, see you", reply))
	tm.waitScreen("fine by me, see you (edited)")

	// An action.
	tm.typeText("/me waves")
	tm.keys("Enter")
	if e := bob.waitEvent("the action", isMessage("waves")); e.str("kind") != "action" {
		t.Errorf("the action: %v", e)
	}
	tm.waitScreen("* alice waves")

	// A refusal is shown, not swallowed.
	tm.typeText(fmt.Sprintf("/edit %d mine now", reply))
	tm.keys("Enter")
	tm.waitScreen("not yours")
	tm.typeText("/quit")
	tm.keys("Enter")
	tm.waitExit(0)
}

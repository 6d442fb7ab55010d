package e2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"testing"
)

// Edit, reply and react through line mode with the real binaries, and a
// later login that sees all three in history.
func TestEditReplyReactLineMode(t *testing.T) {
	srv := startChat(t, t.TempDir())
	alice := connected(t, srv.addr, "alice")
	bob := connected(t, srv.addr, "bob")

	alice.send("lunch at noon? :pizza:")
	id := alice.waitEvent("alice's message", isMessage("lunch at noon? 🍕")).num("id")
	bob.waitEvent("the message", isMessage("lunch at noon? 🍕"))

	alice.do(fmt.Sprintf("/edit %d lunch at 1? :pizza:", id))
	for _, c := range []*proc{alice, bob} {
		e := c.waitEvent("edit", func(e event) bool { return e.str("type") == "edit" })
		if e.num("msg") != id || e.str("text") != "lunch at 1? 🍕" || e.str("from") != "alice" {
			t.Errorf("%s got %v", c.name, e)
		}
	}
	bob.do(fmt.Sprintf("/edit %d mine now", id))
	bob.waitEvent("refusal of an edit of alice's message", func(e event) bool {
		return e.str("type") == "error" && e.str("code") == "not_yours"
	})

	bob.send(fmt.Sprintf("/reply %d sure, see you", id))
	r := alice.waitEvent("reply", isMessage("sure, see you"))
	if r.num("reply_to") != id {
		t.Errorf("the reply: %v", r)
	}
	if q, _ := r["quote"].(map[string]any); q["from"] != "alice" || q["text"] != "lunch at 1? 🍕" {
		t.Errorf("the reply's quote: %v", r["quote"])
	}

	bob.do(fmt.Sprintf("/react %d :thumbsup:", id))
	alice.do(fmt.Sprintf("/react %d 👍", id))
	alice.do(fmt.Sprintf("/react %d 👍", id)) // taken back
	ons := 0
	for _, e := range alice.events() {
		if e.str("type") == "react" && e.num("msg") == id && e.str("emoji") == "👍" {
			if e["on"] == true {
				ons++
			} else if e.str("from") != "alice" {
				t.Errorf("a take-back by someone else: %v", e)
			}
		}
	}
	if ons != 2 {
		t.Errorf("alice saw %d reactions put on; want 2", ons)
	}
	bob.do(fmt.Sprintf("/react %d thumbs", id))
	bob.waitEvent("refusal of a reaction that is no emoji", func(e event) bool {
		return e.str("type") == "error" && e.str("code") == "bad_emoji"
	})

	alice.do("/me waves :wave:")
	if e := bob.waitEvent("the action", isMessage("waves 👋")); e.str("kind") != "action" {
		t.Errorf("the action: %v", e)
	}

	// Carol, new, sees it all in the lobby's history, in text mode.
	carol := startProc(t, "client", []string{"PARLEY_PASSWORD=pw-carol"}, "-server", srv.addr, "-name", "carol", "-plain")
	line := carol.waitLine(regexp.MustCompile(fmt.Sprintf(`<alice> lunch at 1\? 🍕 \(edited\) \{👍 1: bob\} \[%d\] \(history\)`, id)))
	t.Logf("carol: %s", line)
	carol.waitLine(regexp.MustCompile(fmt.Sprintf(`<bob> \(re alice: lunch at 1\? 🍕 \[%d\]\) sure, see you \[\d+\] \(history\)`, id)))
	carol.waitLine(regexp.MustCompile(`#lobby \* alice waves 👋 \[\d+\] \(history\)`))
	carol.in.Close()
	for _, c := range []*proc{alice, bob, carol} {
		c.in.Close()
		if code := c.wait(); code != 0 {
			t.Errorf("%s exited with %d: %s", c.name, code, c.stderr())
		}
	}
}

// /nick through line mode, and the full-screen client showing it.
func TestNickBothFaces(t *testing.T) {
	needTool(t, "tmux")
	srv := startChat(t, t.TempDir())
	alice := connected(t, srv.addr, "alice")
	bob := connected(t, srv.addr, "bob")
	alice.do("/nick Ally")
	if e := bob.waitEvent("the nick", func(e event) bool { return e.str("type") == "nick" }); e.str("name") != "alice" || e.str("nick") != "Ally" {
		t.Errorf("bob got %v", e)
	}
	bob.do("/nick ally")
	bob.waitEvent("the refusal", func(e event) bool { return e.str("type") == "error" && e.str("code") == "name_taken" })
	alice.send("hello from Ally")
	bob.waitEvent("the message", func(e event) bool { return e.str("text") == "hello from Ally" && e.str("nick") == "Ally" })
	bob.send("ally: hi")

	home := t.TempDir()
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, "config"), "LANG=C.UTF-8"}
	tm := tuiStartTmux(t, home)
	tm.run(append(env, "PARLEY_PASSWORD=pw-carol"), "-server", srv.addr, "-name", "carol")
	tm.waitScreen("Ally │ hello from Ally")
	alice.do("/nick")
	tm.waitScreen("alice is shown by their login name again")
	tm.typeText("/quit")
	tm.keys("Enter")
	tm.waitExit(0)

	// In text mode, a message under a nick shows both names.
	dave := startProc(t, "client", []string{"PARLEY_PASSWORD=pw-dave"}, "-server", srv.addr, "-name", "dave", "-plain")
	dave.waitLine(regexp.MustCompile(`<Ally \(alice\)> hello from Ally \[\d+\] \(history\)`))
	dave.in.Close()
	for _, c := range []*proc{alice, bob, dave} {
		c.in.Close()
		if code := c.wait(); code != 0 {
			t.Errorf("%s exited with %d", c.name, code)
		}
	}
}

// A room's owner sets its topic in line mode; the others get the topic
// event, /rooms lists it, someone else's /topic is refused, and the
// full-screen client shows it in the room's header from the join on, and
// live.
func TestTopicBothFaces(t *testing.T) {
	needTool(t, "tmux")
	srv := startChat(t, t.TempDir())
	alice := connected(t, srv.addr, "alice")
	bob := connected(t, srv.addr, "bob")
	alice.do("/join plans")
	bob.do("/join plans")
	alice.do("/topic Friday: the release party")
	if e := bob.waitEvent("the topic", func(e event) bool { return e.str("type") == "topic" }); e.str("room") != "plans" || e.str("text") != "Friday: the release party" || e.str("by") != "alice" {
		t.Errorf("bob got %v", e)
	}
	bob.do("/topic mine now")
	bob.waitEvent("the refusal", func(e event) bool { return e.str("type") == "error" && e.str("code") == "not_owner" })
	bob.do("/rooms")
	bob.waitEvent("the rooms", func(e event) bool {
		for _, r := range e.list("rooms") {
			if r["name"] == "plans" && r["topic"] == "Friday: the release party" {
				return true
			}
		}
		return false
	})

	home := t.TempDir()
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, "config"), "LANG=C.UTF-8"}
	tm := tuiStartTmux(t, home)
	tm.run(append(env, "PARLEY_PASSWORD=pw-carol"), "-server", srv.addr, "-name", "carol")
	tm.waitScreen("● connected")
	tm.typeText("/join plans")
	tm.keys("Enter")
	tm.waitScreen("· Friday: the release party") // from the join's reply
	alice.do("/topic Saturday instead")
	tm.waitScreen("alice set the topic: Saturday instead")
	tm.waitScreen("· Saturday instead")
	tm.typeText("/quit")
	tm.keys("Enter")
	tm.waitExit(0)
	for _, c := range []*proc{alice, bob} {
		c.in.Close()
		if code := c.wait(); code != 0 {
			t.Errorf("%s exited with %d", c.name, code)
		}
	}
}

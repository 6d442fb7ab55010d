package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/client/command"
)

func TestMessagePaneComponent(t *testing.T) {
	render := newHarness(t).m.render // lays out entries as the screen does
	c := newConv(command.Conv{Room: "games"})
	c.joined = true
	at := time.Date(2026, 11, 22, 15, 4, 0, 0, time.UTC)
	for i := 1; i <= 20; i++ {
		from := "bob"
		if i%2 == 0 {
			from = "alice"
		}
		c.insert(&entry{kind: entMessage, id: uint64(i), from: from, own: from == "alice", at: at, text: fmt.Sprintf("message %d", i)})
	}
	var p messagePane
	p.SetSize(60, 8)
	rows := p.View(c, false, true, render)
	if len(rows) != 8 {
		t.Fatalf("view has %d rows, want 8", len(rows))
	}
	v := ansiStrip(strings.Join(rows, "\n"))
	if !strings.Contains(v, "#games") || !strings.Contains(v, "message 20") || strings.Contains(v, "message 14") {
		t.Fatalf("the newest six lines are not what is shown:\n%s", v)
	}

	if !p.scrollKey("pgup", c) || c.follow {
		t.Fatal("PgUp does not scroll back")
	}
	v = ansiStrip(strings.Join(p.View(c, false, true, render), "\n"))
	if !strings.Contains(v, "message 15") || !strings.Contains(v, "scrolled back") {
		t.Errorf("after PgUp:\n%s", v)
	}
	if p.scrollKey("x", c) {
		t.Error("x scrolls")
	}
	p.scrollKey("ctrl+end", c)
	if !c.follow {
		t.Error("ctrl+End does not follow the newest again")
	}

	p.selectFirst(c)
	if c.sel == nil || c.sel.id != 20 {
		t.Fatalf("the first choice is %v, want the newest", c.sel)
	}
	for range 7 {
		if _, _, used := p.Update(keyMsg("k"), c, render); !used {
			t.Fatal("k is not the pane's")
		}
	}
	if c.sel.id != 13 {
		t.Fatalf("seven ↑ chose %d, want 13", c.sel.id)
	}
	v = ansiStrip(strings.Join(p.View(c, false, true, render), "\n"))
	if !strings.Contains(v, "message 13") {
		t.Errorf("the chosen message is out of view:\n%s", v)
	}
	// 13 is bob's: no recall or edit, but a reply or a reaction.
	for key, want := range map[string]msgAction{"r": actNone, "e": actNone, "q": actReply, "+": actReact, "enter": actDownload} {
		if act, _, _ := p.Update(keyMsg(key), c, render); act != want {
			t.Errorf("%s on someone else's message asks for %d, want %d", key, act, want)
		}
	}
	p.Update(keyMsg("j"), c, render)
	for key, want := range map[string]msgAction{"r": actRecall, "e": actEdit} {
		if act, e, _ := p.Update(keyMsg(key), c, render); act != want || e == nil || e.id != 14 {
			t.Errorf("%s on one's own message asks for %d on %v, want %d on 14", key, act, e, want)
		}
	}
	if _, _, used := p.Update(keyMsg("x"), c, render); used {
		t.Error("x is taken by the message pane")
	}

	// A click finds the message on the row clicked.
	p.View(c, false, true, render)
	found := false
	for row := range p.innerH() {
		if e := p.clicked(row, c); e != nil && e.id == 14 {
			found = true
		}
	}
	if !found {
		t.Errorf("no row of the pane is message 14")
	}
	if e := p.clicked(p.innerH()+3, c); e != nil {
		t.Errorf("a click below the pane chose %d", e.id)
	}

	priv := newConv(command.Conv{With: "bob"})
	v = ansiStrip(strings.Join(p.View(priv, true, false, render), "\n"))
	if !strings.Contains(v, "private · bob") || !strings.Contains(v, "● online") {
		t.Errorf("private view:\n%s", v)
	}
}

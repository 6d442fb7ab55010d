package tui

import (
	"strings"
	"testing"

	"github.com/parley-chat/parley/client/command"
)

func TestMemberPaneComponent(t *testing.T) {
	list := []memberRow{{Name: "alice", Online: true, Owner: true}, {Name: "bob", Online: true}, {Name: "carol"}}
	var p memberPane
	if !p.toggle() || !p.shown {
		t.Fatal("toggle does not show a hidden pane")
	}
	p.SetSize(20, 8)
	for _, k := range []string{"down", "down", "down"} {
		if _, used := p.Update(keyMsg(k), list); !used {
			t.Fatalf("%s is not the pane's", k)
		}
	}
	if p.sel != 2 {
		t.Fatalf("selection %d after going past the end, want 2", p.sel)
	}
	p.Update(keyMsg("k"), list)
	if name, used := p.Update(keyMsg("enter"), list); !used || name != "bob" {
		t.Fatalf("enter chose %q (used %v), want bob", name, used)
	}
	if _, used := p.Update(keyMsg("x"), list); used {
		t.Error("x is taken by the member pane")
	}

	rows := p.View(list, 4, "alice", true)
	if len(rows) != 8 {
		t.Fatalf("view has %d rows, want 8", len(rows))
	}
	v := ansiStrip(strings.Join(rows, "\n"))
	for _, want := range []string{"Online 2/7", "● alice ★", "● bob", "○ carol", "and 4 more", "F2 hide"} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
	for i, r := range rows {
		if w := width(r); w != 20 {
			t.Errorf("row %d is %d cells wide, want 20", i, w)
		}
	}
	if name := p.clicked(2, list); name != "carol" || p.sel != 2 {
		t.Errorf("a click on the third row chose %q, selection %d", name, p.sel)
	}
	if name := p.clicked(7, list); name != "" {
		t.Errorf("a click below the list chose %q", name)
	}
	p.reset()
	if p.sel != 0 {
		t.Error("reset keeps the selection")
	}
	if p.toggle() {
		t.Error("toggle does not hide a shown pane")
	}
}

func TestChatListComponent(t *testing.T) {
	lobby, games := newConv(command.Lobby), newConv(command.Conv{Room: "games"})
	lobby.joined = true
	games.unread, games.mention = 3, true
	bob := newConv(command.Conv{With: "bob"})
	bob.unread = 2
	convs := []*conv{lobby, games, bob}

	var l chatList
	l.SetSize(22, 10)
	rows := l.View(convs, lobby, false)
	if len(rows) != 10 {
		t.Fatalf("view has %d rows, want 10", len(rows))
	}
	v := ansiStrip(strings.Join(rows, "\n"))
	for _, want := range []string{"Chats", "1 ▸#lobby", "2  #games", "@3", " private", "3  @bob", "5 unread"} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
	// The heading of private conversations is a row of its own, which
	// a click does not choose.
	if c := l.clicked(2); c != nil {
		t.Errorf("a click on the heading chose %s", c.title())
	}
	if c := l.clicked(3); c != bob {
		t.Errorf("a click on the fourth row chose %v, want @bob", c)
	}

	for _, k := range []string{"j", "down", "down"} {
		if i, used := l.Update(keyMsg(k), len(convs)); !used || i != -1 {
			t.Fatalf("%s: chose %d (used %v)", k, i, used)
		}
	}
	if i, _ := l.Update(keyMsg("enter"), len(convs)); i != 2 {
		t.Errorf("enter chose %d, want 2 (the last)", i)
	}
	l.Update(keyMsg("up"), len(convs))
	if i, _ := l.Update(keyMsg("space"), len(convs)); i != 1 {
		t.Errorf("space chose %d, want 1", i)
	}
	if _, used := l.Update(keyMsg("x"), len(convs)); used {
		t.Error("x is taken by the conversation list")
	}
}

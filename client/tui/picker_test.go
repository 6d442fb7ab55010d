package tui

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
)

func TestPickerComponent(t *testing.T) {
	p := &picker{}
	p.search()
	p.SetSize(64, 12)
	if p.cols != 3 {
		t.Fatalf("%d columns in 62 cells, want 3", p.cols)
	}
	rows := p.View()
	if len(rows) != 12 {
		t.Fatalf("view has %d rows, want 12", len(rows))
	}
	v := ansiStrip(strings.Join(rows, "\n"))
	for _, want := range []string{"Emoji", "😄 smile", "😂 joy", "Esc close"} {
		if !strings.Contains(v, want) {
			t.Errorf("the favourites lack %q:\n%s", want, v)
		}
	}
	for i, r := range rows {
		if w := width(r); w != 64 {
			t.Errorf("row %d is %d cells wide, want 64", i, w)
		}
	}

	p.Update(keyMsg("right"))
	p.Update(keyMsg("down"))
	if p.sel != 1+p.cols {
		t.Fatalf("selection %d after → ↓, want %d", p.sel, 1+p.cols)
	}
	p.Update(keyMsg("pgup"))
	if p.sel != 0 {
		t.Fatalf("selection %d after PgUp, want 0", p.sel)
	}
	if ins, done := p.Update(keyMsg("tab")); ins != "😄" || done {
		t.Fatalf("tab: insert %q, done %v", ins, done)
	}

	for _, r := range "tada" {
		p.Update(keyMsg(string(r)))
	}
	if len(p.results) == 0 || p.results[0].Code != ":tada:" {
		t.Fatalf("results for tada: %+v", p.results)
	}
	if x, y := p.cursor(); y != 1 || x != 2+width(pickerPrompt)+4 {
		t.Errorf("cursor at %d,%d", x, y)
	}
	p.Update(tea.PasteMsg{Content: "zzzznothing"})
	if len(p.results) != 0 || !strings.Contains(ansiStrip(strings.Join(p.View(), "\n")), "no emoji match") {
		t.Errorf("a search for nothing shows %d results", len(p.results))
	}
	if ins, done := p.Update(keyMsg("enter")); ins != "" || !done {
		t.Errorf("enter with nothing found: insert %q, done %v", ins, done)
	}
	if _, done := p.Update(keyMsg("esc")); !done {
		t.Error("esc does not close the picker")
	}
}

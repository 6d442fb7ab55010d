package tui

import (
	"testing"

	tea "charm.land/bubbletea/v2"
)

func typeText(e *editor, s string) {
	for _, g := range graphemes(s) {
		e.Update(tea.KeyPressMsg{Text: g, Code: []rune(g)[0]})
	}
}

func TestEditorWideCharacters(t *testing.T) {
	var e editor
	e.SetWidth(10)
	typeText(&e, "你好👍🏽a")
	if got := e.Value(); got != "你好👍🏽a" {
		t.Fatalf("Value() = %q", got)
	}
	if len(e.text) != 4 {
		t.Fatalf("%d clusters, want 4 (the emoji with its skin tone is one)", len(e.text))
	}
	view, cur := e.View()
	if width(view) != 10 {
		t.Errorf("view %q is %d cells, want 10", view, width(view))
	}
	if cur != 7 {
		t.Errorf("cursor at cell %d, want 7 (2+2+2+1)", cur)
	}
	e.Update(tea.KeyPressMsg{Code: tea.KeyBackspace})
	e.Update(tea.KeyPressMsg{Code: tea.KeyBackspace})
	if got := e.Value(); got != "你好" {
		t.Errorf("after two backspaces Value() = %q, want 你好", got)
	}
	e.Update(tea.KeyPressMsg{Code: tea.KeyLeft})
	if _, cur := e.View(); cur != 2 {
		t.Errorf("cursor at cell %d after left, want 2", cur)
	}
}

func TestEditorScrollsToCursor(t *testing.T) {
	var e editor
	e.SetWidth(5)
	typeText(&e, "中文中文中文")
	view, cur := e.View()
	if width(view) != 5 || cur > 4 {
		t.Fatalf("view %q (%d cells), cursor %d", view, width(view), cur)
	}
	e.Update(tea.KeyPressMsg{Code: tea.KeyHome})
	view, cur = e.View()
	if cur != 0 || view[:3] != "中" {
		t.Errorf("after home: view %q cursor %d", view, cur)
	}
}

func TestEditorDropsControls(t *testing.T) {
	var e editor
	e.Update(tea.PasteMsg{Content: "a\x1b[31mb\tc\r\nd"})
	if got := e.Value(); got != "a[31mb c\nd" {
		t.Errorf("Value() = %q", got)
	}
}

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"plain":            "plain",
		"\x1b[2Jboom":      "[2Jboom",
		"tab\there":        "tab    here",
		"bidi\u202eevil":   "bidievil",
		"two\nlines":       "two lines",
		"bell\a and \x9b1": "bell and \ufffd1",
		"c1 \u009b2J":      "c1 2J",
	} {
		if got := clean(in, false); got != want {
			t.Errorf("clean(%q) = %q, want %q", in, got, want)
		}
	}
}

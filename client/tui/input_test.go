package tui

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
)

func TestInputLineComponent(t *testing.T) {
	var in inputLine
	in.SetSize(40)
	none := func(before, word string) []string { return nil }
	typeText := func(s string) {
		for _, r := range s {
			if !in.Update(keyMsg(string(r)), none) {
				t.Fatalf("typing %q changed nothing", r)
			}
		}
	}
	typeText("one")
	if got := in.take(); got != "one" || !in.Empty() {
		t.Fatalf("take = %q, line left %q", got, in.Value())
	}
	typeText("two")
	in.take()
	typeText("two")
	in.take() // the same line again is remembered once
	typeText("dra")
	in.Update(keyMsg("up"), none)
	if !in.browsing() {
		t.Fatal("↑ is not browsing the history")
	}
	if got := in.Value(); got != "two" {
		t.Fatalf("↑ shows %q, want two", got)
	}
	in.Update(keyMsg("up"), none)
	if got := in.Value(); got != "one" {
		t.Fatalf("two ↑ show %q, want one", got)
	}
	for range 3 {
		in.Update(keyMsg("down"), none)
	}
	if got := in.Value(); got != "dra" || in.browsing() {
		t.Fatalf("↓ back to the end shows %q (browsing %v), want the draft", got, in.browsing())
	}

	in.Reset()
	names := func(before, word string) []string {
		if before != "hi " {
			t.Errorf("completion was given %q before the word", before)
		}
		var out []string
		for _, n := range []string{"bob ", "bonnie "} {
			if strings.HasPrefix(n, word) {
				out = append(out, n)
			}
		}
		return out
	}
	typeText("hi bo")
	in.Update(keyMsg("tab"), names)
	if got := in.Value(); got != "hi bob " {
		t.Fatalf("tab: %q", got)
	}
	if h := ansiStrip(in.hint(60)); !strings.Contains(h, "Tab: bob bonnie") {
		t.Errorf("hint %q", h)
	}
	in.Update(keyMsg("tab"), names)
	if got := in.Value(); got != "hi bonnie " {
		t.Fatalf("second tab: %q", got)
	}
	in.Update(keyMsg("x"), names)
	if in.comp != nil || in.hint(60) != "" {
		t.Error("typing leaves the completion open")
	}
	in.Update(tea.PasteMsg{Content: "pasted"}, none)
	if got := in.Value(); got != "hi bonnie xpasted" {
		t.Errorf("after a paste: %q", got)
	}
	for range historySize + 10 {
		in.SetValue("line" + strings.Repeat("x", len(in.history)))
		in.take()
	}
	if len(in.history) != historySize {
		t.Errorf("history holds %d lines, want %d", len(in.history), historySize)
	}
}

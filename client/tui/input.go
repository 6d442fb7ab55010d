package tui

import (
	"strings"

	tea "charm.land/bubbletea/v2"
)

// historySize is how many lines the input line remembers.
const historySize = 500

// inputLine is the line the user types on: an editor with a history
// of what was entered (↑↓) and Tab completion. Its update takes the
// keys and pastes meant for it; its view is the prompt and the text,
// and a hint line that lists completion candidates.
type inputLine struct {
	editor
	history   []string
	histPos   int // len(history) when not browsing
	histDraft string
	comp      *completion
}

// SetSize sets the width left for the text after the prompt.
func (in *inputLine) SetSize(w int) { in.SetWidth(w) }

// SetValue replaces the text, ending any completion.
func (in *inputLine) SetValue(s string) {
	in.editor.SetValue(s)
	in.comp = nil
}

// Insert types s at the cursor, ending any completion.
func (in *inputLine) Insert(s string) {
	in.editor.Insert(s)
	in.comp = nil
}

// browsing reports whether ↑ has gone back into the history.
func (in *inputLine) browsing() bool { return in.histPos != len(in.history) }

// Update edits the line with k (a key or a paste): ↑↓ move through the
// history, Tab completes the word before the cursor with what
// candidates lists for it, anything else goes to the editor. changed
// says whether the text changed by editing, as typing does.
func (in *inputLine) Update(msg tea.Msg, candidates func(before, word string) []string) (changed bool) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch k.String() {
		case "tab":
			in.complete(candidates)
			return false
		case "up":
			in.historyMove(-1)
			return false
		case "down":
			in.historyMove(1)
			return false
		}
	}
	if in.editor.Update(msg) {
		in.comp = nil
		return true
	}
	return false
}

// take empties the line and returns what was on it, remembering it in
// the history.
func (in *inputLine) take() string {
	line := in.Value()
	if n := len(in.history); n == 0 || in.history[n-1] != line {
		in.history = append(in.history, line)
		if len(in.history) > historySize {
			in.history = in.history[1:]
		}
	}
	in.histPos, in.histDraft = len(in.history), ""
	in.Reset()
	in.comp = nil
	return line
}

func (in *inputLine) historyMove(d int) {
	if len(in.history) == 0 {
		return
	}
	if in.histPos == len(in.history) {
		in.histDraft = in.Value()
	}
	p := max(0, min(len(in.history), in.histPos+d))
	if p == in.histPos {
		return
	}
	in.histPos = p
	if p == len(in.history) {
		in.SetValue(in.histDraft)
	} else {
		in.SetValue(in.history[p])
	}
}

// complete completes the word before the cursor, or moves to the next
// candidate if the last key was Tab too.
func (in *inputLine) complete(candidates func(before, word string) []string) {
	if c := in.comp; c != nil && len(c.cands) > 1 {
		c.idx = (c.idx + 1) % len(c.cands)
		in.Replace(c.start, c.end, c.cands[c.idx])
		c.end = c.start + len(graphemes(c.cands[c.idx]))
		return
	}
	text := in.text[:in.pos]
	start := len(text)
	for start > 0 && !isSpace(text[start-1]) {
		start--
	}
	word := strings.Join(text[start:], "")
	before := strings.Join(text[:start], "")
	cands := candidates(before, word)
	if len(cands) == 0 {
		in.comp = nil
		return
	}
	in.Replace(start, in.pos, cands[0])
	in.comp = &completion{start: start, end: start + len(graphemes(cands[0])), cands: cands}
}

// hint is the line of completion candidates, w cells wide, or "" when
// there is no choice to show.
func (in *inputLine) hint(w int) string {
	if in.comp == nil || len(in.comp.cands) < 2 {
		return ""
	}
	var b strings.Builder
	b.WriteString(stDim.Render("Tab: "))
	for i, cand := range in.comp.cands {
		if i == in.comp.idx {
			b.WriteString(stSelected.Render(strings.TrimSpace(cand)))
		} else {
			b.WriteString(strings.TrimSpace(cand))
		}
		b.WriteString(" ")
	}
	return fit(b.String(), w)
}

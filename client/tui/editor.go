package tui

import (
	"strings"
	"unicode"

	tea "charm.land/bubbletea/v2"
)

// editor is a one-line text field that edits by user-perceived characters
// and measures them in terminal cells, so that Chinese text and emoji
// keep the cursor where it belongs. A pasted newline is kept and shown
// as ⏎, so a multi-line message can be pasted and sent as it was.
type editor struct {
	text   []string // grapheme clusters
	pos    int      // cursor, in clusters
	offset int      // first cluster shown
	width  int      // cells available for text
	mask   string   // shown instead of each character, for passwords
	limit  int      // most bytes accepted, 0 for no limit
}

const newlineMark = "⏎"

func (e *editor) SetWidth(w int) { e.width = max(1, w) }

func (e *editor) Value() string { return strings.Join(e.text, "") }

func (e *editor) SetValue(s string) {
	e.text = graphemes(sanitizeInput(s, true))
	e.pos = len(e.text)
	e.offset = 0
}

func (e *editor) Reset() { e.text, e.pos, e.offset = nil, 0, 0 }

func (e *editor) Empty() bool { return len(e.text) == 0 }

// Insert puts s at the cursor.
func (e *editor) Insert(s string) {
	s = sanitizeInput(s, true)
	if e.limit > 0 && len(e.Value())+len(s) > e.limit {
		return
	}
	g := graphemes(s)
	if len(g) == 0 {
		return
	}
	text := make([]string, 0, len(e.text)+len(g))
	text = append(text, e.text[:e.pos]...)
	text = append(text, g...)
	text = append(text, e.text[e.pos:]...)
	e.text = text
	e.pos += len(g)
}

// Replace replaces the clusters from start to end with s and puts the
// cursor after it.
func (e *editor) Replace(start, end int, s string) {
	start, end = max(0, min(start, len(e.text))), max(0, min(end, len(e.text)))
	g := graphemes(s)
	text := append(append(append([]string{}, e.text[:start]...), g...), e.text[end:]...)
	e.text = text
	e.pos = start + len(g)
}

// sanitizeInput drops control characters from typed or pasted text; tabs
// become spaces, and newlines stay if allowed.
func sanitizeInput(s string, newlines bool) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r':
			if newlines {
				b.WriteRune('\n')
			} else {
				b.WriteRune(' ')
			}
		case r == '\t':
			b.WriteRune(' ')
		case unicode.IsControl(r), isBidiControl(r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Update handles editing keys. It reports whether it used the key.
func (e *editor) Update(msg tea.Msg) bool {
	switch msg := msg.(type) {
	case tea.PasteMsg:
		e.Insert(msg.Content)
		return true
	case tea.KeyPressMsg:
		switch msg.String() {
		case "left", "ctrl+b":
			e.pos = max(0, e.pos-1)
		case "right", "ctrl+f":
			e.pos = min(len(e.text), e.pos+1)
		case "home", "ctrl+a":
			e.pos = 0
		case "end", "ctrl+e":
			e.pos = len(e.text)
		case "alt+left", "ctrl+left", "alt+b":
			e.pos = e.wordStart(e.pos)
		case "alt+right", "ctrl+right", "alt+f":
			e.pos = e.wordEnd(e.pos)
		case "backspace", "ctrl+h":
			if e.pos > 0 {
				e.text = append(e.text[:e.pos-1], e.text[e.pos:]...)
				e.pos--
			}
		case "delete", "ctrl+d":
			if e.pos < len(e.text) {
				e.text = append(e.text[:e.pos], e.text[e.pos+1:]...)
			}
		case "ctrl+w", "alt+backspace", "ctrl+backspace":
			start := e.wordStart(e.pos)
			e.text = append(e.text[:start], e.text[e.pos:]...)
			e.pos = start
		case "alt+d", "ctrl+delete":
			end := e.wordEnd(e.pos)
			e.text = append(e.text[:e.pos], e.text[end:]...)
		case "ctrl+u":
			e.text = e.text[e.pos:]
			e.pos = 0
		case "ctrl+k":
			e.text = e.text[:e.pos]
		case "alt+enter", "shift+enter", "ctrl+j":
			e.Insert("\n")
		case "space":
			e.Insert(" ")
		default:
			k := msg.Key()
			if k.Text == "" || k.Mod&(tea.ModCtrl|tea.ModAlt|tea.ModMeta|tea.ModSuper|tea.ModHyper) != 0 {
				return false
			}
			e.Insert(k.Text)
		}
		return true
	}
	return false
}

func isSpace(g string) bool { return g == " " || g == "\n" }

func (e *editor) wordStart(i int) int {
	for i > 0 && isSpace(e.text[i-1]) {
		i--
	}
	for i > 0 && !isSpace(e.text[i-1]) {
		i--
	}
	return i
}

func (e *editor) wordEnd(i int) int {
	for i < len(e.text) && isSpace(e.text[i]) {
		i++
	}
	for i < len(e.text) && !isSpace(e.text[i]) {
		i++
	}
	return i
}

// shown is what a cluster looks like on screen.
func (e *editor) shown(g string) string {
	if e.mask != "" {
		return e.mask
	}
	if g == "\n" {
		return newlineMark
	}
	return g
}

// View draws the visible part of the text in exactly width cells and
// returns the cursor's column within it.
func (e *editor) View() (string, int) {
	w := max(1, e.width)
	// Keep the cursor inside the window, with one cell to spare for it
	// at the end of the text.
	if e.pos < e.offset {
		e.offset = e.pos
	}
	for {
		used := 0
		for _, g := range e.text[e.offset:e.pos] {
			used += width(e.shown(g))
		}
		if used < w || e.offset >= e.pos {
			break
		}
		e.offset++
	}
	var b strings.Builder
	used, cursor := 0, 0
	for i := e.offset; i <= len(e.text); i++ {
		if i == e.pos {
			cursor = used
		}
		if i == len(e.text) {
			break
		}
		s := e.shown(e.text[i])
		cw := width(s)
		if used+cw > w {
			break
		}
		b.WriteString(s)
		used += cw
	}
	return fit(b.String(), w), min(cursor, w-1)
}

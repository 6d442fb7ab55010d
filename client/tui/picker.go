package tui

import (
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/parley-chat/parley/client/compose"
)

// picker is the emoji picker: a search field over a grid of emoji.
//
// Its update takes keys and pastes while it is open; its view is its
// box, which the screen draws over the panes.
type picker struct {
	query   editor
	results []compose.Emoji
	sel     int
	cols    int
	w, h    int
}

const pickerPrompt = "🔍 "

// favourites fill the picker before anything is typed.
var favourites = []string{
	":smile:", ":joy:", ":heart:", ":thumbsup:", ":tada:", ":pray:", ":wave:", ":fire:",
	":blush:", ":cry:", ":thinking:", ":eyes:", ":white_check_mark:", ":rocket:", ":coffee:", ":sob:",
	":sunglasses:", ":ok_hand:", ":clap:", ":star:", ":100:", ":sparkles:", ":wink:", ":rofl:",
}

func (m *Model) openPicker(query string) {
	p := &picker{}
	p.query.SetValue(query)
	p.search()
	m.picker = p
}

func (p *picker) search() {
	q := strings.TrimSpace(p.query.Value())
	if q == "" {
		p.results = p.results[:0]
		for _, code := range favourites {
			if r := compose.Search(code, 1); len(r) == 1 && r[0].Code == code {
				p.results = append(p.results, r[0])
			}
		}
	} else {
		p.results = p.results[:0]
		for _, e := range compose.Search(q, 400) {
			if simpleEmoji(e.Char) && len(p.results) < 120 {
				p.results = append(p.results, e)
			}
		}
	}
	p.sel = 0
}

// simpleEmoji reports an emoji of one code point, perhaps with the
// emoji presentation selector. Sequences joined with zero-width joiners,
// flags and keycaps are drawn with different widths by different
// terminals, which would break the grid; they can still be typed as
// :shortcodes:.
func simpleEmoji(s string) bool {
	r := []rune(s)
	return len(r) == 1 || (len(r) == 2 && r[1] == '\ufe0f')
}

// Update takes a key or a paste while the picker is open: arrows move
// the selection over the grid, Enter inserts the emoji selected and
// closes, Tab inserts it and stays open, Esc (or F3 again) closes, and
// anything else edits the search. insert is the emoji to put on the
// input line, if any; done says that the picker closes.
func (p *picker) Update(msg tea.Msg) (insert string, done bool) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		if p.query.Update(msg) {
			p.search()
		}
		return "", false
	}
	cols := max(1, p.cols)
	switch k.String() {
	case "esc", "f3", "alt+e":
		return "", true
	case "enter", "tab":
		if p.sel >= 0 && p.sel < len(p.results) {
			insert = p.results[p.sel].Char
		}
		return insert, k.String() == "enter"
	case "left":
		p.sel = max(0, p.sel-1)
	case "right":
		p.sel = max(0, min(len(p.results)-1, p.sel+1))
	case "up":
		if p.sel-cols >= 0 {
			p.sel -= cols
		}
	case "down":
		if p.sel+cols < len(p.results) {
			p.sel += cols
		}
	case "pgdown":
		p.sel = max(0, min(len(p.results)-1, p.sel+cols*4))
	case "pgup":
		p.sel = max(0, p.sel-cols*4)
	default:
		if p.query.Update(k) {
			p.search()
		}
	}
	return "", false
}

// pickerCellW is the width of one emoji and its name in the grid.
const pickerCellW = 20

// SetSize sets the size of the picker's box, borders included.
func (p *picker) SetSize(w, h int) {
	p.w, p.h = w, h
	inner := w - 2
	p.cols = max(1, inner/pickerCellW)
	p.query.SetWidth(max(1, inner-2-width(pickerPrompt)))
}

// cursor is where the search field's cursor is, from the box's top
// left corner.
func (p *picker) cursor() (x, y int) {
	_, c := p.query.View()
	return 2 + width(pickerPrompt) + c, 1
}

// View draws the picker's box: the search field over a grid of the
// emoji found, the selected one highlighted and kept in view.
func (p *picker) View() []string {
	inner := p.w - 2
	qv, _ := p.query.View()
	body := []string{" " + pickerPrompt + qv, stDim.Render(strings.Repeat("─", inner))}
	if len(p.results) == 0 {
		body = append(body, stDim.Render(" no emoji match"))
	}
	gridH := p.h - 2 - len(body)
	firstRow := 0
	if selRow := p.sel / p.cols; selRow >= gridH {
		firstRow = selRow - gridH + 1
	}
	for r := firstRow; r < firstRow+gridH; r++ {
		var b strings.Builder
		for c := 0; c < p.cols; c++ {
			i := r*p.cols + c
			if i >= len(p.results) {
				break
			}
			e := p.results[i]
			cell := fit(" "+e.Char+" "+strings.Trim(e.Code, ":"), pickerCellW)
			if i == p.sel {
				cell = stSelected.Render(cell)
			}
			b.WriteString(cell)
		}
		body = append(body, b.String())
	}
	note := "↑↓←→ choose · Enter insert · Tab insert more · Esc close"
	return box(lipgloss.NewStyle().Bold(true).Render("Emoji"), stDim.Render(note), body, p.w, p.h, colAccent, true)
}

// pickerKey gives a key to the open picker.
func (m *Model) pickerKey(k tea.KeyPressMsg) tea.Cmd {
	if k.String() == "ctrl+c" {
		return m.quit()
	}
	insert, done := m.picker.Update(k)
	if insert != "" {
		m.input.Insert(insert)
	}
	if done {
		m.picker = nil
	}
	return nil
}

// drawPicker puts the picker over the lower middle of the panes.
func (m *Model) drawPicker(rows []string, g *geometry, w int) {
	bw := min(w-2, 64)
	bh := min(g.mainH, 12)
	g.pickerW, g.pickerH = bw, bh
	g.pickerX = max(0, (w-bw)/2)
	g.pickerY = g.mainY + g.mainH - bh
	m.picker.SetSize(bw, bh)
	for i, l := range m.picker.View() {
		y := g.pickerY + i
		if y < len(rows) {
			rows[y] = overlay(rows[y], l, g.pickerX, w)
		}
	}
}

// overlay draws over on top of base starting at column x, keeping the
// line exactly w cells wide.
func overlay(base, over string, x, w int) string {
	left := fit(truncateCells(base, x), x)
	ow := width(over)
	right := ""
	if rest := w - x - ow; rest > 0 {
		right = fit(cutCells(base, x+ow, w), rest)
	}
	return left + over + right
}

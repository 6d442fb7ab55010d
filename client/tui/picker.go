package tui

import (
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/parley-chat/parley/client/compose"
)

// picker is the emoji picker: a search field over a grid of emoji.
type picker struct {
	query   editor
	results []compose.Emoji
	sel     int
	cols    int
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

func (m *Model) pickerKey(k tea.KeyPressMsg) tea.Cmd {
	p := m.picker
	cols := max(1, p.cols)
	switch k.String() {
	case "esc", "f3", "alt+e":
		m.picker = nil
	case "ctrl+c":
		return m.quit()
	case "enter", "tab":
		if p.sel >= 0 && p.sel < len(p.results) {
			m.input.Insert(p.results[p.sel].Char)
		}
		if k.String() == "enter" {
			m.picker = nil
		}
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
	return nil
}

// drawPicker puts the picker over the lower middle of the panes.
func (m *Model) drawPicker(rows []string, g *geometry, w int) {
	p := m.picker
	bw := min(w-2, 64)
	bh := min(g.mainH, 12)
	g.pickerW, g.pickerH = bw, bh
	g.pickerX = max(0, (w-bw)/2)
	g.pickerY = g.mainY + g.mainH - bh
	inner := bw - 2
	const cellW = 20
	p.cols = max(1, inner/cellW)
	qv, _ := p.query.View()
	p.query.SetWidth(max(1, inner-2-width(pickerPrompt)))
	body := []string{" " + pickerPrompt + qv, stDim.Render(strings.Repeat("─", inner))}
	gridH := bh - 2 - len(body)
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
			cell := fit(" "+e.Char+" "+strings.Trim(e.Code, ":"), cellW)
			if i == p.sel {
				cell = stSelected.Render(cell)
			}
			b.WriteString(cell)
		}
		body = append(body, b.String())
	}
	if len(p.results) == 0 {
		body = append(body, stDim.Render(" no emoji match"))
	}
	note := "↑↓←→ choose · Enter insert · Tab insert more · Esc close"
	lines := box(lipgloss.NewStyle().Bold(true).Render("Emoji"), stDim.Render(note), body, bw, bh, colAccent, true)
	for i, l := range lines {
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

package tui

import (
	"fmt"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/parley-chat/parley/shared/protocol"
)

// memberRow is one line of the member pane.
type memberRow = protocol.MemberInfo

// memberPane is the list of the current conversation's members, online
// first, shown or hidden with F2. Its update takes the keys it gets
// while it has the focus and says whom Enter chose; its view is the
// pane, of its size, over the list it is given.
type memberPane struct {
	shown  bool
	sel    int
	offset int // the first row drawn, for the mouse
	w, h   int
}

// SetSize sets the pane's size, borders included; w is 0 while the
// screen has no room for it.
func (p *memberPane) SetSize(w, h int) { p.w, p.h = w, h }

// toggle shows the pane if it is hidden, and hides it otherwise; it
// reports whether it is shown now.
func (p *memberPane) toggle() bool {
	p.shown = !p.shown
	return p.shown
}

// reset moves the selection to the top, for another conversation.
func (p *memberPane) reset() { p.sel = 0 }

// Update moves the selection over list with ↑↓ (or k, j); Enter (or
// space) chooses the name selected. used says whether the key was the
// pane's.
func (p *memberPane) Update(k tea.KeyPressMsg, list []memberRow) (chosen string, used bool) {
	switch k.String() {
	case "up", "k":
		p.sel = max(0, p.sel-1)
	case "down", "j":
		p.sel = max(0, min(len(list)-1, p.sel+1))
	case "enter", "space":
		if p.sel < len(list) {
			return list[p.sel].Name, true
		}
	default:
		return "", false
	}
	return "", true
}

// clicked selects the member drawn on row (0 is the first inside the
// border) and returns their name, or "" for a row with nobody.
func (p *memberPane) clicked(row int, list []memberRow) string {
	i := row + p.offset
	if row < 0 || i >= len(list) {
		return ""
	}
	p.sel = i
	return list[i].Name
}

// View draws list, with more members not listed, for the user me.
func (p *memberPane) View(list []memberRow, more int, me string, focused bool) []string {
	inner := p.w - 2
	innerH := p.h - 2
	on := 0
	var rows []string
	for i, mi := range list {
		dot := stDim.Render("○ ")
		if mi.Online {
			dot = stOK.Render("● ")
			on++
		}
		name := clean(mi.Name, false)
		style := lipgloss.NewStyle()
		if sameName(mi.Name, me) {
			style = stMe
		} else if !mi.Online {
			style = stDim
		}
		owner := ""
		switch {
		case mi.Owner:
			owner = stOwnerMark.Render(" ★")
		case mi.Operator:
			owner = stOwnerMark.Render(" op")
		}
		if mi.Voice {
			owner += stDim.Render(" +v")
		}
		row := fit(dot+style.Render(name)+owner, inner)
		if focused && i == p.sel {
			row = stSelected.Render(fit(ansiStrip(dot+name+owner), inner))
		}
		rows = append(rows, row)
	}
	if more > 0 {
		rows = append(rows, stDim.Render(fmt.Sprintf(" and %d more", more)))
	}
	p.offset = 0
	if len(rows) > innerH {
		p.offset = max(0, min(len(rows)-innerH, p.sel-innerH/2))
		rows = rows[p.offset:]
	}
	border := colDim
	if focused {
		border = colAccent
	}
	title := fmt.Sprintf("Online %d/%d", on, len(list)+more)
	return box(title, "F2 hide", rows, p.w, p.h, border, focused)
}

package tui

import (
	"fmt"

	tea "charm.land/bubbletea/v2"
)

// chatList is the list of conversations down the left side: rooms,
// then private conversations, each with its unread count. Its update
// takes the keys it gets while it has the focus and says which
// conversation Enter chose; its view is the pane, of its size.
type chatList struct {
	sel    int     // the conversation selected while the list has the focus
	rows   []*conv // what each row drawn shows; nil for a heading
	offset int     // the first row drawn
	w, h   int
}

// SetSize sets the pane's size, borders included; w is 0 while the
// screen has no room for it.
func (l *chatList) SetSize(w, h int) { l.w, l.h = w, h }

// Update moves the selection over n conversations with ↑↓ (or k, j);
// Enter (or space) chooses the one selected. used says whether the key
// was the list's.
func (l *chatList) Update(k tea.KeyPressMsg, n int) (chosen int, used bool) {
	switch k.String() {
	case "up", "k":
		l.sel = max(0, l.sel-1)
	case "down", "j":
		l.sel = min(n-1, l.sel+1)
	case "enter", "space":
		return l.sel, true
	default:
		return -1, false
	}
	return -1, true
}

// clicked is the conversation drawn on row (0 is the first inside the
// border), or nil.
func (l *chatList) clicked(row int) *conv {
	i := row + l.offset
	if row < 0 || i >= len(l.rows) {
		return nil
	}
	return l.rows[i]
}

// View draws convs, with cur the one shown.
func (l *chatList) View(convs []*conv, cur *conv, focused bool) []string {
	inner := l.w - 2
	innerH := l.h - 2
	var rows []string
	l.rows = nil
	privHeader := false
	for i, c := range convs {
		if c.private() && !privHeader {
			privHeader = true
			rows = append(rows, stDim.Render(fit(" private", inner)))
			l.rows = append(l.rows, nil)
		}
		name := c.title()
		style := stRoom
		if c.private() {
			style = stPrivate
		}
		mark := " "
		if c == cur {
			mark = "▸"
		}
		badge := ""
		switch {
		case c.mention && c.unread > 0:
			badge = stMention.Render(fmt.Sprintf(" @%d ", c.unread))
		case c.unread > 0:
			badge = stBadge.Render(fmt.Sprintf(" %d ", c.unread))
		case !c.joined && !c.private():
			badge = stDim.Render("out")
		}
		num := "  "
		if i < 9 {
			num = stDim.Render(fmt.Sprintf("%d ", i+1))
		}
		left := num + mark + style.Render(name)
		if c == cur {
			left = num + mark + style.Bold(true).Render(name)
		}
		row := fit(left, max(0, inner-width(badge))) + badge
		if focused && i == l.sel {
			row = stSelected.Render(fit(ansiStrip(num+mark+name), max(0, inner-width(badge)))) + badge
		}
		rows = append(rows, row)
		l.rows = append(l.rows, c)
	}
	// Keep the selection in view.
	l.offset = 0
	if len(rows) > innerH {
		sel := l.sel
		for i, c := range l.rows {
			if c == convs[min(sel, len(convs)-1)] {
				sel = i
			}
		}
		l.offset = max(0, min(len(rows)-innerH, sel-innerH/2))
		rows = rows[l.offset:]
	}
	border := colDim
	if focused {
		border = colAccent
	}
	unread := 0
	for _, c := range convs {
		unread += c.unread
	}
	note := ""
	if unread > 0 {
		note = fmt.Sprintf("%d unread", unread)
	}
	return box("Chats", note, rows, l.w, l.h, border, focused)
}

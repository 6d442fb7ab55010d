package tui

import (
	"fmt"
	"image/color"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/charmbracelet/x/ansi"

	"github.com/parley-chat/parley/client/chat"
)

// geometry is where each part of the screen is, for drawing and for the
// mouse.
type geometry struct {
	mainY, mainH     int // the row the panes start on, and their height
	sideW            int // 0 when the conversation list is hidden
	msgX, msgW       int
	memX, memW       int // memW is 0 when the member list is hidden
	xferH            int
	hintY, inputY    int
	innerH           int // lines inside a pane's border
	pickerX, pickerY int
	pickerW, pickerH int
}

// layout recomputes the geometry after a resize or a change of panes.
func (m *Model) layout() geometry {
	var g geometry
	w, h := max(m.width, 20), max(m.height, 8)
	g.xferH = min(len(m.xfers.list), 3, max(0, h-6))
	g.mainY = 1
	g.mainH = max(3, h-1-g.xferH-2)
	g.hintY = g.mainY + g.mainH + g.xferH
	g.inputY = g.hintY + 1
	g.innerH = g.mainH - 2
	if w >= 60 {
		g.sideW = max(14, min(24, w/6))
	}
	if m.members.shown && w-g.sideW >= 44 {
		g.memW = max(14, min(24, w/6))
	}
	g.msgX = g.sideW
	g.msgW = w - g.sideW - g.memW
	g.memX = g.msgX + g.msgW
	m.chats.SetSize(g.sideW, g.mainH)
	m.msgs.SetSize(g.msgW, g.mainH)
	m.xfers.SetSize(w, g.xferH)
	m.members.SetSize(g.memW, g.mainH)
	m.input.SetSize(max(1, w-width(m.prompt())))
	return g
}

func (m *Model) prompt() string {
	return "[" + fit(m.cur.title(), min(width(m.cur.title()), 20)) + "] "
}

// View draws the whole screen.
func (m *Model) View() tea.View {
	g := m.layout()
	w := max(m.width, 20)
	var rows []string
	m.status.SetSize(w)
	rows = append(rows, m.status.View(m.cfg.Now()))

	msgs := m.msgs.View(m.cur, m.otherOnline(m.cur), m.focus == focusMessages, m.render)
	var side, mem []string
	if g.sideW > 0 {
		side = m.chats.View(m.convs, m.cur, m.focus == focusChats)
	}
	if g.memW > 0 {
		mem = m.members.View(m.memberList(), m.cur.membersMore, m.me, m.focus == focusMembers)
	}
	for i := 0; i < g.mainH; i++ {
		var b strings.Builder
		if side != nil {
			b.WriteString(side[i])
		}
		b.WriteString(msgs[i])
		if mem != nil {
			b.WriteString(mem[i])
		}
		rows = append(rows, b.String())
	}
	if m.picker != nil {
		m.drawPicker(rows, &g, w)
	}
	rows = append(rows, m.xfers.View()...)
	rows = append(rows, m.hintLine(w))
	prompt := m.prompt()
	promptStyle := stRoom
	if m.cur.private() {
		promptStyle = stPrivate
	}
	text, cur := m.input.View()
	rows = append(rows, promptStyle.Render(prompt)+text)

	m.geo = g
	v := tea.NewView(strings.Join(rows, "\n"))
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = m.windowTitle()
	if m.picker != nil {
		x, y := m.picker.cursor()
		v.Cursor = tea.NewCursor(g.pickerX+x, g.pickerY+y)
	} else if m.focus == focusInput {
		v.Cursor = tea.NewCursor(width(prompt)+cur, g.inputY)
	}
	return v
}

func (m *Model) windowTitle() string {
	unread := 0
	for _, c := range m.convs {
		unread += c.unread
	}
	t := "Parley · " + m.cur.title()
	if m.alert != "" {
		t = m.alert + " · " + t
	}
	if unread > 0 {
		t = fmt.Sprintf("(%d) %s", unread, t)
	}
	return t
}

// box draws lines inside a rounded border of exactly w×h cells, with a
// title in the top edge and a note in the bottom one.
func box(title, note string, body []string, w, h int, border color.Color, bold bool) []string {
	bs := lipgloss.NewStyle().Foreground(border).Bold(bold)
	inner := max(0, w-2)
	out := make([]string, 0, h)
	top := "─"
	if title != "" {
		top += " " + ansiTruncate(title, max(0, inner-4)) + " "
	}
	out = append(out, bs.Render("╭─")+strings.TrimPrefix(top, "─")+bs.Render(strings.Repeat("─", max(0, inner-width(top)))+"╮"))
	side := bs.Render("│")
	blank := side + strings.Repeat(" ", inner) + side
	for i := 0; i < h-2; i++ {
		if i >= len(body) || body[i] == "" {
			out = append(out, blank)
			continue
		}
		out = append(out, side+fit(body[i], inner)+side)
	}
	bottom := ""
	if note != "" {
		bottom = "─ " + ansiTruncate(note, max(0, inner-4)) + " "
	}
	out = append(out, bs.Render("╰─")+strings.TrimPrefix(bottom, "─")+bs.Render(strings.Repeat("─", max(0, inner-max(1, width(bottom))))+"╯"))
	return out
}

// ansiTruncate cuts styled text to w cells.
func ansiTruncate(s string, w int) string {
	if width(s) <= w {
		return s
	}
	return fit(s, w)
}

// otherOnline reports whether the other person of private conversation
// c is online.
func (m *Model) otherOnline(c *conv) bool {
	k, ok := nameKey(c.id.With)
	return ok && m.online[k]
}

// memberList is who the member pane lists for the current conversation.
func (m *Model) memberList() []memberRow {
	c := m.cur
	if c.private() {
		other := memberRow{Name: c.id.With}
		if k, ok := nameKey(c.id.With); ok {
			other.Online = m.online[k]
		}
		return []memberRow{{Name: m.me, Online: m.status.link.state == chat.Connected}, other}
	}
	out := make([]memberRow, 0, len(c.members))
	for _, mi := range c.members {
		out = append(out, mi)
	}
	return out
}

func ansiStrip(s string) string { return ansi.Strip(s) }

// hintLine shows completion candidates, or the keys that matter now.
func (m *Model) hintLine(w int) string {
	if h := m.input.hint(w); h != "" {
		return h
	}
	var keys [][2]string
	switch m.focus {
	case focusChats:
		keys = [][2]string{{"↑↓", "choose"}, {"Enter", "open"}, {"Esc", "back to typing"}}
	case focusMembers:
		keys = [][2]string{{"↑↓", "choose"}, {"Enter", "private chat"}, {"Esc", "back to typing"}}
	case focusMessages:
		keys = [][2]string{{"↑↓", "choose a message"}, {"Enter/^G", "download file"}, {"r", "recall yours"}, {"e", "edit yours"}, {"q", "reply"}, {"+", "react"}, {"Esc", "back to typing"}}
	default:
		if t := m.typing.view(m.cur.key); t != "" {
			return fit(stDim.Italic(true).Render(t), w)
		}
		keys = [][2]string{{"Enter", "send"}, {"Tab", "complete"}, {"↑↓", "history"}, {"PgUp/PgDn", "scroll"},
			{"^N/^P", "next/prev chat"}, {"F2", "users"}, {"F3", "emoji"}, {"F4", "screenshot"}, {"⇧Tab", "panes"}, {"^G", "download"}, {"^C", "quit"}}
		if len(m.xfers.list) > 0 {
			keys = append([][2]string{{"^X", "cancel transfer"}}, keys...)
		}
		if m.status.link.state == chat.Reconnecting {
			keys = append([][2]string{{"/refresh", "reconnect now"}}, keys...)
		}
	}
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(stDim.Render(" · "))
		}
		b.WriteString(stKey.Render(k[0]) + " " + stDim.Render(k[1]))
	}
	return fit(b.String(), w)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

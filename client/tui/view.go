package tui

import (
	"fmt"
	"image/color"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/charmbracelet/x/ansi"

	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/shared/protocol"
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
	sideRows         []*conv
	sideOffset       int
	msgPad, msgTop   int // blank lines above the messages; first line shown
	memberOffset     int
	pickerX, pickerY int
	pickerW, pickerH int
}

// layout recomputes the geometry after a resize or a change of panes.
func (m *Model) layout() geometry {
	var g geometry
	w, h := max(m.width, 20), max(m.height, 8)
	g.xferH = min(len(m.transfers), 3, max(0, h-6))
	g.mainY = 1
	g.mainH = max(3, h-1-g.xferH-2)
	g.hintY = g.mainY + g.mainH + g.xferH
	g.inputY = g.hintY + 1
	g.innerH = g.mainH - 2
	if w >= 60 {
		g.sideW = max(14, min(24, w/6))
	}
	if m.showMembers && w-g.sideW >= 44 {
		g.memW = max(14, min(24, w/6))
	}
	g.msgX = g.sideW
	g.msgW = w - g.sideW - g.memW
	g.memX = g.msgX + g.msgW
	m.input.SetWidth(max(1, w-width(m.prompt())))
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
	rows = append(rows, m.statusLine(w))

	msgs := m.messagePane(&g)
	var side, mem []string
	if g.sideW > 0 {
		side = m.chatPane(&g)
	}
	if g.memW > 0 {
		mem = m.memberPane(&g)
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
	for i, t := range m.transfers {
		if i >= g.xferH {
			break
		}
		rows = append(rows, m.transferLine(t, w))
	}
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
		_, pc := m.picker.query.View()
		v.Cursor = tea.NewCursor(g.pickerX+2+width(pickerPrompt)+pc, g.pickerY+1)
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

// statusLine shows the server, the name, TLS and the connection state.
func (m *Model) statusLine(w int) string {
	left := stBarTitle.Render(" Parley ") + stBar.Render(" "+clean(m.me, false)+" @ "+clean(m.cfg.Server, false)+" ")
	if m.cfg.TLS {
		left += stBar.Render("│ ") + lipgloss.NewStyle().Foreground(colOK).Background(colBarBg).Render("TLS 🔒") + stBar.Render(" ")
	} else {
		left += stBar.Render("│ ") + lipgloss.NewStyle().Foreground(colWarn).Background(colBarBg).Render("no TLS") + stBar.Render(" ")
	}
	left += stBar.Render("│ ") + m.linkText()
	right := stBar.Render(" F1 help ")
	if width(left)+width(right) > w {
		right = ""
	}
	room := w - width(right)
	if width(left) > room {
		left = ansiTruncate(left, room)
	}
	return left + stBar.Render(strings.Repeat(" ", max(0, room-width(left)))) + right
}

// linkText is the connection state, with a countdown while reconnecting.
func (m *Model) linkText() string {
	bar := func(c color.Color, s string) string {
		return lipgloss.NewStyle().Foreground(c).Background(colBarBg).Render(s)
	}
	switch m.link.state {
	case chat.Reconnecting:
		if m.link.refresh {
			return bar(colWarn, "◌ reconnecting now (/refresh) ")
		}
		left := m.link.retryAt.Sub(m.cfg.Now())
		var s string
		if left > 0 {
			secs := int((left + time.Second - 1) / time.Second)
			s = fmt.Sprintf("◌ reconnecting in %ds (attempt %d)", secs, m.link.attempt)
		} else {
			s = fmt.Sprintf("◌ reconnecting… (attempt %d)", m.link.attempt)
		}
		if m.link.err != nil {
			s += ": " + clean(m.link.err.Error(), false)
		}
		return bar(colWarn, s+" ")
	case chat.Closed:
		s := "✖ disconnected"
		if m.link.err != nil {
			s += ": " + clean(m.link.err.Error(), false)
		}
		return bar(colError, s+" ")
	}
	s := "● connected"
	if m.link.note != "" {
		s += " · " + m.link.note
	}
	return bar(colOK, s+" ")
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

// messagePane draws the current conversation.
func (m *Model) messagePane(g *geometry) []string {
	c := m.cur
	inner := max(1, g.msgW-2)
	m.render(c, max(1, inner-2))
	h := g.innerH
	top := c.top(h)
	end := min(len(c.lines), top+h)
	g.msgTop = top
	g.msgPad = max(0, h-(end-top))
	body := make([]string, 0, h)
	for i := 0; i < g.msgPad; i++ {
		body = append(body, "")
	}
	for _, l := range c.lines[top:end] {
		body = append(body, " "+l.s)
	}
	var title string
	border := colAccent
	if c.private() {
		border = colPrivate
		state := stDim.Render("○ offline")
		if k, ok := nameKey(c.id.With); ok && m.online[k] {
			state = stOK.Render("● online")
		}
		title = stPrivate.Render("✉ private · "+clean(c.id.With, false)) + " " + state + stDim.Render(" · only you two see this")
	} else {
		title = stRoom.Bold(true).Render(c.title())
		if c.membersLoaded && len(c.members) > 0 {
			on := 0
			for _, mi := range c.members {
				if mi.Online {
					on++
				}
			}
			title += stDim.Render(fmt.Sprintf(" · %s, %d online", plural(len(c.members)+c.membersMore, "member"), on))
		}
		if !c.joined {
			title += stError.Render(" · not a member")
		}
	}
	note := ""
	if !c.follow {
		if c.newBelow > 0 {
			note = stWarn.Render(fmt.Sprintf("↓ %d new · End: jump to the newest", c.newBelow))
		} else {
			note = stDim.Render("↑ scrolled back · End: jump to the newest")
		}
	}
	return box(title, note, body, g.msgW, g.mainH, border, m.focus == focusMessages)
}

// chatPane draws the list of conversations.
func (m *Model) chatPane(g *geometry) []string {
	inner := g.sideW - 2
	var rows []string
	g.sideRows = nil
	privHeader := false
	for i, c := range m.convs {
		if c.private() && !privHeader {
			privHeader = true
			rows = append(rows, stDim.Render(fit(" private", inner)))
			g.sideRows = append(g.sideRows, nil)
		}
		name := c.title()
		style := stRoom
		if c.private() {
			style = stPrivate
		}
		mark := " "
		if c == m.cur {
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
		if c == m.cur {
			left = num + mark + style.Bold(true).Render(name)
		}
		row := fit(left, max(0, inner-width(badge))) + badge
		if m.focus == focusChats && i == m.chatSel {
			row = stSelected.Render(fit(ansiStrip(num+mark+name), max(0, inner-width(badge)))) + badge
		}
		rows = append(rows, row)
		g.sideRows = append(g.sideRows, c)
	}
	// Keep the selection in view.
	g.sideOffset = 0
	if len(rows) > g.innerH {
		sel := m.chatSel
		for i, c := range g.sideRows {
			if c == m.convs[min(sel, len(m.convs)-1)] {
				sel = i
			}
		}
		g.sideOffset = max(0, min(len(rows)-g.innerH, sel-g.innerH/2))
		rows = rows[g.sideOffset:]
	}
	border := colDim
	if m.focus == focusChats {
		border = colAccent
	}
	unread := 0
	for _, c := range m.convs {
		unread += c.unread
	}
	note := ""
	if unread > 0 {
		note = fmt.Sprintf("%d unread", unread)
	}
	return box("Chats", note, rows, g.sideW, g.mainH, border, m.focus == focusChats)
}

// memberPane draws the member list, online first.
func (m *Model) memberPane(g *geometry) []string {
	inner := g.memW - 2
	list := m.memberList()
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
		if sameName(mi.Name, m.me) {
			style = stMe
		} else if !mi.Online {
			style = stDim
		}
		owner := ""
		if mi.Owner {
			owner = stOwnerMark.Render(" ★")
		}
		row := fit(dot+style.Render(name)+owner, inner)
		if m.focus == focusMembers && i == m.memberSel {
			row = stSelected.Render(fit(ansiStrip(dot+name+owner), inner))
		}
		rows = append(rows, row)
	}
	if m.cur.membersMore > 0 {
		rows = append(rows, stDim.Render(fmt.Sprintf(" and %d more", m.cur.membersMore)))
	}
	g.memberOffset = 0
	if len(rows) > g.innerH {
		g.memberOffset = max(0, min(len(rows)-g.innerH, m.memberSel-g.innerH/2))
		rows = rows[g.memberOffset:]
	}
	border := colDim
	if m.focus == focusMembers {
		border = colAccent
	}
	title := fmt.Sprintf("Online %d/%d", on, len(list)+m.cur.membersMore)
	return box(title, "F2 hide", rows, g.memW, g.mainH, border, m.focus == focusMembers)
}

// memberList is who the member pane lists for the current conversation.
func (m *Model) memberList() []memberRow {
	c := m.cur
	if c.private() {
		other := memberRow{Name: c.id.With}
		if k, ok := nameKey(c.id.With); ok {
			other.Online = m.online[k]
		}
		return []memberRow{{Name: m.me, Online: m.link.state == chat.Connected}, other}
	}
	out := make([]memberRow, 0, len(c.members))
	for _, mi := range c.members {
		out = append(out, mi)
	}
	return out
}

func ansiStrip(s string) string { return ansi.Strip(s) }

// memberRow is one line of the member pane.
type memberRow = protocol.MemberInfo

// hintLine shows completion candidates, or the keys that matter now.
func (m *Model) hintLine(w int) string {
	if m.comp != nil && len(m.comp.cands) > 1 {
		var b strings.Builder
		b.WriteString(stDim.Render("Tab: "))
		for i, cand := range m.comp.cands {
			if i == m.comp.idx {
				b.WriteString(stSelected.Render(strings.TrimSpace(cand)))
			} else {
				b.WriteString(strings.TrimSpace(cand))
			}
			b.WriteString(" ")
		}
		return fit(b.String(), w)
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
		if len(m.transfers) > 0 {
			keys = append([][2]string{{"^X", "cancel transfer"}}, keys...)
		}
		if m.link.state == chat.Reconnecting {
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

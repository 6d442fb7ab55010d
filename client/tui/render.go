package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/lipgloss/v2"

	"github.com/parley-chat/parley/shared/protocol"
)

const (
	minNickWidth = 4
	maxNickWidth = 12
)

// render lays out a conversation's entries as lines w cells wide. It
// runs again only when something changed.
func (m *Model) render(c *conv, w int) {
	if !c.dirty && c.linesW == w {
		return
	}
	c.dirty, c.linesW = false, w
	c.lines = c.lines[:0]
	c.blockAt = make(map[*entry]int, len(c.entries))

	nickW := minNickWidth
	for _, e := range c.entries {
		if e.kind == entMessage || e.kind == entPending {
			nickW = max(nickW, min(maxNickWidth, width(e.from)))
		}
	}
	textW := max(8, w-6-nickW-3)
	indent := strings.Repeat(" ", 6+nickW) + stDim.Render(" │ ")
	// A narrow pane has no room for columns: each entry starts with its
	// time and sender, and its text wraps under them at full width.
	compact := w < 40
	if compact {
		textW = max(4, w)
	}

	var lastDay string
	for _, e := range c.entries {
		c.blockAt[e] = len(c.lines)
		at := e.at.In(m.cfg.Location)
		if e.kind == entMessage {
			if day := at.Format("2006-01-02"); day != lastDay {
				if lastDay != "" || !sameDay(at, m.cfg.Now().In(m.cfg.Location)) {
					c.lines = append(c.lines, line{s: daySeparator(at, w), e: e})
				}
				lastDay = day
			}
		}
		// Wrapping is the costly part: keep each entry's lines until
		// something that shows in them changes.
		key := entryKey{w: w, nickW: nickW, rev: e.rev, sel: e == c.sel, saved: m.downloads[e.id]}
		if e.cache == nil || e.cacheKey != key {
			e.cache, e.cacheKey = m.entryLines(e, at, key.sel, compact, nickW, textW, indent), key
		}
		for _, s := range e.cache {
			c.lines = append(c.lines, line{s: s, e: e})
		}
	}
}

// entryKey is what an entry's rendered lines depend on besides the entry.
type entryKey struct {
	w, nickW int
	rev      int
	sel      bool
	saved    string
}

// entryLines renders one entry.
func (m *Model) entryLines(e *entry, at time.Time, sel, compact bool, nickW, textW int, indent string) []string {
	stamp := at.Format("15:04")
	if sel {
		stamp = stSelected.Render(stamp)
	} else {
		stamp = stDim.Render(stamp)
	}
	if compact {
		return m.compactLines(e, stamp, sel, textW)
	}
	var nick string
	var body []string
	switch e.kind {
	case entMessage, entPending:
		nick = m.nick(e, nickW)
		body = m.messageBody(e, textW, sel)
	case entInfo:
		nick = fitRight(stDim.Render("--"), nickW)
		for _, l := range wrap(e.text, textW) {
			body = append(body, stDim.Render(l))
		}
	case entError:
		nick = fitRight(stError.Render("!!"), nickW)
		for _, l := range wrap(e.text, textW) {
			body = append(body, stError.Render(l))
		}
	}
	if len(body) == 0 {
		body = []string{""}
	}
	out := make([]string, len(body))
	for i, b := range body {
		if i == 0 {
			out[i] = stamp + " " + nick + stDim.Render(" │ ") + b
		} else {
			out[i] = indent + b
		}
	}
	return out
}

// compactLines renders an entry for a narrow pane: a header line with the
// time and sender, then the text.
func (m *Model) compactLines(e *entry, stamp string, sel bool, w int) []string {
	var head string
	var body []string
	switch e.kind {
	case entMessage, entPending:
		head = stamp + " " + m.nick(e, min(width(e.from), max(1, w-6)))
		body = m.messageBody(e, w, sel)
	case entInfo:
		head = stamp + " " + stDim.Render("--")
		for _, l := range wrap(e.text, w) {
			body = append(body, stDim.Render(l))
		}
	case entError:
		head = stamp + " " + stError.Render("!!")
		for _, l := range wrap(e.text, w) {
			body = append(body, stError.Render(l))
		}
	}
	return append([]string{head}, body...)
}

func sameDay(a, b time.Time) bool {
	return a.Year() == b.Year() && a.YearDay() == b.YearDay()
}

func daySeparator(t time.Time, w int) string {
	label := " " + t.Format("Monday, 2 January 2006") + " "
	side := max(0, (w-width(label))/2)
	return stDim.Render(fit(strings.Repeat("─", side)+label+strings.Repeat("─", side), w))
}

// nick draws a sender's name right-aligned in w cells: yours in its own
// colour, a message that mentions you highlighted.
func (m *Model) nick(e *entry, w int) string {
	name := fitRight(e.from, w)
	switch {
	case e.own:
		return stMe.Render(name)
	case e.mention && e.kind == entMessage:
		return stMention.Render(name)
	}
	n := e.from
	if k, ok := nameKey(e.from); ok {
		n = k
	}
	return lipgloss.NewStyle().Foreground(nickColor(n)).Render(name)
}

// messageBody renders a message's text, or its file, in lines of w cells.
func (m *Model) messageBody(e *entry, w int, sel bool) []string {
	if e.recalled {
		return []string{stRecalled.Render("(message recalled)")}
	}
	out := quoteLine(e, w)
	if e.file != nil {
		label := "📎 " + fileLabel(e.file)
		if name, ok := m.stickerSHA[strings.ToLower(e.file.SHA256)]; ok && e.file.SHA256 != "" {
			label = "sticker " + name
		}
		hint := stDim.Render(fmt.Sprintf(" [%d]", e.id))
		if where, ok := m.downloads[e.id]; ok {
			hint += stOK.Render(" ✔ saved to " + where)
		} else if sel {
			hint += stKey.Render(" ⏎/ctrl+g download")
		}
		for i, l := range wrap(label, w) {
			s := stFile.Render(l)
			if i == 0 {
				s += hint
			}
			out = append(out, s)
		}
		if art := m.stickerArt(e.file); art != nil {
			out = append(out, art...)
		}
		if e.text == "" {
			return out
		}
	}
	style := lipgloss.NewStyle()
	if e.kind == entPending {
		style = stDim
	}
	text := e.text
	if e.action {
		text, style = "* "+e.from+" "+e.text, style.Italic(true)
	}
	for _, l := range wrap(text, w) {
		out = append(out, style.Render(l))
	}
	if e.kind == entPending && len(out) > 0 {
		out[len(out)-1] += stDim.Render(" ⧗")
	}
	if e.edited && len(out) > 0 {
		out[len(out)-1] += stDim.Render(" (edited)")
	}
	if len(e.reactions) > 0 {
		var parts []string
		for _, r := range e.reactions {
			parts = append(parts, fmt.Sprintf("%s %d", r.Emoji, r.Count))
		}
		for _, l := range wrap(strings.Join(parts, "  "), w) {
			out = append(out, stDim.Render(l))
		}
	}
	return out
}

// quoteLine is the line above a reply: who wrote the message it answers,
// and its first line.
func quoteLine(e *entry, w int) []string {
	if e.replyTo == 0 {
		return nil
	}
	text := fmt.Sprintf("↪ [%d]", e.replyTo)
	if q := e.quote; q != nil {
		switch {
		case q.Recalled:
			text = "↪ " + q.From + ": (message recalled)"
		case q.Text == "" && q.Kind == protocol.KindFile:
			text = "↪ " + q.From + ": 📎 a file"
		case q.Kind == protocol.KindAction:
			text = "↪ * " + q.From + " " + q.Text
		default:
			text = "↪ " + q.From + ": " + q.Text
		}
	}
	return []string{stDim.Render(fit(text, w))}
}

func nameKey(name string) (string, bool) {
	n, err := protocol.ParseName(name)
	if err != nil {
		return "", false
	}
	return n.Key, true
}

// Scrolling.

// top is the index of the first visible line for a pane h lines high.
func (c *conv) top(h int) int {
	bottom := max(0, len(c.lines)-h)
	if c.follow || c.anchor == nil {
		return bottom
	}
	start, ok := c.blockAt[c.anchor]
	if !ok {
		return bottom
	}
	return max(0, min(bottom, start+c.anchorOff))
}

// scroll moves the view by n lines (negative is up, towards older
// messages) in a pane h lines high.
func (c *conv) scroll(n, h int) {
	bottom := max(0, len(c.lines)-h)
	t := max(0, min(bottom, c.top(h)+n))
	if t >= bottom {
		c.follow, c.anchor, c.newBelow = true, nil, 0
		return
	}
	c.follow = false
	c.anchor = c.lines[t].e
	c.anchorOff = t - c.blockAt[c.anchor]
}

// reveal scrolls so that entry e is visible.
func (c *conv) reveal(e *entry, h int) {
	start, ok := c.blockAt[e]
	if !ok {
		return
	}
	end := start
	for end+1 < len(c.lines) && c.lines[end+1].e == e {
		end++
	}
	t := c.top(h)
	switch {
	case start < t:
		c.scroll(start-t, h)
	case end >= t+h:
		c.scroll(end-(t+h)+1, h)
	}
}

package tui

import (
	"fmt"

	tea "charm.land/bubbletea/v2"
)

// messagePane shows the current conversation's messages, the newest at
// the bottom, and lets the user scroll and choose one. Its update takes
// the scrolling keys always and the others while it has the focus, and
// says what to do with the message chosen; its view is the pane, of its
// size, over the lines of a conversation.
type messagePane struct {
	w, h int
	// As last drawn, for the mouse: the first line shown, and how many
	// blank lines are above it when there are too few to fill the pane.
	top, pad int
}

// SetSize sets the pane's size, borders included.
func (p *messagePane) SetSize(w, h int) { p.w, p.h = w, h }

// lineW is the width messages are laid out in.
func (p *messagePane) lineW() int { return max(1, p.w-4) }

// innerH is how many lines the pane shows.
func (p *messagePane) innerH() int { return p.h - 2 }

// msgAction is what a key asks to do with the selected message.
type msgAction int

const (
	actNone     msgAction = iota
	actDownload           // Enter or d: download its file
	actRecall             // r: recall it (one's own)
	actEdit               // e: edit it (one's own text)
	actReply              // q: quote it in a reply
	actReact              // +: react to it
)

// scrollKey scrolls c with PgUp, PgDn, ctrl+Home and ctrl+End, whatever
// has the focus, and reports whether key was one of them.
func (p *messagePane) scrollKey(key string, c *conv) bool {
	h := p.innerH()
	switch key {
	case "pgup":
		c.scroll(-max(1, h-1), h)
	case "pgdown":
		c.scroll(max(1, h-1), h)
	case "ctrl+end":
		c.scroll(len(c.lines), h)
	case "ctrl+home":
		c.scroll(-len(c.lines), h)
	default:
		return false
	}
	return true
}

// Update takes a key while the pane has the focus: ↑↓ (or k, j) choose
// a message of c, scrolling it into view (render lays c out first); the
// others ask for an action on the chosen message, when it allows it.
// used says whether the key was the pane's.
func (p *messagePane) Update(k tea.KeyPressMsg, c *conv, render func(*conv, int)) (act msgAction, e *entry, used bool) {
	e = c.sel
	switch k.String() {
	case "up", "k":
		p.selectBy(-1, c, render)
	case "down", "j":
		p.selectBy(1, c, render)
	case "enter", "d":
		return actDownload, e, true
	case "r":
		if e != nil && e.own && !e.recalled {
			return actRecall, e, true
		}
	case "e":
		if e != nil && e.own && !e.recalled && e.file == nil {
			return actEdit, e, true
		}
	case "q":
		if e != nil && !e.recalled {
			return actReply, e, true
		}
	case "+":
		if e != nil && !e.recalled {
			return actReact, e, true
		}
	default:
		return actNone, nil, false
	}
	return actNone, nil, true
}

// selectFirst chooses the newest message of c if none is chosen.
func (p *messagePane) selectFirst(c *conv) {
	if c.sel != nil {
		return
	}
	if msgs := c.messages(); len(msgs) > 0 {
		c.sel = msgs[len(msgs)-1]
		c.dirty = true
	}
}

// selectBy moves the chosen message of c by d and scrolls it into view.
func (p *messagePane) selectBy(d int, c *conv, render func(*conv, int)) {
	msgs := c.messages()
	if len(msgs) == 0 {
		return
	}
	i := len(msgs) - 1
	for j, e := range msgs {
		if e == c.sel {
			i = j + d
		}
	}
	i = max(0, min(len(msgs)-1, i))
	c.sel = msgs[i]
	c.dirty = true
	p.reveal(c, c.sel, render)
}

// reveal lays c out and scrolls it so that e is in view.
func (p *messagePane) reveal(c *conv, e *entry, render func(*conv, int)) {
	render(c, p.lineW())
	c.reveal(e, p.innerH())
}

// clicked is the message drawn on row (0 is the first inside the
// border), or nil.
func (p *messagePane) clicked(row int, c *conv) *entry {
	i := p.top + row - p.pad
	if row < p.pad || i >= len(c.lines) {
		return nil
	}
	if e := c.lines[i].e; e != nil && e.kind == entMessage {
		return e
	}
	return nil
}

// View draws c, laid out by render, under a title that says what it
// is: a private conversation (with whether the other person is online)
// or a room with its members.
func (p *messagePane) View(c *conv, otherOnline, focused bool, render func(*conv, int)) []string {
	render(c, p.lineW())
	h := p.innerH()
	top := c.top(h)
	end := min(len(c.lines), top+h)
	p.top = top
	p.pad = max(0, h-(end-top))
	body := make([]string, 0, h)
	for i := 0; i < p.pad; i++ {
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
		if otherOnline {
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
		if c.topic != "" {
			title += stDim.Render(" · " + clean(c.topic, false))
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
	return box(title, note, body, p.w, p.h, border, focused)
}

package tui

import (
	"fmt"
	"image/color"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/parley-chat/parley/client/chat"
)

// linkState is the connection as the status line shows it.
type linkState struct {
	state   chat.State
	attempt int
	retryAt time.Time
	err     error
	note    string // a short note, such as "reconnected"
	refresh bool   // reconnecting because of /refresh
}

// statusBar is the top line of the screen: who is logged in where,
// whether the connection is encrypted, and its state, with a countdown
// while reconnecting. Its update takes the session's connection events
// and its own ticks; its view is one line of its width.
type statusBar struct {
	me, server string
	tls        bool
	link       linkState
	ticking    bool // a tickMsg is on its way
	width      int
}

// SetSize sets the width of the line.
func (s *statusBar) SetSize(w int) { s.width = w }

// Update takes the ticks of the countdown: while reconnecting it asks
// for the next one.
func (s *statusBar) Update(msg tea.Msg) tea.Cmd {
	if _, ok := msg.(tickMsg); !ok {
		return nil
	}
	if s.link.state == chat.Reconnecting {
		return s.tick()
	}
	s.ticking = false
	return nil
}

func (s *statusBar) tick() tea.Cmd {
	s.ticking = true
	return tea.Tick(time.Second, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// reconnecting shows the wait before reconnect attempt ev.Attempt,
// seen at now; byRefresh says that /refresh caused it, which then is
// the reason shown rather than ev.Err. It starts the countdown's ticks.
func (s *statusBar) reconnecting(ev chat.Event, now time.Time, byRefresh bool) tea.Cmd {
	s.link = linkState{state: chat.Reconnecting, attempt: ev.Attempt, retryAt: now.Add(ev.Wait), err: ev.Err}
	if byRefresh {
		s.link.refresh, s.link.err = true, nil
	}
	if !s.ticking {
		return s.tick()
	}
	return nil
}

// refreshing shows that /refresh reconnects now.
func (s *statusBar) refreshing(now time.Time) {
	s.link = linkState{state: chat.Reconnecting, refresh: true, retryAt: now}
}

// reconnected shows the connection back.
func (s *statusBar) reconnected() {
	s.link = linkState{state: chat.Connected, note: "reconnected"}
}

// closed shows the session ended, for err.
func (s *statusBar) closed(err error) {
	s.link.state = chat.Closed
	s.link.err = err
}

// View is the status line at now.
func (s *statusBar) View(now time.Time) string {
	w := s.width
	left := stBarTitle.Render(" Parley ") + stBar.Render(" "+clean(s.me, false)+" @ "+clean(s.server, false)+" ")
	if s.tls {
		left += stBar.Render("│ ") + lipgloss.NewStyle().Foreground(colOK).Background(colBarBg).Render("TLS 🔒") + stBar.Render(" ")
	} else {
		left += stBar.Render("│ ") + lipgloss.NewStyle().Foreground(colWarn).Background(colBarBg).Render("no TLS") + stBar.Render(" ")
	}
	left += stBar.Render("│ ") + s.linkText(now)
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
func (s *statusBar) linkText(now time.Time) string {
	bar := func(c color.Color, text string) string {
		return lipgloss.NewStyle().Foreground(c).Background(colBarBg).Render(text)
	}
	switch s.link.state {
	case chat.Reconnecting:
		if s.link.refresh {
			return bar(colWarn, "◌ reconnecting now (/refresh) ")
		}
		left := s.link.retryAt.Sub(now)
		var t string
		if left > 0 {
			secs := int((left + time.Second - 1) / time.Second)
			t = fmt.Sprintf("◌ reconnecting in %ds (attempt %d)", secs, s.link.attempt)
		} else {
			t = fmt.Sprintf("◌ reconnecting… (attempt %d)", s.link.attempt)
		}
		if s.link.err != nil {
			t += ": " + clean(s.link.err.Error(), false)
		}
		return bar(colWarn, t+" ")
	case chat.Closed:
		t := "✖ disconnected"
		if s.link.err != nil {
			t += ": " + clean(s.link.err.Error(), false)
		}
		return bar(colError, t+" ")
	}
	t := "● connected"
	if s.link.note != "" {
		t += " · " + s.link.note
	}
	return bar(colOK, t+" ")
}

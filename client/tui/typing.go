package tui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/parley-chat/parley/client/command"
	"github.com/parley-chat/parley/shared/protocol"
)

// Typing. The client says the user is typing at most every typingEvery
// while they type text (not a command) in a conversation, and shows who
// else is for typingShown after the last word of it, or until their
// message comes.
const (
	typingEvery = 3 * time.Second
	typingShown = 5 * time.Second
)

type typist struct {
	name  string
	until time.Time
}

type typingExpiredMsg struct{}

// typists is a component of the screen: who else is typing, by
// conversation key and name key, each until a time. Its update takes
// typing events and the messages that end them; its view is the line
// "bob is typing…" for a conversation.
type typists map[string]map[string]typist

// typed notes the typing event f, seen by me at now, and wakes the
// screen when that note expires.
func (ts *typists) typed(f *protocol.Frame, me string, now time.Time) tea.Cmd {
	n, err := protocol.ParseName(f.From)
	if err != nil || sameName(f.From, me) {
		return nil
	}
	key := command.ConvOf(f, me).Key()
	if *ts == nil {
		*ts = typists{}
	}
	if (*ts)[key] == nil {
		(*ts)[key] = map[string]typist{}
	}
	name := f.From
	if f.Nick != "" {
		name = f.Nick
	}
	(*ts)[key][n.Key] = typist{name: clean(name, false), until: now.Add(typingShown)}
	return tea.Tick(typingShown, func(time.Time) tea.Msg { return typingExpiredMsg{} })
}

// stop forgets that name is typing in conversation key: their message
// came.
func (ts typists) stop(key, name string) {
	if n, err := protocol.ParseName(name); err == nil && ts[key] != nil {
		delete(ts[key], n.Key)
	}
}

// expire forgets the notes that have expired by now.
func (ts typists) expire(now time.Time) {
	for k, who := range ts {
		for n, t := range who {
			if !now.Before(t.until) {
				delete(who, n)
			}
		}
		if len(who) == 0 {
			delete(ts, k)
		}
	}
}

// view is "bob is typing…" for conversation key, or "".
func (ts typists) view(key string) string {
	var names []string
	for _, t := range ts[key] {
		names = append(names, t.name)
	}
	sort.Strings(names)
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0] + " is typing…"
	case 2, 3:
		return strings.Join(names, ", ") + " are typing…"
	}
	return fmt.Sprintf("%d people are typing…", len(names))
}

// typed tells the others, now and then, that the user is typing in c.
func (m *Model) typedIn(c *conv) tea.Cmd {
	v := m.input.Value()
	if c == nil || m.ended != nil || strings.TrimSpace(v) == "" || strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "//") {
		return nil
	}
	now := m.cfg.Now()
	if now.Sub(c.typedAt) < typingEvery {
		return nil
	}
	c.typedAt = now
	conn, id := m.conn, c.id
	return func() tea.Msg { conn.Typing(id); return nil }
}

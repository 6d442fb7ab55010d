package tui

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/parley-chat/parley/client/command"
	"github.com/parley-chat/parley/client/lines"
	"github.com/parley-chat/parley/shared/protocol"
)

type entryKind int

const (
	entMessage entryKind = iota
	entPending           // sent, waiting for the server
	entInfo
	entError
)

// entry is one item of a conversation: a message, or a line from the
// client itself.
type entry struct {
	kind     entryKind
	id       uint64 // message id
	seq      int    // local id of a pending send
	from     string
	at       time.Time
	text     string
	file     *protocol.File
	recalled bool
	edited   bool
	action   bool // sent with /me
	replyTo  uint64
	quote    *protocol.Quote
	// reactions, in the order each emoji was first put on; names are
	// kept as sets, so that an event seen twice changes nothing.
	reactions []protocol.Reaction
	own       bool
	mention   bool
	history   bool
	rev       int // bumped on every change that shows
	cache     []string
	cacheKey  entryKey
}

// line is one rendered screen line and the entry it belongs to.
type line struct {
	s string
	e *entry // a day separator belongs to the message after it
}

// conv is one conversation and what the screen keeps for it.
type conv struct {
	id      command.Conv
	key     string
	entries []*entry

	unread  int
	mention bool
	joined  bool   // for rooms: still a member
	topic   string // for rooms: the topic, shown in the header

	// Scrolling: follow keeps the newest line at the bottom; otherwise
	// the first visible line is line anchorOff of anchor's block.
	follow    bool
	anchor    *entry
	anchorOff int
	newBelow  int
	sel       *entry // selected message

	lines   []line
	linesW  int
	dirty   bool
	blockAt map[*entry]int // first line of each entry's block

	members       []protocol.MemberInfo
	membersMore   int
	membersLoaded bool
	joinedAt      map[string]uint64 // key → Model.seq of its last join or leave here

	// recentAsked is set once the newest page of history has been asked
	// for because the conversation was opened with no messages in it.
	recentAsked bool
	// noneYet is the note that there were no messages; the first message
	// to come takes its place.
	noneYet *entry

	// readAt is the read position last sent; readWaits is set while a
	// read waits to be sent (see readLater).
	readAt    uint64
	readWaits bool
	// typedAt is when the user's typing here was last told.
	typedAt time.Time
}

// newest is the id of the newest message shown, or 0.
func (c *conv) newest() uint64 {
	var id uint64
	for _, e := range c.entries {
		if e.kind == entMessage {
			id = max(id, e.id)
		}
	}
	return id
}

func newConv(id command.Conv) *conv {
	return &conv{id: id, key: id.Key(), follow: true, dirty: true}
}

func (c *conv) private() bool { return c.id.With != "" }

// title is "#room" or "@name".
func (c *conv) title() string { return clean(c.id.String(), false) }

// insert adds a message in id order. It reports false for a message
// already there (a catch-up may repeat one), but takes its newer state.
func (c *conv) insert(e *entry) bool {
	i := len(c.entries)
	for i > 0 {
		p := c.entries[i-1]
		if p.kind == entMessage && p.id == e.id {
			if e.recalled && !p.recalled {
				p.recalled, p.file, p.reactions = true, nil, nil
				p.rev++
				c.dirty = true
			}
			if e.history && !p.recalled {
				// History is the message as it is now.
				p.text, p.edited, p.quote, p.reactions = e.text, e.edited, e.quote, e.reactions
				p.rev++
				c.dirty = true
			}
			return false
		}
		if p.kind == entMessage && p.id < e.id {
			break
		}
		if p.kind != entMessage && !e.history {
			break // live messages go after the client's own lines
		}
		i--
	}
	// An older page of history may hold a duplicate further up.
	for _, p := range c.entries[:i] {
		if p.kind == entMessage && p.id == e.id {
			return false
		}
	}
	c.entries = append(c.entries, nil)
	copy(c.entries[i+1:], c.entries[i:])
	c.entries[i] = e
	c.dirty = true
	if c.noneYet != nil {
		c.entries = slices.DeleteFunc(c.entries, func(x *entry) bool { return x == c.noneYet })
		c.noneYet = nil
	}
	return true
}

func (c *conv) add(e *entry) {
	c.entries = append(c.entries, e)
	c.dirty = true
}

// hasMessages reports whether any message, sent or read, is shown.
func (c *conv) hasMessages() bool {
	for _, e := range c.entries {
		if e.kind == entMessage || e.kind == entPending {
			return true
		}
	}
	return false
}

func (c *conv) hasMember(name string) bool { return memberIn(c.members, name) }

func memberIn(list []protocol.MemberInfo, name string) bool {
	for _, mi := range list {
		if sameName(mi.Name, name) {
			return true
		}
	}
	return false
}

func (c *conv) removeMember(name string) {
	for i, mi := range c.members {
		if sameName(mi.Name, name) {
			c.members = append(c.members[:i], c.members[i+1:]...)
			return
		}
	}
}

// messages are the entries that are messages, oldest first.
// message returns the entry of message id, or nil.
func (c *conv) message(id uint64) *entry {
	for i := len(c.entries) - 1; i >= 0; i-- {
		if e := c.entries[i]; e.kind == entMessage && e.id == id {
			return e
		}
	}
	return nil
}

// lastOwn returns the newest of the user's messages that can be edited:
// text, not recalled.
func (c *conv) lastOwn() *entry {
	for i := len(c.entries) - 1; i >= 0; i-- {
		if e := c.entries[i]; e.kind == entMessage && e.own && !e.recalled && e.file == nil {
			return e
		}
	}
	return nil
}

// react applies a react event to e's reactions.
func (e *entry) react(emoji, name string, on bool) {
	for i := range e.reactions {
		r := &e.reactions[i]
		if r.Emoji != emoji {
			continue
		}
		j := slices.IndexFunc(r.Names, func(n string) bool { return sameName(n, name) })
		switch {
		case on && j < 0:
			r.Names = append(slices.Clone(r.Names), name)
			r.Count++
		case !on && j >= 0:
			r.Names = slices.Delete(slices.Clone(r.Names), j, j+1)
			r.Count--
		case !on && r.Count > len(r.Names):
			r.Count-- // one of those the server did not list
		}
		if r.Count <= 0 {
			e.reactions = slices.Delete(e.reactions, i, i+1)
		}
		e.rev++
		return
	}
	if on {
		e.reactions = append(e.reactions, protocol.Reaction{Emoji: emoji, Count: 1, Names: []string{name}})
		e.rev++
	}
}

func (c *conv) messages() []*entry {
	var out []*entry
	for _, e := range c.entries {
		if e.kind == entMessage {
			out = append(out, e)
		}
	}
	return out
}

// Conversations of the model.

func (m *Model) findConv(id command.Conv) *conv {
	key := id.Key()
	for _, c := range m.convs {
		if c.key == key {
			return c
		}
	}
	return nil
}

// convByKey finds a conversation by key, or falls back to the current
// one if it has gone.
func (m *Model) convByKey(key string) *conv {
	for _, c := range m.convs {
		if c.key == key {
			return c
		}
	}
	return m.cur
}

// ensureConv returns a conversation, adding it to the list if new: rooms
// after the lobby in name order, then private conversations in the order
// they started.
func (m *Model) ensureConv(id command.Conv) *conv {
	if c := m.findConv(id); c != nil {
		return c
	}
	c := newConv(id)
	if id.Room != "" {
		c.joined = true
	}
	m.convs = append(m.convs, c)
	sort.SliceStable(m.convs, func(i, j int) bool { return convRank(m.convs[i]) < convRank(m.convs[j]) })
	if id.Room != "" {
		m.rooms[c.key] = id.Room
	} else {
		m.learnName(id.With)
	}
	return c
}

// convRank orders the list: the lobby, rooms by name, then private
// conversations (stable, so in the order they started).
func convRank(c *conv) string {
	switch {
	case c.id.Room != "" && c.key == command.Lobby.Key():
		return "0"
	case c.id.Room != "":
		return "1" + strings.ToLower(c.id.Room)
	}
	return "2"
}

func (m *Model) removeConv(c *conv) {
	if len(m.convs) <= 1 {
		return // the list is never empty
	}
	for i, x := range m.convs {
		if x == c {
			m.convs = append(m.convs[:i], m.convs[i+1:]...)
			break
		}
	}
	if m.cur == c {
		m.switchTo(m.convs[0])
	}
	m.chats.sel = min(m.chats.sel, len(m.convs)-1)
}

// switchTo makes c the current conversation and marks it read.
func (m *Model) switchTo(c *conv) {
	if c == nil {
		return
	}
	m.cur = c
	c.unread, c.mention = 0, false
	if m.alertConv == c.key {
		m.alert, m.alertConv = "", ""
	}
	m.input.comp = nil
	m.members.reset()
	for i, x := range m.convs {
		if x == c {
			m.chats.sel = i
		}
	}
}

func (m *Model) convIndex(c *conv) int {
	for i, x := range m.convs {
		if x == c {
			return i
		}
	}
	return 0
}

func (m *Model) addInfo(c *conv, text string) {
	if c == nil {
		c = m.cur
	}
	c.add(&entry{kind: entInfo, at: m.cfg.Now(), text: text})
}

func (m *Model) addError(c *conv, err error) {
	if c == nil {
		c = m.cur
	}
	c.add(&entry{kind: entError, at: m.cfg.Now(), text: errText(err)})
}

// fileLabel describes a file for a message line.
func fileLabel(f *protocol.File) string {
	if f.Private {
		return fmt.Sprintf("%s (%s) · private to you two", f.Name, lines.HumanSize(f.Size))
	}
	return fmt.Sprintf("%s (%s)", f.Name, lines.HumanSize(f.Size))
}

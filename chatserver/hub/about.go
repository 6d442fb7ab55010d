package hub

import (
	"context"
	"errors"
	"slices"

	"github.com/parley-chat/parley/chatserver/event"
	"github.com/parley-chat/parley/chatserver/store"
	"github.com/parley-chat/parley/shared/protocol"
)

// Edits, reactions and replies are about a message that is already in
// the log. Like a recall, such a request is answered in three steps
// (see handleAbout): once everything the session sent before is
// published, a query reader looks the message up; then, on the hub
// goroutine, the request is checked against it and queued.

// maxReactions bounds the different emoji on one message, and
// maxReactionNames the names a message event lists of all its reactions
// (each one's count says how many there are), so that a message with
// its reactions stays well under the frame limit.
const (
	maxReactions     = 20
	maxReactionNames = 50
)

// handleAbout looks message id up off the hub goroutine, then runs act
// with it on the hub goroutine, replying with act's error if it returns
// one.
func (h *Hub) handleAbout(s *Session, f *protocol.Frame, id uint64, act func(m store.Message, err error) *protocol.Error) error {
	select {
	case <-h.Finish(s):
	case <-h.done:
		return ErrClosed
	}
	var m store.Message
	var err error
	if qerr := h.onQuery(context.Background(), func() { m, err = h.store.Message(context.Background(), id) }); qerr != nil {
		return qerr
	}
	return h.do(func() {
		if !h.attached(s) {
			return
		}
		if perr := act(m, err); perr != nil {
			h.reply(s, perr.Frame(f.ID))
		}
	})
}

// target checks that m, looked up for the session's user to act on
// (what: "edit", "react to", "reply to"), is a message in a
// conversation of theirs that is not recalled. It returns the room's
// members, for a room's message.
func (h *Hub) target(u *user, id uint64, m store.Message, err error, what string) (*room, *members, *protocol.Error) {
	if errors.Is(err, store.ErrNotFound) || (err == nil && !store.IsMessage(m.Kind)) {
		return nil, nil, protocol.Errorf(protocol.CodeNoSuchMessage, "there is no message %d", id)
	}
	if err != nil {
		return nil, nil, h.internal("load message", err)
	}
	var r *room
	var mem *members
	if m.Room != "" {
		if m.Room == protocol.Lobby {
			r = h.lobby
		} else {
			r = h.rooms[m.Room]
		}
		if r == nil || r.created.After(m.Time) {
			return nil, nil, protocol.Errorf(protocol.CodeNoSuchMessage, "there is no message %d", m.ID)
		}
		if !h.isMember(r, u.key) {
			return nil, nil, protocol.Errorf(protocol.CodeNotMember, "message %d is in %s, which you are not in; /join it first", m.ID, r.name)
		}
		mem = r.members
	} else if m.From != u.key && m.To != u.key {
		// Other people's private messages: say nothing of them.
		return nil, nil, protocol.Errorf(protocol.CodeNoSuchMessage, "there is no message %d", m.ID)
	}
	if m.Recalled || h.recalls.has(m.ID) {
		return nil, nil, protocol.Errorf(protocol.CodeRecalled, "message %d was recalled; there is nothing to %s", m.ID, what)
	}
	return r, mem, nil
}

// aboutEntry is a new log entry of kind about m, by u.
func (h *Hub) aboutEntry(u *user, m store.Message, kind string) store.Message {
	h.nextID++
	e := store.Message{ID: h.nextID, Conv: m.Conv, Room: m.Room, From: u.key, FromName: u.name,
		To: m.To, ToName: m.ToName, Kind: kind, Target: m.ID, Time: h.cfg.Now()}
	if m.Room == "" && u.key == m.To && m.From != m.To {
		// From and to name the private conversation as a message of the
		// one who reacts would.
		e.To, e.ToName = m.From, m.FromName
	}
	return e
}

// queueAbout queues entry e (of change kind k), about m, and publishes
// it to everyone in m's conversation once it is durable, replying to
// the request re with reply.
func (h *Hub) queueAbout(s *Session, re uint64, k store.ChangeKind, e, m store.Message, r *room, mem *members, reply *protocol.Frame) {
	h.queue(&record{
		changes: []store.Change{{Kind: k, Message: e}},
		publish: func() {
			h.published(e)
			ev := h.messageEvent(&e, false)
			h.presenceFirst(h.users[e.From], nil)
			if r != nil {
				h.fanoutLog(r, mem, ev)
			} else {
				for _, key := range []string{m.From, m.To} {
					if pu := h.users[key]; pu != nil && pu.sess != nil {
						h.deliverLog(pu.sess, ev)
					}
					if m.From == m.To {
						break
					}
				}
			}
			reply.Re = re
			h.reply(s, reply)
		},
		fail: func(err error) {
			h.lastPub = e.ID // the id is skipped
			h.failReply(s, re)(err)
		},
	})
}

// handleEdit answers an edit: the sender of a text message gives it new
// text, and everyone in its conversation gets an edit event.
func (h *Hub) handleEdit(s *Session, f *protocol.Frame) error {
	if f.Msg == 0 {
		h.do(func() {
			h.reply(s, protocol.Errorf(protocol.CodeBadRequest, "an edit names the message in msg").Frame(f.ID))
		})
		return nil
	}
	return h.handleAbout(s, f, f.Msg, func(m store.Message, err error) *protocol.Error {
		u := s.user
		r, mem, perr := h.target(u, f.Msg, m, err, "edit")
		if perr != nil {
			return perr
		}
		if m.From != u.key {
			return protocol.Errorf(protocol.CodeNotYours, "message %d is not yours; you can only edit your own", m.ID)
		}
		if m.Kind != protocol.KindText && m.Kind != protocol.KindAction {
			return protocol.Errorf(protocol.CodeBadRequest, "message %d is a file; only the text of a text message can be edited", m.ID)
		}
		if perr := protocol.CheckText(f.Text, h.cfg.MaxText); perr != nil {
			return perr
		}
		e := h.aboutEntry(u, m, store.KindEdit)
		e.Text = f.Text
		h.queueAbout(s, f.ID, store.EditMsg, e, m, r, mem, &protocol.Frame{Type: protocol.TypeOK, Msg: m.ID})
		return nil
	})
}

// handleReact answers a react: it puts the user's emoji on the message,
// or takes it back if it is there, and everyone in the conversation
// gets a react event that says which.
func (h *Hub) handleReact(s *Session, f *protocol.Frame) error {
	emoji, perr := protocol.CheckEmoji(f.Emoji)
	if perr == nil && f.Msg == 0 {
		perr = protocol.Errorf(protocol.CodeBadRequest, "a reaction names the message in msg")
	}
	if perr != nil {
		h.do(func() { h.reply(s, perr.Frame(f.ID)) })
		return nil
	}
	return h.handleAbout(s, f, f.Msg, func(m store.Message, err error) *protocol.Error {
		u := s.user
		r, mem, perr := h.target(u, f.Msg, m, err, "react to")
		if perr != nil {
			return perr
		}
		on := true
		i := slices.IndexFunc(m.Reactions, func(r store.Reaction) bool { return r.Emoji == emoji })
		if i >= 0 {
			on = !slices.Contains(m.Reactions[i].Users, u.key)
		} else if len(m.Reactions) >= maxReactions {
			return protocol.Errorf(protocol.CodeBadRequest, "message %d has %d different reactions, the most it can have; add one of those", m.ID, maxReactions)
		}
		e := h.aboutEntry(u, m, store.KindReact)
		e.Text, e.On = emoji, on
		h.queueAbout(s, f.ID, store.ReactMsg, e, m, r, mem, &protocol.Frame{Type: protocol.TypeOK, Msg: m.ID, Emoji: emoji, On: on})
		return nil
	})
}

// handleReply answers a send that replies to a message: the message
// must be in the same conversation and not recalled, and the new one
// carries its quote.
func (h *Hub) handleReply(s *Session, f *protocol.Frame) error {
	return h.handleAbout(s, f, f.ReplyTo, func(m store.Message, err error) *protocol.Error {
		if _, _, perr := h.target(s.user, f.ReplyTo, m, err, "reply to"); perr != nil {
			return perr
		}
		return h.sendReply(s, f, &m)
	})
}

// eventQuote is the quote a message event carries of q.
func eventQuote(q store.Quote) *protocol.Quote {
	if q.From == "" && !q.Recalled {
		return nil // the message replied to is gone (retention)
	}
	return &protocol.Quote{From: q.From, Text: protocol.FirstLine(q.Text), Kind: q.Kind, Recalled: q.Recalled}
}

// eventReactions are the reactions a message event carries: every
// emoji with its count, and the first maxReactionNames names of all of
// them, so that the frame stays small (20 emoji of 50 names each would
// pass the frame limit).
func eventReactions(rs []store.Reaction) []protocol.Reaction {
	var out []protocol.Reaction
	left := maxReactionNames
	for _, r := range rs {
		n := min(len(r.Names), left)
		left -= n
		out = append(out, protocol.Reaction{Emoji: r.Emoji, Count: len(r.Names), Names: append([]string{}, r.Names[:n]...)})
	}
	return out
}

// aboutFrame fills in f, the event of entry m, for an edit or a reaction
// entry, and reports whether m is one.
func aboutFrame(f *protocol.Frame, m *store.Message) (*event.Event, bool) {
	switch m.Kind {
	case store.KindEdit, store.KindReact:
		f.Nick, f.Kind, f.File, f.Recalled, f.Edited, f.ReplyTo, f.Quote, f.Reactions = "", "", nil, false, false, 0, nil, nil
	}
	switch m.Kind {
	case store.KindEdit:
		f.Type, f.Msg, f.Text = protocol.TypeEdit, m.Target, m.Text
		return event.New(event.Edit, f), true
	case store.KindReact:
		f.Type, f.Msg, f.Emoji, f.On, f.Text = protocol.TypeReact, m.Target, m.Text, m.On, ""
		return event.New(event.React, f), true
	}
	return nil, false
}

package hub

import (
	"time"

	"github.com/parley-chat/parley/chatserver/event"
	"github.com/parley-chat/parley/shared/protocol"
)

// Offerer is a Peer that can take an event only while it is keeping up:
// Offer queues ev if the peer's queue is short and drops it otherwise,
// without closing the peer. Typing events go only to peers that are
// Offerers, and only by Offer: they are worth nothing late, so a slow
// reader loses them rather than being sent them.
type Offerer interface {
	Offer(ev *event.Event) bool
}

// typingEvery is the most often one session's typing in one
// conversation is passed on; more often is dropped.
const typingEvery = 2 * time.Second

// typing passes on that the session's user is typing in conversation
// f.Room or f.To to the others in it who are online. Nothing is stored
// and nothing is answered: a typing frame that names no conversation of
// the user's, or comes too soon after the last, is dropped.
func (h *Hub) typing(s *Session, f *protocol.Frame) {
	if !h.attached(s) {
		return
	}
	u := s.user
	ev := &protocol.Frame{Type: protocol.TypeTyping, From: u.name, Nick: u.nick}
	var to []*user
	var conv string
	switch {
	case f.To != "" && f.Room == "":
		other, err := h.userFor(f.To)
		if err != nil || other == u {
			return
		}
		ev.To, conv, to = other.name, "@"+other.key, []*user{other}
	case f.To == "":
		r, err := h.roomFor(f.Room)
		if err != nil || !h.isMember(r, u.key) {
			return
		}
		ev.Room, conv = r.name, "#"+r.key
		if r.isLobby {
			for o := range h.online {
				to = append(to, o.user)
			}
		} else {
			to = r.members.users
		}
	default:
		return
	}
	now := h.cfg.Now()
	if last, ok := s.typed[conv]; ok && now.Sub(last) < typingEvery {
		return
	}
	if s.typed == nil {
		s.typed = map[string]time.Time{}
	}
	s.typed[conv] = now
	e := event.New(event.Typing, ev)
	for _, o := range to {
		if o == u || o.sess == nil || o.sess.holding || o.sess.catchingUp {
			continue
		}
		if p, ok := o.sess.peer.(Offerer); ok && p.Offer(e) && !o.sess.dirty {
			o.sess.dirty = true
			h.dirty = append(h.dirty, o.sess)
		}
	}
}

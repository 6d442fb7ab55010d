package hub

import (
	"github.com/parley-chat/parley/chatserver/event"
	"github.com/parley-chat/parley/shared/protocol"
)

// broadcastPresence announces that u came online or went offline. The
// announcement waits, as Config.PresenceWait says, or until an event of
// u's is fanned out (see presenceFirst), to be sent with others.
func (h *Hub) broadcastPresence(u *user, status string) {
	f := &protocol.Frame{Type: protocol.TypePresence, Name: u.name, Status: status}
	h.presence = append(h.presence, f)
	h.presenceBytes += len(`{"type":"presence","name":"","status":""}`) + len(f.Name) + len(f.Status) + 1
	if !u.presenceWaits {
		u.presenceWaits = true
		h.presenceOf = append(h.presenceOf, u)
	}
}

// presenceFirst sends the waiting presence events if one is about a or b
// (either may be nil), the users an event about to go out is of: nobody
// hears of a user's message or membership before hearing that they came
// online.
func (h *Hub) presenceFirst(a, b *user) {
	if (a != nil && a.presenceWaits) || (b != nil && b.presenceWaits) {
		h.flushPresence()
	}
}

// flushPresence sends the gathered presence events to every online
// session, as one event: one queue entry, and one encoding for each wire
// format, for all of them.
func (h *Hub) flushPresence() {
	if len(h.presence) == 0 {
		return
	}
	b := &event.Event{Kind: event.Presence, Batch: h.presence}
	h.presence, h.presenceBytes = nil, 0
	for _, u := range h.presenceOf {
		u.presenceWaits = false
	}
	clear(h.presenceOf)
	h.presenceOf = h.presenceOf[:0]
	for s := range h.online {
		h.deliver(s, b)
	}
}

package hub

import (
	"context"

	"github.com/parley-chat/parley/chatserver/store"
	"github.com/parley-chat/parley/shared/protocol"
)

// Read positions. The hub keeps each user's position in each
// conversation (user.reads, loaded at start), moves it on a read
// request and when the user sends there or joins a room, and writes
// every move to the store. A login's reply says, for each of the user's
// rooms and private conversations, how many messages from others came
// after the position and how many of those name the user. Those counts
// are read off the hub goroutine with the login's catch-up (see
// countUnread), up to the id published when that read began; what was
// published after it is counted from the recent log on the hub
// goroutine (see fillCounts), so that the counts cover what the client
// has when it has the reply.

// moveRead raises u's position in conv to id and returns the change
// that stores it, or nil if it is there already.
func (h *Hub) moveRead(u *user, conv string, id uint64) []store.Change {
	if id <= u.reads[conv] {
		return nil
	}
	if u.reads == nil {
		u.reads = map[string]uint64{}
	}
	u.reads[conv] = id
	return []store.Change{{Kind: store.SetRead, Read: store.Read{User: u.key, Conv: conv, Msg: id}}}
}

// markRead answers a read request: the user has seen conversation
// f.Room or f.To up to message f.Msg.
func (h *Hub) markRead(s *Session, f *protocol.Frame) *protocol.Error {
	u := s.user
	if f.Msg == 0 {
		return protocol.Errorf(protocol.CodeBadRequest, "a read names the newest message seen in msg")
	}
	var conv string
	if f.To != "" {
		other, err := h.userFor(f.To)
		if err != nil {
			return err
		}
		conv = store.PrivateConv(u.key, other.key)
	} else {
		r, err := h.roomFor(f.Room)
		if err != nil {
			return err
		}
		if !h.isMember(r, u.key) {
			return protocol.Errorf(protocol.CodeNotMember, "you are not in %s", r.name)
		}
		conv = store.RoomConv(r.key)
	}
	changes := h.moveRead(u, conv, min(f.Msg, h.lastPub))
	h.queue(&record{
		changes: changes,
		publish: func() { h.reply(s, &protocol.Frame{Type: protocol.TypeOK, Re: f.ID, Msg: u.reads[conv]}) },
		fail:    h.failReply(s, f.ID),
	})
	return nil
}

// unreadRead is what a login's catch-up read counts: the positions as
// they were when it began, and what it found.
type unreadRead struct {
	names   []string          // the user's name and nick, for mentions
	reads   map[string]uint64 // copied from the user
	skip    bool              // a new user: nothing is unread
	upto    uint64            // counted up to this id
	counts  map[string]store.Count
	private []store.Private
}

// countUnread counts, off the hub goroutine, the unread messages of
// ra's rooms and of the user's newest private conversations, up to
// ra.upto.
func (h *Hub) countUnread(ctx context.Context, ra *readAhead) {
	ur := &ra.unread
	ur.upto, ur.counts, ur.private = ra.upto, map[string]store.Count{}, nil
	if ur.skip {
		return
	}
	private, err := h.store.PrivateConvs(ctx, ra.key, ra.upto, protocol.MaxPrivate)
	if err != nil {
		h.log.Error("private conversations", "user", ra.key, "err", err)
	}
	ur.private = private
	var ask []store.Unread
	for _, c := range ra.convs {
		ask = append(ask, store.Unread{Conv: c, After: ur.reads[c]})
	}
	for _, p := range private {
		ask = append(ask, store.Unread{Conv: p.Conv, After: ur.reads[p.Conv]})
	}
	counts, err := h.store.Counts(ctx, ra.key, ur.names, ask, ra.upto, protocol.MaxUnread)
	if err != nil {
		h.log.Error("unread counts", "user", ra.key, "err", err)
		return
	}
	for _, c := range counts {
		ur.counts[c.Conv] = c
	}
}

// fillCounts puts the unread counts and the private conversations in
// the login reply ok of u, on the hub goroutine, adding what was
// published after the count.
func (h *Hub) fillCounts(u *user, ra *readAhead, ok *protocol.Frame) {
	ur := &ra.unread
	if ur.skip || ur.counts == nil {
		return
	}
	private := append([]store.Private(nil), ur.private...)
	for _, m := range h.recent.since(ur.upto) {
		if !store.IsMessage(m.Kind) {
			continue
		}
		if m.Room == "" {
			if m.From != u.key && m.To != u.key {
				continue
			}
			p := store.Private{Conv: m.Conv, With: m.To, WithName: m.ToName, Last: m.ID}
			if m.To == u.key {
				p.With, p.WithName = m.From, m.FromName
			}
			for i, q := range private {
				if q.Conv == m.Conv {
					private = append(private[:i], private[i+1:]...)
					break
				}
			}
			private = append([]store.Private{p}, private...)
		} else if _, in := u.rooms[m.Room]; !in && m.Room != protocol.Lobby {
			continue
		}
		if m.From == u.key || m.Recalled || m.ID <= u.reads[m.Conv] {
			continue
		}
		c := ur.counts[m.Conv]
		c.Unread = min(c.Unread+1, protocol.MaxUnread)
		if h.mentions(u, m.Text) {
			c.Mentions = min(c.Mentions+1, protocol.MaxUnread)
		}
		ur.counts[m.Conv] = c
	}
	for i := range ok.Rooms {
		if n, err := protocol.ParseRoom(ok.Rooms[i].Name); err == nil {
			c := ur.counts[store.RoomConv(n.Key)]
			ok.Rooms[i].Unread, ok.Rooms[i].Mentions = c.Unread, c.Mentions
		}
	}
	for _, p := range private[:min(len(private), protocol.MaxPrivate)] {
		c := ur.counts[p.Conv]
		// Every message of a private conversation is for the user.
		pi := protocol.PrivateInfo{Name: h.userName(p.With), Online: h.users[p.With] != nil && h.users[p.With].sess != nil,
			Last: p.Last, Unread: c.Unread, Mentions: c.Unread}
		if pi.Name == p.With {
			pi.Name = p.WithName
		}
		ok.Private = append(ok.Private, pi)
	}
	// A reply past the frame limit would close the connection: the
	// oldest private conversations go first.
	for len(ok.Private) > 0 && len(protocol.Encode(ok)) > protocol.DefaultMaxFrame {
		ok.Private = ok.Private[:len(ok.Private)-1]
	}
}

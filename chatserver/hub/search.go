package hub

import (
	"context"
	"unicode/utf8"

	"github.com/parley-chat/parley/chatserver/event"
	"github.com/parley-chat/parley/chatserver/store"
	"github.com/parley-chat/parley/shared/protocol"
)

// maxSearchWords bounds the words of one search.
const maxSearchWords = 16

// handleSearch answers a search: the newest matches in the user's
// conversations (or in the one named), as message events with search
// and history set, newest first, then the reply with how many. It is
// checked on the hub goroutine, read by a query reader, and answered on
// the hub goroutine, as a history page is (see handleRead).
func (h *Hub) handleSearch(s *Session, f *protocol.Frame) error {
	words := store.SearchWords(f.Text)
	var perr *protocol.Error
	switch {
	case len(f.Text) > protocol.MaxSearchBytes || !utf8.ValidString(f.Text):
		perr = protocol.Errorf(protocol.CodeBadSearch, "a search has at most %d bytes of text", protocol.MaxSearchBytes)
	case len(words) == 0:
		perr = protocol.Errorf(protocol.CodeBadSearch, "a search needs words to look for")
	case len(words) > maxSearchWords:
		perr = protocol.Errorf(protocol.CodeBadSearch, "a search has at most %d words", maxSearchWords)
	}
	if perr != nil {
		return h.do(func() { h.reply(s, perr.Frame(f.ID)) })
	}
	var convs []string
	var private bool
	var rooms map[string]string
	var ok bool
	if err := h.wait(func() {
		if !h.attached(s) {
			return
		}
		u := s.user
		var perr *protocol.Error
		convs, private, perr = h.searchIn(u, f)
		if perr != nil {
			h.reply(s, perr.Frame(f.ID))
			return
		}
		rooms = map[string]string{protocol.Lobby: protocol.Lobby}
		for k, r := range u.rooms {
			rooms[k] = r.name
		}
		ok = true
	}); err != nil || !ok {
		return err
	}
	var frames []*event.Event
	var err error
	if qerr := h.onQuery(context.Background(), func() {
		var msgs []store.Message
		msgs, err = h.store.Search(context.Background(), s.Key, convs, private, words, protocol.SearchResults)
		for i := range msgs {
			ev := entryEvent(&msgs[i], rooms[msgs[i].Room], true)
			ev.Frame.Search = true
			ev.JSON() // encoded here, off the hub goroutine
			frames = append(frames, ev)
		}
	}); qerr != nil {
		return qerr
	}
	return h.do(func() {
		if !h.attached(s) {
			return
		}
		if err != nil {
			h.reply(s, h.internal("search", err).Frame(f.ID))
			return
		}
		for _, ev := range frames {
			h.deliver(s, ev)
		}
		h.reply(s, &protocol.Frame{Type: protocol.TypeOK, Re: f.ID, Limit: len(frames)})
	})
}

// searchIn is where a search looks: the conversation f names, or all of
// u's (their rooms, the lobby and, with private, their private
// conversations).
func (h *Hub) searchIn(u *user, f *protocol.Frame) ([]string, bool, *protocol.Error) {
	switch {
	case f.Room != "" && f.To != "":
		return nil, false, protocol.Errorf(protocol.CodeBadRequest, "a search looks in a room or in a private conversation, not both")
	case f.To != "":
		other, err := h.userFor(f.To)
		if err != nil {
			return nil, false, err
		}
		return []string{store.PrivateConv(u.key, other.key)}, false, nil
	case f.Room != "":
		r, err := h.roomFor(f.Room)
		if err != nil {
			return nil, false, err
		}
		if !h.isMember(r, u.key) {
			return nil, false, protocol.Errorf(protocol.CodeNotMember, "you are not in %s; /join it to search it", r.name)
		}
		return []string{store.RoomConv(r.key)}, false, nil
	}
	return h.convs(u), true, nil
}

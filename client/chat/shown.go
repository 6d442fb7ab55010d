package chat

import (
	"sort"

	"github.com/parley-chat/parley/shared/protocol"
)

// maxSpans bounds the spans kept for one conversation. Past it the lowest
// span is forgotten: a page that far back would be shown again.
const maxSpans = 64

// shown remembers which message and recall ids a session has handed out,
// so that none is handed out twice in the session's life, whether it comes
// again live (a catch-up after a reconnect resends what came after the
// resume point, which can be older than a room's history shown on joining)
// or in a history page (joining a room again, paging back over what is
// shown). It keeps, for each conversation, a few spans of ids: every
// message of the conversation whose id is in a span has been handed out.
// A span grows only where nothing can be missing from it: from one
// message to the next within a history page, from one live event to the
// next while the server delivers the conversation in full, and from a
// page's oldest message to the id it paged back from.
//
// The caller holds the Session's lock.
type shown struct {
	me       string // the user's name, compared form
	lastLive uint64 // highest live id received; live events come in increasing order
	epoch    uint64 // counts replies: a history page ends with its reply
	convs    map[string]*convShown
}

// convShown is what was handed out in one conversation.
type convShown struct {
	spans []span // sorted, neither overlapping nor touching
	// liveTail is the last live event received in the conversation while
	// the server has been delivering everything in it since; 0 if none.
	liveTail uint64
	// pageTail is the newest message so far of the history page being
	// received, if pageEpoch is the current epoch.
	pageTail  uint64
	pageEpoch uint64
}

type span struct{ lo, hi uint64 }

// admit records a message or recall event and reports whether it is new.
// gappy marks a live event that does not continue the conversation's live
// stream: the private messages of a fresh login's catch-up are only those
// no other device received.
func (s *shown) admit(f *protocol.Frame, gappy bool) bool {
	cv := s.conv(s.keyOf(f))
	if f.History {
		dup := cv.contains(f.ID)
		lo := f.ID
		if cv.pageEpoch == s.epoch && cv.pageTail != 0 && cv.pageTail < f.ID {
			lo = cv.pageTail // the page holds every message in between
		}
		cv.add(lo, f.ID)
		cv.pageTail, cv.pageEpoch = f.ID, s.epoch
		return !dup
	}
	if f.ID <= s.lastLive {
		return false // delivered live before: a catch-up repeats it
	}
	s.lastLive = f.ID
	dup := cv.contains(f.ID) // shown in a history page before it came live
	lo := f.ID
	if !gappy {
		if cv.liveTail != 0 {
			lo = cv.liveTail
		}
		cv.liveTail = f.ID
	}
	cv.add(lo, f.ID)
	return !dup
}

// reply notes that a reply arrived: any history page before it is over.
func (s *shown) reply() { s.epoch++ }

// pageEnd notes the end of a history page of conv asked for with before:
// the page is the newest messages below before, so none lies between its
// newest and before.
func (s *shown) pageEnd(conv string, before uint64) {
	cv := s.convs[conv]
	if cv == nil || before == 0 || cv.pageEpoch != s.epoch || cv.pageTail == 0 || cv.pageTail >= before {
		return
	}
	cv.add(cv.pageTail, before-1)
}

// left notes that the user is no longer in room: its live stream stops,
// so a later one does not continue it.
func (s *shown) left(room string) {
	if cv := s.convs["#"+roomKey(room)]; cv != nil {
		cv.liveTail = 0
	}
}

// loggedIn notes a login's rooms: a room the user is not in any more had
// its live stream stopped while the client was away.
func (s *shown) loggedIn(rooms []protocol.RoomInfo) {
	in := make(map[string]bool, len(rooms))
	for _, r := range rooms {
		in["#"+roomKey(r.Name)] = true
	}
	for k, cv := range s.convs {
		if k[0] == '#' && !in[k] {
			cv.liveTail = 0
		}
	}
}

func (s *shown) conv(k string) *convShown {
	if s.convs == nil {
		s.convs = map[string]*convShown{}
	}
	cv := s.convs[k]
	if cv == nil {
		cv = &convShown{}
		s.convs[k] = cv
	}
	return cv
}

// keyOf is the conversation of a message or recall event: "#" and the
// room, or "@" and the other person (the user, for notes to oneself).
func (s *shown) keyOf(f *protocol.Frame) string {
	if f.Room != "" {
		return "#" + roomKey(f.Room)
	}
	other := nameKey(f.From)
	if other == s.me {
		other = nameKey(f.To)
	}
	return "@" + other
}

// requestConv is the conversation of a history request.
func requestConv(f *protocol.Frame) string {
	if f.To != "" {
		return "@" + nameKey(f.To)
	}
	room := f.Room
	if room == "" {
		room = protocol.Lobby
	}
	return "#" + roomKey(room)
}

func roomKey(room string) string {
	if n, err := protocol.ParseRoom(room); err == nil {
		return n.Key
	}
	return room
}

func nameKey(name string) string {
	if n, err := protocol.ParseName(name); err == nil {
		return n.Key
	}
	return name
}

func (cv *convShown) contains(id uint64) bool {
	i := sort.Search(len(cv.spans), func(i int) bool { return cv.spans[i].hi >= id })
	return i < len(cv.spans) && cv.spans[i].lo <= id
}

// add puts [lo, hi] in the spans, joining those it overlaps or touches.
func (cv *convShown) add(lo, hi uint64) {
	// The first span that ends at or after lo-1 and the first that starts
	// after hi+1 bound the ones to join.
	i := sort.Search(len(cv.spans), func(i int) bool { return cv.spans[i].hi+1 >= lo })
	j := sort.Search(len(cv.spans), func(j int) bool { return cv.spans[j].lo > hi+1 })
	if i < j {
		lo = min(lo, cv.spans[i].lo)
		hi = max(hi, cv.spans[j-1].hi)
	}
	merged := span{lo, hi}
	cv.spans = append(cv.spans[:i], append([]span{merged}, cv.spans[j:]...)...)
	if len(cv.spans) > maxSpans {
		cv.spans = append(cv.spans[:0], cv.spans[1:]...)
	}
}

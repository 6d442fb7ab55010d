package hub

import (
	"sort"
	"time"

	"github.com/parley-chat/parley/chatserver/store"
)

// recentLog keeps the entries the hub published last, in id order, up to
// a bound in bytes. A catch-up read off the hub goroutine up to some id
// gets what was published after that id from here, on the hub goroutine,
// without reading the store (see finishCatchUp).
type recentLog struct {
	max   int             // bytes the entries may take, roughly
	size  int             // bytes they take
	ents  []store.Message // ents[head:] are kept, oldest first
	head  int
	floor uint64 // every entry published with a higher id is kept
}

// cost is roughly what an entry takes: its text and file reference, and
// the rest of the struct and its strings.
func cost(m *store.Message) int { return len(m.Text) + len(m.File) + 256 }

// add keeps m, published last, and lets the oldest entries go to stay
// within the bound.
func (l *recentLog) add(m store.Message) {
	l.ents = append(l.ents, m)
	l.size += cost(&m)
	for l.size > l.max && l.head < len(l.ents) {
		old := &l.ents[l.head]
		l.floor, l.size = old.ID, l.size-cost(old)
		*old = store.Message{}
		l.head++
	}
	if l.head > 1024 && l.head > len(l.ents)/2 {
		n := copy(l.ents, l.ents[l.head:])
		clear(l.ents[n:])
		l.ents, l.head = l.ents[:n], 0
	}
}

// covers reports whether every entry published after id after is kept.
func (l *recentLog) covers(after uint64) bool { return after >= l.floor }

// since returns the kept entries with ids above after. They are the
// log's own: not to be changed.
func (l *recentLog) since(after uint64) []store.Message {
	kept := l.ents[l.head:]
	i := sort.Search(len(kept), func(i int) bool { return kept[i].ID > after })
	return kept[i:]
}

// recalled erases the text and file of a kept entry that was recalled,
// as the store does, so that a catch-up sends its tombstone.
func (l *recentLog) recalled(id uint64) {
	kept := l.ents[l.head:]
	i := sort.Search(len(kept), func(i int) bool { return kept[i].ID >= id })
	if i < len(kept) && kept[i].ID == id {
		m := &kept[i]
		l.size -= len(m.Text) + len(m.File)
		m.Recalled, m.Text, m.File = true, "", ""
	}
	// Its edits come after it, and their text goes too, and so does
	// what replies to it quote of it.
	for j := i; j < len(kept); j++ {
		e := &kept[j]
		if e.Kind == store.KindEdit && e.Target == id {
			l.size -= len(e.Text)
			e.Text = ""
		}
		if e.ReplyTo == id {
			e.Quote.Text, e.Quote.Recalled = "", true
		}
	}
}

// published records that m, a message or recall entry, was published.
func (h *Hub) published(m store.Message) {
	h.lastPub = m.ID
	if m.Kind == store.KindRecall {
		h.recent.recalled(m.Target)
	}
	h.recent.add(m)
}

// recallSet remembers the messages recalled, while a recall of them could
// still be accepted: a recall looked up off the hub goroutine may find
// the store not yet showing the recall of the same message just before.
type recallSet struct {
	ids   map[uint64]bool
	order []recalledAt // in the order added
}

type recalledAt struct {
	id   uint64
	sent time.Time // when the recalled message was sent
}

func (r *recallSet) has(id uint64) bool { return r.ids[id] }

// add remembers id, a message sent at sent, and forgets those sent
// before cutoff: they are past the recall window, so no recall of them
// is accepted whatever is remembered.
func (r *recallSet) add(id uint64, sent, cutoff time.Time) {
	for len(r.order) > 0 && r.order[0].sent.Before(cutoff) {
		delete(r.ids, r.order[0].id)
		r.order = r.order[1:]
	}
	r.ids[id] = true
	r.order = append(r.order, recalledAt{id, sent})
}

// forget drops id, whose recall could not be stored.
func (r *recallSet) forget(id uint64) { delete(r.ids, id) }

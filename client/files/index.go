package files

import (
	"sync"

	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/shared/protocol"
)

// FileMessage is a file message seen in chat.
type FileMessage struct {
	ID   uint64        `json:"id"`
	From string        `json:"from"`
	Room string        `json:"room,omitempty"`
	To   string        `json:"to,omitempty"`
	Time int64         `json:"time"`
	File protocol.File `json:"file"`
}

// Index remembers the file messages seen in a session's events, live and
// from history, so that /download can take a message id. It keeps the
// most recent ones up to a limit. It is safe for concurrent use.
type Index struct {
	mu    sync.Mutex
	max   int
	byID  map[uint64]FileMessage
	order []uint64 // ids in the order they were added
}

// NewIndex returns an index that keeps up to max messages.
func NewIndex(max int) *Index {
	if max <= 0 {
		max = 10000
	}
	return &Index{max: max, byID: map[uint64]FileMessage{}}
}

// Observe records a file message event and forgets a recalled one.
func (x *Index) Observe(ev chat.Event) {
	if ev.Kind != chat.EvFrame || ev.Frame == nil {
		return
	}
	x.ObserveFrame(ev.Frame)
}

// ObserveFrame is Observe for a bare frame.
func (x *Index) ObserveFrame(f *protocol.Frame) {
	x.mu.Lock()
	defer x.mu.Unlock()
	switch {
	case f.Type == protocol.TypeRecall || (f.Type == protocol.TypeMessage && f.Recalled):
		id := f.ID
		if f.Type == protocol.TypeRecall && f.Msg != 0 {
			id = f.Msg
		}
		delete(x.byID, id)
	case f.Type == protocol.TypeMessage && f.Kind == protocol.KindFile && f.File != nil && f.ID != 0:
		if _, ok := x.byID[f.ID]; !ok {
			x.order = append(x.order, f.ID)
		}
		x.byID[f.ID] = FileMessage{ID: f.ID, From: f.From, Room: f.Room, To: f.To, Time: f.Time, File: *f.File}
		for len(x.byID) > x.max && len(x.order) > 0 {
			delete(x.byID, x.order[0])
			x.order = x.order[1:]
		}
		if len(x.order) > 2*x.max {
			x.compact()
		}
	}
}

// compact drops the ids of forgotten messages from the order.
func (x *Index) compact() {
	kept := x.order[:0]
	for _, id := range x.order {
		if _, ok := x.byID[id]; ok {
			kept = append(kept, id)
		}
	}
	x.order = kept
}

// Lookup returns the file message with id.
func (x *Index) Lookup(id uint64) (FileMessage, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	m, ok := x.byID[id]
	return m, ok
}

// Latest returns the most recent file message seen.
func (x *Index) Latest() (FileMessage, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for i := len(x.order) - 1; i >= 0; i-- {
		if m, ok := x.byID[x.order[i]]; ok {
			return m, true
		}
	}
	return FileMessage{}, false
}

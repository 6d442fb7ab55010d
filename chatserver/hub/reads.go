package hub

import (
	"context"
	"math"

	"github.com/parley-chat/parley/chatserver/event"
	"github.com/parley-chat/parley/chatserver/store"
	"github.com/parley-chat/parley/shared/protocol"
)

// Requests that read the store (join's history, history, recall) are
// answered in three steps, so that the hub goroutine never waits for the
// store:
//
//  1. on the hub goroutine, the request is checked and what to read is
//     fixed: the conversation, and the newest id to read (the last one
//     published, so that what is published later comes live);
//  2. one of the hub's query readers reads and encodes it;
//  3. on the hub goroutine again, the answer is sent.
//
// The connection's goroutine, which calls Handle, waits through all
// three, so a session's requests are answered one after another, in
// order, and one session has at most one read in progress. A join is
// published (step 1's record is durable, and the room is told) before
// its history is read; from then until step 3, whatever the hub sends
// the session waits in the session's hold, and goes after the history
// and the reply, so that the session sees the join, the room's history,
// the reply, and then what happened in the room since, as if the read
// had been instant. History events may arrive among live ones anyway
// (PROTOCOL.md), so a history request needs no hold.

// historyRead is a page of history to read off the hub goroutine.
type historyRead struct {
	conv   string
	room   string // the room's display name, for a room's history
	before uint64
	limit  int
	// published, if not nil, is closed when step 1 is done: for a join,
	// once it is published or has failed. skip says there is nothing to
	// read then: the join failed, or the session was replaced meanwhile.
	published chan struct{}
	skip      bool
	reply     *protocol.Frame
	page      bool // the reply says how many were sent and the oldest's id

	frames []*event.Event
	n      int
	oldest uint64
	err    error
}

// read reads and encodes the page; it uses only the store.
func (hr *historyRead) read(ctx context.Context, st store.Store) {
	msgs, err := st.History(ctx, hr.conv, hr.before, hr.limit)
	if err != nil {
		hr.err = err
		return
	}
	for i := range msgs {
		ev := entryEvent(&msgs[i], hr.room, true)
		ev.JSON() // encoded here, off the hub goroutine
		hr.frames = append(hr.frames, ev)
	}
	if len(msgs) > 0 {
		hr.n, hr.oldest = len(msgs), msgs[0].ID
	}
}

// handleRead runs a request of the three steps. first is step 1: it
// runs on the hub goroutine and returns the read to do, or nil if the
// request has been answered already.
func (h *Hub) handleRead(s *Session, first func() *historyRead) error {
	var hr *historyRead
	if err := h.wait(func() {
		if h.attached(s) {
			hr = first()
		}
	}); err != nil || hr == nil {
		return err
	}
	if hr.published != nil {
		select {
		case <-hr.published:
		case <-h.done:
			return ErrClosed
		}
	}
	if hr.skip {
		return nil
	}
	if err := h.onQuery(context.Background(), func() { hr.read(context.Background(), h.store) }); err != nil {
		return err
	}
	return h.wait(func() {
		if hr.err != nil {
			h.log.Error("history", s.logAttrs("err", hr.err)...)
		}
		if hr.page {
			hr.reply.Limit, hr.reply.Before = hr.n, hr.oldest
		}
		h.unhold(s, append(hr.frames, event.NewReply(hr.reply)))
	})
}

// hold makes what the hub sends s wait, until unhold, behind an answer
// being read.
func (h *Hub) hold(s *Session) { s.holding = true }

// unhold sends first, then what was held, and ends the hold.
func (h *Hub) unhold(s *Session, first []*event.Event) {
	held := s.held
	s.held, s.holding, s.heldBytes = nil, false, 0
	for _, b := range first {
		h.deliver(s, b)
	}
	for _, b := range held {
		h.deliver(s, b)
	}
}

// handleHistory answers a history request (see handleRead).
func (h *Hub) handleHistory(s *Session, f *protocol.Frame) error {
	return h.handleRead(s, func() *historyRead {
		hr, err := h.historyQuery(s, f)
		if err != nil {
			h.reply(s, err.Frame(f.ID))
			return nil
		}
		return hr
	})
}

// handleJoin answers a join (see handleRead).
func (h *Hub) handleJoin(s *Session, f *protocol.Frame) error {
	return h.handleRead(s, func() *historyRead {
		hr, err := h.join(s, f)
		if err != nil {
			h.reply(s, err.Frame(f.ID))
			return nil
		}
		return hr
	})
}

// handleRecall answers a recall. The message is looked up by a query
// reader once everything the session sent before is published, so that
// "my last message" is the last one the user sent; the recall is then
// checked and queued on the hub goroutine (see recallWith).
func (h *Hub) handleRecall(s *Session, f *protocol.Frame) error {
	select {
	case <-h.Finish(s):
	case <-h.done:
		return ErrClosed
	}
	var m store.Message
	var err error
	if qerr := h.onQuery(context.Background(), func() {
		ctx := context.Background()
		if f.Msg == 0 {
			m, err = h.store.LastBy(ctx, s.Key, math.MaxUint64)
		} else {
			m, err = h.store.Message(ctx, f.Msg)
		}
	}); qerr != nil {
		return qerr
	}
	return h.do(func() {
		if !h.attached(s) {
			return
		}
		if perr := h.recallWith(s, f, m, err); perr != nil {
			h.reply(s, perr.Frame(f.ID))
		}
	})
}

// onQuery has one of the hub's query readers run read, and waits for it
// (see onReader).
func (h *Hub) onQuery(ctx context.Context, read func()) error {
	return h.runOn(ctx, h.queries, read)
}

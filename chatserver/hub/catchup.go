package hub

import (
	"context"
	"slices"
	"sort"

	"github.com/parley-chat/parley/chatserver/event"
	"github.com/parley-chat/parley/chatserver/store"
	"github.com/parley-chat/parley/shared/protocol"
)

// catchUp reads a catch-up for user key off the hub goroutine (see
// readAhead), with the unread counts for a login, then runs finish with it on the hub goroutine and waits for
// that. ok, run on the hub goroutine first, says whether the catch-up is
// still wanted. The hub never reads the store for it:
//
//   - if the user joined or left a room meanwhile, or, logging in
//     afresh, was handed private messages, the read is begun again;
//   - what was published during the read comes from the hub's recent
//     log (see finishCatchUp); if so much was published that the log no
//     longer holds it all, the read goes on, off the hub, up to the id
//     published last, and the hub looks again.
//
// Each round reads only what was published during the one before, so
// it ends unless the user's rooms keep changing under it.
func (h *Hub) catchUp(ctx context.Context, key string, login, resume bool, after uint64, ok func() bool, finish func(*readAhead)) error {
	for {
		ra, err := h.readAhead(ctx, key, login, resume, after, ok)
		if err != nil || ra == nil {
			return err
		}
		for {
			again, extend := false, uint64(0)
			err = h.wait(func() {
				switch {
				case !h.current(ra, h.users[key]):
					again = true
				case ra.complete && h.lastPub > ra.upto && !h.recent.covers(ra.upto):
					extend = h.lastPub
				default:
					finish(ra)
				}
			})
			if err != nil || again {
				break
			}
			if extend == 0 {
				return nil
			}
			if err = h.onReader(ctx, func() { ra.readTail(ctx, h, extend) }); err != nil {
				return err
			}
		}
		if err != nil {
			return err
		}
	}
}

// convs lists the conversation keys of u's rooms, the lobby first. A user
// not yet known (nil) is in the lobby only.
func (h *Hub) convs(u *user) []string {
	convs := []string{store.RoomConv(protocol.Lobby)}
	if u == nil {
		return convs
	}
	var rooms []string
	for _, r := range u.rooms {
		rooms = append(rooms, store.RoomConv(r.key))
	}
	sort.Strings(rooms)
	return append(convs, rooms...)
}

// A catch-up (what a login missed, or the next part of it, asked for with
// sync) can be thousands of messages. Reading and encoding them on the
// hub goroutine would hold up every room while it ran, so one of the
// hub's readers reads them, up to the last id published when it began
// (readAhead.upto). The hub goroutine then sends that part and adds
// what was published meanwhile from its recent log, so the catch-up is as
// complete as if it had all been read at once.
type readAhead struct {
	key    string
	resume bool   // everything after after, rather than recent history
	after  uint64 // the last id the client has, if resume
	convs  []string
	rooms  map[string]string // display names of convs' rooms, by key
	upto   uint64            // the last id published when the read began
	// pmAfter is, for a fresh login, the last private message to the
	// user that a session was handed when the read began, and
	// pmCaughtUp the user's count of catch-ups that handed some over
	// (which changes whenever a catch-up raises pmDelivered).
	pmAfter, pmCaughtUp uint64

	frames   []*event.Event
	sent     []store.Message // entries among frames, for markDelivered
	budget   int             // bytes frames may still take
	complete bool            // nothing after after up to upto was left out
	unread   unreadRead      // for a login: the unread counts
}

// readAhead has the bulk of a catch-up for user key read, off the hub
// goroutine, and waits for it. ok, run on the hub goroutine, says whether
// it is still wanted; if not, ra is nil.
//
// The store is read by the hub's readers (see onReader), which never wait
// for the hub, so that a busy hub does not slow the reads down. What was
// published after the snapshot is read by the hub (see finishCatchUp).
func (h *Hub) readAhead(ctx context.Context, key string, login, resume bool, after uint64, ok func() bool) (*readAhead, error) {
	var ra *readAhead
	if err := h.wait(func() {
		if ok() {
			ra = h.snapshot(key, login, resume, after)
		}
	}); err != nil || ra == nil {
		return nil, err
	}
	if err := h.onReader(ctx, func() { h.read(ctx, ra) }); err != nil {
		return nil, err
	}
	return ra, nil
}

// onReader has one of the hub's readers run read, and waits for it. The
// readers, Config.CatchUpReads of them, live as long as the hub: reading
// the store takes a deep stack, which a connection's goroutine would
// otherwise grow, once per login, and hold until it is next collected.
func (h *Hub) onReader(ctx context.Context, read func()) error {
	return h.runOn(ctx, h.reads, read)
}

// runOn has a reader of the pool that takes from readers run read, and
// waits for it.
func (h *Hub) runOn(ctx context.Context, readers chan func(), read func()) error {
	done := make(chan struct{})
	h.reading.Add(1)
	defer h.reading.Add(-1)
	select {
	case readers <- func() { defer close(done); read() }:
	case <-h.quit:
		return protocol.Errorf(protocol.CodeShutdown, "server is shutting down")
	case <-ctx.Done():
		return protocol.Errorf(protocol.CodeShutdown, "request abandoned")
	}
	<-done // a reader finishes what it takes, even as the hub stops
	return nil
}

// reader runs the reads it takes from reads until the hub stops.
func (h *Hub) reader(reads chan func()) {
	defer h.readers.Done()
	for {
		select {
		case read := <-reads:
			read()
		case <-h.quit:
			return
		}
	}
}

// snapshot starts a catch-up for user key; it runs on the hub goroutine.
func (h *Hub) snapshot(key string, login, resume bool, after uint64) *readAhead {
	u := h.users[key]
	ra := &readAhead{key: key, resume: resume, after: after, convs: h.convs(u),
		rooms: map[string]string{}, upto: h.lastPub, budget: h.cfg.CatchUpBytes}
	ra.unread.skip = u == nil || !login // a sync counts nothing; registering, nothing is unread
	if u != nil {
		ra.unread.names = []string{u.name}
		if u.nick != "" {
			ra.unread.names = append(ra.unread.names, u.nick)
		}
		ra.unread.reads = make(map[string]uint64, len(u.reads))
		for k, v := range u.reads {
			ra.unread.reads[k] = v
		}
		ra.pmAfter, ra.pmCaughtUp = u.pmDelivered, u.pmCaughtUp
		for k, r := range u.rooms {
			ra.rooms[k] = r.name
		}
	}
	return ra
}

// current reports whether a read begun with ra can be finished for u: u's
// conversations are still those it was read for, and, for a fresh login,
// none of the private messages it read was handed to a session since.
// Those handed live meanwhile were published after the read began, so
// only a catch-up can have handed over what it read. A user not yet known
// (nil) is in the lobby only and was handed nothing.
func (h *Hub) current(ra *readAhead, u *user) bool {
	var caughtUp uint64
	if u != nil {
		caughtUp = u.pmCaughtUp
	}
	return slices.Equal(ra.convs, h.convs(u)) && (ra.resume || ra.pmCaughtUp == caughtUp)
}

// read reads and encodes ra's part of a catch-up. It uses only the store,
// so it may run on any goroutine.
func (h *Hub) read(ctx context.Context, ra *readAhead) {
	h.countUnread(ctx, ra)
	if ra.resume {
		ra.readSince(ctx, h, ra.after, ra.upto, h.cfg.CatchUp)
		return
	}
	for _, conv := range ra.convs {
		msgs, err := h.store.History(ctx, conv, ra.upto+1, h.cfg.JoinHistory)
		if err != nil {
			// History only: the private messages that waited still go.
			h.log.Error("history", "user", ra.key, "err", err)
			break
		}
		for i := range msgs {
			ev := entryEvent(&msgs[i], ra.roomName(msgs[i].Room), true)
			size := len(ev.JSON()) // encoded here, off the hub goroutine
			if size > ra.budget {
				break // history only: what is left out is not missed
			}
			ra.budget -= size
			ra.frames = append(ra.frames, ev)
		}
	}
	if ra.pmAfter >= ra.upto {
		ra.complete = true
		return
	}
	// The private messages that waited, within what the budget has left
	// (at least a share of it, so that they are never crowded out).
	ra.budget = max(ra.budget, h.cfg.CatchUpBytes/4)
	msgs, err := h.store.PrivateTo(ctx, ra.key, ra.pmAfter, ra.upto, h.cfg.CatchUp)
	if err != nil {
		h.log.Error("private catch-up", "user", ra.key, "err", err)
		return
	}
	n := 0
	for i := range msgs {
		ev := entryEvent(&msgs[i], "", false)
		size := len(ev.JSON())
		if size > ra.budget {
			break
		}
		ra.budget -= size
		ra.frames = append(ra.frames, ev)
		n++
	}
	ra.sent = append(ra.sent, msgs[:n]...)
	ra.complete = n == len(msgs) && len(msgs) < h.cfg.CatchUp
}

// readTail goes on with a complete catch-up past ra.upto, up to upto,
// reading the store: for when so much was published during the read
// that the hub's recent log no longer holds it.
func (ra *readAhead) readTail(ctx context.Context, h *Hub, upto uint64) {
	ra.budget = max(ra.budget, h.cfg.CatchUpBytes/4)
	ra.readSince(ctx, h, ra.upto, upto, h.cfg.CatchUp-len(ra.sent))
	ra.upto = upto
}

// readSince adds the entries of ra's conversations with after < id <=
// upto, up to limit of them and what the budget allows (the first entry
// of a catch-up goes whatever its size), and records whether that was all
// of them.
func (ra *readAhead) readSince(ctx context.Context, h *Hub, after, upto uint64, limit int) {
	if limit <= 0 {
		ra.complete = false
		return
	}
	msgs, err := h.store.Since(ctx, ra.key, ra.convs, after, upto, limit)
	if err != nil {
		h.log.Error("catch-up", "user", ra.key, "err", err)
		ra.complete = false
		return
	}
	ra.add(msgs, len(msgs) == limit)
}

// add adds the entries msgs of a catch-up, as many as the budget allows
// (the first entry of a catch-up goes whatever its size), and records
// whether that was all there is: it was not if maybeMore.
func (ra *readAhead) add(msgs []store.Message, maybeMore bool) {
	n := 0
	for i := range msgs {
		ev := entryEvent(&msgs[i], ra.roomName(msgs[i].Room), false)
		size := len(ev.JSON())
		if size > ra.budget && (n > 0 || len(ra.frames) > 0) {
			break
		}
		ra.budget -= size
		ra.frames = append(ra.frames, ev)
		n++
	}
	ra.sent = append(ra.sent, msgs[:n]...)
	ra.complete = n == len(msgs) && !maybeMore
}

// addRecent adds the entries of recent, the hub's recent log, that the
// catch-up's user may see, as Since would have read them, at most limit.
func (ra *readAhead) addRecent(recent []store.Message, limit int) {
	var mine []store.Message
	for i := range recent {
		m := &recent[i]
		_, inRoom := ra.rooms[m.Room]
		if m.Room == "" && (m.From == ra.key || m.To == ra.key) || m.Room == protocol.Lobby || inRoom {
			if len(mine) == limit {
				ra.add(mine, true)
				return
			}
			mine = append(mine, *m)
		}
	}
	ra.add(mine, false)
}

func (ra *readAhead) roomName(key string) string {
	if name, ok := ra.rooms[key]; ok {
		return name
	}
	return key // the lobby's key is its name
}

// finishCatchUp sends s the catch-up that ra read, on the hub goroutine,
// and reports whether it is complete. What was published after ra.upto
// is added from the recent log, as live entries, for a fresh login too:
// had the read been instant they would have come live. catchUp has seen
// to it that ra is current for s's user and that the recent log holds
// what it needs.
func (h *Hub) finishCatchUp(s *Session, ra *readAhead) bool {
	u := s.user
	if ra.complete && h.lastPub > ra.upto {
		// What was published during the read would have been live
		// messages had the read been instant; it gets a share of the
		// budget of its own. catchUp saw to it that the recent log
		// holds it all.
		ra.budget = max(ra.budget, h.cfg.CatchUpBytes/4)
		ra.addRecent(h.recent.since(ra.upto), h.cfg.CatchUp-len(ra.sent))
		ra.upto = h.lastPub
	}
	for _, b := range ra.frames {
		h.deliver(s, b)
	}
	if h.markDelivered(u, ra.sent) {
		u.pmCaughtUp++
	}
	return ra.complete
}

// sync answers a client whose catch-up was cut short: the next part of
// it, then a reply whose since is set once the catch-up is complete, when
// live messages flow to the session again. ra is the part read already.
func (h *Hub) sync(s *Session, f *protocol.Frame, ra *readAhead) {
	r := &protocol.Frame{Type: protocol.TypeOK, Re: f.ID}
	if h.finishCatchUp(s, ra) {
		r.Since = h.lastPub
		s.catchingUp = false
	} else {
		r.More = 1
	}
	h.reply(s, r)
}

// markDelivered records that the private messages to u among msgs were
// handed to a session, and reports whether that was news.
func (h *Hub) markDelivered(u *user, msgs []store.Message) bool {
	var last uint64
	for _, m := range msgs {
		if m.To == u.key {
			last = m.ID
		}
	}
	if last <= u.pmDelivered {
		return false
	}
	u.pmDelivered = last
	h.queue(&record{changes: []store.Change{{Kind: store.SetDelivered, User: store.User{Key: u.key, PMDelivered: last}}}})
	return true
}

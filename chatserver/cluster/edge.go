package cluster

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/parley-chat/parley/chatserver/event"
	"github.com/parley-chat/parley/chatserver/hub"
	"github.com/parley-chat/parley/chatserver/session"
	"github.com/parley-chat/parley/shared/protocol"
)

// edge is a node's way to the hub of another node, the writer: its
// sessions' logins and requests go to parley.hub, and their events come
// back on the node's own subject.
type edge struct {
	nc   *nats.Conn
	node string
	log  *slog.Logger
	m    *Metrics

	mu       sync.Mutex
	term     uint64 // the writer's, 0 while none is known
	writer   string // the writer's node
	heard    time.Time
	link     uint64 // the writer's link to this node, as last seen
	seq      uint64 // the next batch's number on it
	sessions map[uint64]*edgeSession
	next     uint64
}

type edgeSession struct {
	e    *edge
	id   uint64
	term uint64
	link uint64 // the writer's link it is on; unknown (max) until its login is answered
	peer hub.Peer
	name string
	gone atomic.Bool
}

var errNoWriter = protocol.Errorf(protocol.CodeUnavailable, "the cluster has no writer at the moment; try again shortly")

// unavailable is the answer of a node that lost its way to the writer.
func unavailable(err error) *protocol.Error {
	return protocol.Errorf(protocol.CodeUnavailable, "this node cannot reach the cluster (%v); try again or another node", err)
}

// writerTerm returns the term of the writer known, or 0.
func (e *edge) writerTerm() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.term
}

// sawWriter notes the writer's heartbeat or batch of term t. A writer of
// a new term means the sessions of the old one are gone with it.
func (e *edge) sawWriter(t uint64, node string) bool {
	e.mu.Lock()
	if t < e.term {
		e.mu.Unlock()
		return false // a writer that has been replaced, not yet stopped
	}
	if t > e.term {
		old := e.dropLocked()
		e.term, e.writer, e.link, e.seq = t, node, 0, 0
		e.heard = time.Now()
		e.mu.Unlock()
		closeAll(old, "the cluster's writer moved to another node; reconnect")
		return true
	}
	e.heard = time.Now()
	e.mu.Unlock()
	return true
}

// lost forgets the writer: the bus went away, the writer went silent,
// or its batches have a gap. Every session is closed so that its client
// resumes, from the database, where nothing is missing.
func (e *edge) lost(why string) {
	e.mu.Lock()
	old := e.dropLocked()
	e.term, e.writer = 0, ""
	e.mu.Unlock()
	if len(old) > 0 {
		e.log.Warn("lost the cluster's writer; closing its sessions", "why", why, "sessions", len(old))
	}
	closeAll(old, "this node lost the cluster's writer ("+why+"); reconnect")
}

func (e *edge) dropLocked() []*edgeSession {
	old := make([]*edgeSession, 0, len(e.sessions))
	for id, s := range e.sessions {
		old = append(old, s)
		delete(e.sessions, id)
	}
	return old
}

func closeAll(ss []*edgeSession, message string) {
	for _, s := range ss {
		if !s.gone.Swap(true) {
			s.peer.Close(protocol.CodeUnavailable, message)
		}
	}
}

// checkWriter forgets a writer not heard from within ttl.
func (e *edge) checkWriter(ttl time.Duration) {
	e.mu.Lock()
	silent := e.term != 0 && time.Since(e.heard) > ttl
	e.mu.Unlock()
	if silent {
		e.lost("the writer was silent for " + ttl.String())
	}
}

func (e *edge) Login(ctx context.Context, peer hub.Peer, f *protocol.Frame, from netip.Addr) (session.Member, error) {
	e.mu.Lock()
	term := e.term
	if term == 0 {
		e.mu.Unlock()
		return nil, errNoWriter
	}
	e.next++
	s := &edgeSession{e: e, id: e.next, term: term, link: math.MaxUint64, peer: peer}
	e.sessions[s.id] = s
	e.mu.Unlock()
	req := encodeRequest(request{term: term, op: opLogin, node: e.node, session: s.id,
		body: protocol.Encode(f), extra: []byte(from.String())})
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	start := time.Now()
	msg, err := e.nc.RequestWithContext(ctx, subjectHub, req)
	e.m.observeRequest(time.Since(start))
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			e.forget(s)
			return nil, errNoWriter
		}
		// The writer may have logged the session in, and its ok may
		// have reached the client in a batch.
		e.abandon(s)
		return nil, unavailable(err)
	}
	if len(msg.Data) == 0 || msg.Data[0] != replyOK {
		e.forget(s)
		if len(msg.Data) > 0 {
			return nil, decodeError(msg.Data[1:])
		}
		return nil, errNoWriter
	}
	rd := reader{b: msg.Data[1:]}
	link := rd.uvarint()
	if rd.err != nil {
		e.abandon(s)
		return nil, errNoWriter
	}
	s.name = string(rd.b)
	e.mu.Lock()
	s.link = link
	stale := link < e.link && e.term == term
	e.mu.Unlock()
	if stale {
		// The link broke while the login was answered; or a batch on a
		// link the writer never made (published by someone else on the
		// bus) made the writer's own look old. The node starts again
		// from the writer's next heartbeat, which it would otherwise
		// wait for in vain: every login would be answered on a link
		// older than the one it saw. The hub's ok may have reached the
		// client in a batch already: s is among the sessions lost
		// closes, so that the client does not take itself for logged
		// in.
		e.lost("a login was answered on a link older than the one last seen")
		return nil, errNoWriter
	}
	if s.gone.Load() {
		// The writer moved while the login was answered.
		return nil, errNoWriter
	}
	return s, nil
}

// abandon forgets a session whose login the writer may have answered
// with ok, which may have reached the client already, and closes its
// connection, so that the client does not take itself for logged in;
// the writer ends the session when it next sends it something.
func (e *edge) abandon(s *edgeSession) {
	e.forget(s)
	if !s.gone.Swap(true) {
		s.peer.Close(protocol.CodeUnavailable, "this node lost its way to the cluster's writer during the login; reconnect")
	}
}

func (e *edge) forget(s *edgeSession) {
	e.mu.Lock()
	if e.sessions[s.id] == s {
		delete(e.sessions, s.id)
	}
	e.mu.Unlock()
}

func (s *edgeSession) User() string { return s.name }

func (s *edgeSession) send(op byte, body []byte) error {
	return s.e.nc.Publish(subjectHub, encodeRequest(request{term: s.term, op: op, node: s.e.node, session: s.id, body: body}))
}

func (s *edgeSession) Handle(f *protocol.Frame) {
	if s.gone.Load() {
		return
	}
	if err := s.send(opHandle, protocol.Encode(f)); err != nil {
		s.peer.Queue(event.Error(unavailable(err), f.ID))
		if !s.gone.Swap(true) {
			s.peer.Close(protocol.CodeUnavailable, "this node lost the cluster's bus; reconnect")
		}
	}
}

func (s *edgeSession) Finish() <-chan struct{} {
	done := make(chan struct{})
	if s.gone.Load() {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.e.nc.RequestWithContext(ctx, subjectHub, encodeRequest(request{term: s.term, op: opFinish, node: s.e.node, session: s.id}))
	}()
	return done
}

func (s *edgeSession) Leave() {
	s.e.forget(s)
	s.gone.Store(true)
	s.send(opLeave, nil)
}

// onBatch applies a batch from the writer to the node's sessions.
func (e *edge) onBatch(msg *nats.Msg) {
	h, err := readHeader(msg.Data)
	if err != nil {
		e.log.Warn("unreadable batch from the writer", "err", err)
		return
	}
	e.mu.Lock()
	newer := e.term != 0 && h.term > e.term
	e.mu.Unlock()
	if newer {
		e.sawWriter(h.term, "")
	}
	e.mu.Lock()
	if h.term != e.term || h.link < e.link {
		// From a writer no longer known (the bus went away since), or
		// on a link that broke: its sessions are closed already.
		e.mu.Unlock()
		return
	}
	var broken []*edgeSession
	if h.link > e.link {
		// A link not seen before: the sessions of older ones lost
		// events. One first seen partway (after the bus came back, say)
		// may have lost batches before this one, for any session whose
		// login is not yet answered as well.
		fresh := h.seq == 0
		for id, s := range e.sessions {
			if s.link < h.link || !fresh {
				broken = append(broken, s)
				delete(e.sessions, id)
			}
		}
		e.link, e.seq = h.link, h.seq
	}
	if h.seq != e.seq {
		want := e.seq
		e.mu.Unlock()
		closeAll(broken, "events to this node were lost; reconnect")
		e.m.gap()
		e.lost("batch " + strconv.FormatUint(h.seq, 10) + " came where " + strconv.FormatUint(want, 10) + " was due")
		return
	}
	e.seq++
	a := &applying{e: e, term: h.term, touched: map[*edgeSession]struct{}{}}
	err = decodeBatch(msg.Data, a)
	e.mu.Unlock()
	closeAll(broken, "events to this node were lost; reconnect")
	for s := range a.touched {
		s.peer.Flush()
	}
	for id := range a.strangers {
		// A session of this term the node does not have: one whose
		// login was answered after it gave up on it, or one of a
		// process that had the node's name before. The writer lets it
		// go, so that its user is not online for ever.
		e.nc.Publish(subjectHub, encodeRequest(request{term: h.term, op: opLeave, node: e.node, session: id}))
	}
	for _, s := range a.closes {
		s.peer.Close(s.code, s.message)
	}
	e.m.batchReceived(len(msg.Data))
	if err != nil {
		e.log.Error("malformed batch from the writer", "err", err)
		e.lost("a malformed batch")
	}
}

// applying applies a batch under e.mu: deliveries are queued at once
// (Queue does not block), closes are made after the flushes.
type applying struct {
	e       *edge
	term    uint64
	touched map[*edgeSession]struct{}
	closes  []closing
	// strangers are the sessions delivered to that the node does not
	// know.
	strangers map[uint64]struct{}
}

type closing struct {
	*edgeSession
	code, message string
}

func (a *applying) deliver(id uint64, ev *event.Event) {
	s := a.e.sessions[id]
	if s == nil {
		if a.strangers == nil {
			a.strangers = map[uint64]struct{}{}
		}
		a.strangers[id] = struct{}{}
		return
	}
	if s.term != a.term || s.gone.Load() {
		return
	}
	if ev.Kind == event.Typing {
		// Worth nothing late: offered, as the hub does, to a connection
		// that is keeping up, and never a reason to close one.
		if o, ok := s.peer.(hub.Offerer); ok && o.Offer(ev) {
			a.touched[s] = struct{}{}
		}
		return
	}
	if s.peer.Queue(ev) {
		a.touched[s] = struct{}{}
	}
}

func (a *applying) close(id uint64, code, message string) {
	s := a.e.sessions[id]
	if s == nil || s.term != a.term {
		return
	}
	delete(a.e.sessions, id)
	if !s.gone.Swap(true) {
		a.closes = append(a.closes, closing{s, code, message})
	}
}

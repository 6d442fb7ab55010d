package cluster

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/parley-chat/parley/chatserver/event"
	"github.com/parley-chat/parley/chatserver/hub"
	"github.com/parley-chat/parley/shared/protocol"
)

// Subjects on NATS.
const (
	subjectHub    = "parley.hub"    // requests to the writer
	subjectWriter = "parley.writer" // the writer's heartbeat
	subjectBeat   = "parley.beat"   // every node's heartbeat
	subjectNode   = "parley.node."  // + node name: the writer's batches to a node
	subjectWho    = "parley.who."   // + node name: is a node of that name running?
)

// Bounds of what the writer holds for one node.
const (
	// batchBytes is where a batch to a node is cut, well under NATS's
	// default 1 MB payload limit.
	batchBytes = 256 << 10
	// linkBytes bounds what waits to be published to one node; past it
	// the node is a slow consumer, and the sessions queued to are closed
	// as such, as a slow socket would be.
	linkBytes = 64 << 20
)

// writer serves the hub of one writer term to the cluster's other nodes:
// it takes their sessions' requests from parley.hub and sends each node
// the events of its sessions.
type writer struct {
	hub  *hub.Hub
	nc   *nats.Conn
	term uint64
	node string
	log  *slog.Logger
	sub  *nats.Subscription
	m    *Metrics

	mu    sync.Mutex
	links map[string]*link
	nlink uint64 // links made in the term
	done  chan struct{}
	wg    sync.WaitGroup
}

func startWriter(nc *nats.Conn, h *hub.Hub, term uint64, node string, log *slog.Logger, m *Metrics) (*writer, error) {
	w := &writer{hub: h, nc: nc, term: term, node: node, log: log, m: m, links: map[string]*link{}, done: make(chan struct{})}
	sub, err := nc.Subscribe(subjectHub, w.onRequest)
	if err != nil {
		return nil, err
	}
	// A node's requests must not be dropped by the client library for
	// being many: the hub pushes back on them instead.
	sub.SetPendingLimits(-1, 512<<20)
	w.sub = sub
	if err := nc.Flush(); err != nil {
		sub.Unsubscribe()
		return nil, err
	}
	return w, nil
}

// stop ends the term's service: no more requests are taken, and every
// remote session is closed, which its node learns from the next writer
// anyway.
func (w *writer) stop() {
	w.sub.Unsubscribe()
	w.mu.Lock()
	links := w.links
	w.links = map[string]*link{}
	w.mu.Unlock()
	for _, l := range links {
		l.closeAll(protocol.CodeUnavailable, "the cluster's writer moved to another node; reconnect")
	}
	// done is closed under w.mu, where every goroutine of the term is
	// counted (track), so that none is added once Wait may have begun.
	w.mu.Lock()
	close(w.done)
	w.mu.Unlock()
	w.wg.Wait()
}

// track counts a goroutine of the term about to start, unless the term
// is over.
func (w *writer) track() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case <-w.done:
		return false
	default:
	}
	w.wg.Add(1)
	return true
}

// link returns the link to node, made at its first session.
func (w *writer) link(node string) *link {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case <-w.done:
		return nil
	default:
	}
	l := w.links[node]
	if l == nil {
		w.nlink++
		l = &link{w: w, node: node, num: w.nlink, subject: subjectNode + node, sessions: map[uint64]*remote{},
			wake: make(chan struct{}, 1), beat: time.Now()}
		l.cur = newBatch(header{w.term, l.num, 0})
		w.links[node] = l
		w.wg.Add(1)
		go l.run()
	}
	return l
}

// heard notes a node's heartbeat.
func (w *writer) heard(node string) {
	w.mu.Lock()
	l := w.links[node]
	w.mu.Unlock()
	if l != nil {
		l.mu.Lock()
		l.beat = time.Now()
		l.mu.Unlock()
	}
}

// sweep ends the sessions of nodes not heard from within ttl: a node
// that died takes its users offline.
func (w *writer) sweep(ttl time.Duration) {
	now := time.Now()
	w.mu.Lock()
	var dead []*link
	for name, l := range w.links {
		l.mu.Lock()
		if now.Sub(l.beat) > ttl {
			dead = append(dead, l)
			delete(w.links, name)
		}
		l.mu.Unlock()
	}
	w.mu.Unlock()
	for _, l := range dead {
		w.log.Warn("node silent; its sessions go offline", "node", l.node, "ttl", ttl)
		l.closeAll(protocol.CodeUnavailable, "this node lost the cluster; reconnect")
	}
}

func (w *writer) onRequest(msg *nats.Msg) {
	r, err := decodeRequest(msg.Data)
	if err != nil {
		w.log.Warn("unreadable request on the cluster bus", "err", err)
		return
	}
	if r.term != w.term {
		// Sent to an earlier writer: its session is gone with it.
		if msg.Reply != "" {
			msg.Respond(encodeError(protocol.Errorf(protocol.CodeUnavailable, "the cluster's writer moved; reconnect")))
		}
		return
	}
	switch r.op {
	case opOnline:
		if !w.track() {
			return
		}
		go func() {
			defer w.wg.Done()
			on := "0"
			if w.hub.Online(string(r.body)) {
				on = "1"
			}
			msg.Respond(append([]byte{replyOK}, on...))
		}()
		return
	case opAlive:
		if !w.track() {
			return
		}
		go func() {
			defer w.wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := w.hub.Alive(ctx); err != nil {
				msg.Respond(encodeError(protocol.Errorf(protocol.CodeUnavailable, "%v", err)))
				return
			}
			msg.Respond([]byte{replyOK})
		}()
		return
	}
	l := w.link(r.node)
	if l == nil {
		return
	}
	if r.op == opLogin {
		f, err := protocol.Decode(bytes.TrimSuffix(r.body, []byte("\n")))
		if err != nil {
			msg.Respond(encodeError(err))
			return
		}
		from, _ := netip.ParseAddr(string(r.extra))
		rm := l.add(r.session)
		if rm == nil {
			msg.Respond(encodeError(protocol.Errorf(protocol.CodeBadRequest, "session %d is in use", r.session)))
			return
		}
		rm.enqueue(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			s, err := w.hub.Login(ctx, rm, f, from)
			if err != nil {
				l.remove(r.session)
				msg.Respond(encodeError(err))
				return
			}
			rm.sess = s
			reply := binary.AppendUvarint([]byte{replyOK}, l.num)
			msg.Respond(append(reply, s.User()...))
		})
		return
	}
	rm := l.get(r.session)
	if rm == nil {
		// A session the writer does not know (its link broke): close
		// it, so that its client reconnects.
		if r.op != opLeave {
			gone := &remote{l: l, id: r.session}
			gone.Close(protocol.CodeUnavailable, "the cluster lost track of this session; reconnect")
		}
		if msg.Reply != "" {
			msg.Respond([]byte{replyOK})
		}
		return
	}
	switch r.op {
	case opHandle:
		f, err := protocol.Decode(bytes.TrimSuffix(r.body, []byte("\n")))
		if err != nil {
			return // the node decoded it before; nothing else sends here
		}
		rm.enqueue(func() {
			if rm.sess != nil {
				rm.sess.Handle(f)
			}
		})
	case opFinish:
		rm.enqueue(func() {
			if rm.sess != nil {
				select {
				case <-rm.sess.Finish():
				case <-w.done:
				}
			}
			msg.Respond([]byte{replyOK})
		})
	case opLeave:
		rm.enqueue(func() {
			if rm.sess != nil {
				rm.sess.Leave()
			}
			l.remove(r.session)
		})
	}
}

// link is the writer's way to one node: the events of that node's
// sessions, gathered into batches and published in order by its own
// goroutine, never the hub's.
type link struct {
	w       *writer
	node    string
	num     uint64
	subject string
	wake    chan struct{}

	mu       sync.Mutex
	cur      *batch
	full     []*batch
	pending  int // bytes in cur and full
	seq      uint64
	sessions map[uint64]*remote
	beat     time.Time
	gone     bool
}

func (l *link) add(id uint64) *remote {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.gone || l.sessions[id] != nil {
		return nil
	}
	r := &remote{l: l, id: id}
	l.sessions[id] = r
	return r
}

func (l *link) get(id uint64) *remote {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sessions[id]
}

func (l *link) remove(id uint64) {
	l.mu.Lock()
	delete(l.sessions, id)
	l.mu.Unlock()
}

// closeAll closes every session of the link and ends it.
func (l *link) closeAll(code, message string) {
	l.mu.Lock()
	l.gone = true
	rs := make([]*remote, 0, len(l.sessions))
	for _, r := range l.sessions {
		rs = append(rs, r)
	}
	l.mu.Unlock()
	for _, r := range rs {
		r.Close(code, message)
		r.enqueue(func() {
			if r.sess != nil {
				r.sess.Leave()
			}
		})
	}
	l.kick()
}

func (l *link) kick() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// take returns the batches waiting, numbered, with a fresh one begun.
func (l *link) take() []*batch {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.full
	if l.cur.records > 0 {
		out = append(out, l.cur)
		l.seq++
		l.cur = newBatch(header{l.w.term, l.num, l.seq})
	}
	l.full, l.pending = nil, 0
	return out
}

// seal starts a new batch when the current one is full; l.mu is held.
func (l *link) seal() {
	if len(l.cur.b) >= batchBytes {
		l.full = append(l.full, l.cur)
		l.seq++
		l.cur = newBatch(header{l.w.term, l.num, l.seq})
	}
}

func (l *link) run() {
	defer l.w.wg.Done()
	for {
		select {
		case <-l.wake:
		case <-l.w.done:
			l.publish() // the closes of stop
			return
		}
		l.publish()
		l.mu.Lock()
		gone := l.gone
		l.mu.Unlock()
		if gone {
			l.publish() // what closeAll queued
			return
		}
	}
}

func (l *link) publish() {
	for _, b := range l.take() {
		if err := l.w.nc.Publish(l.subject, b.b); err != nil {
			// The link's sessions have lost events: they are closed
			// and go offline, and the node's next sessions get a new
			// link. The node closes the old ones when it sees the new
			// link, or when they next ask for something; their clients
			// resume from the database.
			l.w.log.Warn("batch to node not sent; closing the node's sessions", "node", l.node, "bytes", len(b.b), "err", err)
			l.w.m.batchFailed()
			l.w.mu.Lock()
			if l.w.links[l.node] == l {
				delete(l.w.links, l.node)
			}
			l.w.mu.Unlock()
			l.closeAll(protocol.CodeUnavailable, "events to this node were lost; reconnect")
			return
		}
		l.w.m.batchSent(len(b.b))
	}
}

// remote is a session on another node, as the hub sees it: a Peer whose
// events go to the node's link. Its requests run in order on a goroutine
// that lives only while some wait.
type remote struct {
	l    *link
	id   uint64
	sess *hub.Session // set by its login, before any request runs

	mu      sync.Mutex
	closed  bool
	queue   []func()
	running bool
}

var _ hub.Peer = (*remote)(nil)

func (r *remote) Queue(ev *event.Event) bool {
	l := r.l
	l.mu.Lock()
	if r.closed {
		l.mu.Unlock()
		return false
	}
	if l.pending > linkBytes {
		l.mu.Unlock()
		r.Close(protocol.CodeSlowConsumer, "the node you are on fell behind the cluster")
		return false
	}
	before := len(l.cur.b)
	l.cur.deliver(r.id, ev)
	l.pending += len(l.cur.b) - before
	l.seal()
	l.mu.Unlock()
	return true
}

var _ hub.Offerer = (*remote)(nil)

// offerBytes is what may wait for a node past which events that are
// worth nothing late (typing) are dropped rather than queued.
const offerBytes = 1 << 20

// Offer queues ev unless the link to the node is behind; it never closes
// the session. The node offers it to the connection in turn.
func (r *remote) Offer(ev *event.Event) bool {
	l := r.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.closed || l.pending > offerBytes {
		return false
	}
	before := len(l.cur.b)
	l.cur.deliver(r.id, ev)
	l.pending += len(l.cur.b) - before
	l.seal()
	return true
}

func (r *remote) Flush() { r.l.kick() }

func (r *remote) Close(code, message string) {
	l := r.l
	l.mu.Lock()
	if !r.closed {
		r.closed = true
		l.cur.close(r.id, code, message)
		l.seal()
	}
	l.mu.Unlock()
	l.kick()
}

func (r *remote) enqueue(fn func()) {
	select {
	case <-r.l.w.done:
		return // the term is over
	default:
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.running {
		if !r.l.w.track() {
			return // the term is over
		}
		r.running = true
		go r.drain()
	}
	r.queue = append(r.queue, fn)
}

func (r *remote) drain() {
	defer r.l.w.wg.Done()
	for {
		r.mu.Lock()
		if len(r.queue) == 0 {
			r.running = false
			r.mu.Unlock()
			return
		}
		fn := r.queue[0]
		r.queue[0] = nil
		r.queue = r.queue[1:]
		r.mu.Unlock()
		fn()
	}
}

// Package cluster runs a chat server as one node of several that serve
// the same rooms, accounts and history, on NATS and PostgreSQL.
//
// One node at a time is the writer: it holds PostgreSQL's writer lock
// and runs the hub, which numbers, stores and fans out everything, as a
// single server does. Every node takes connections; a node that is not
// the writer hands its sessions' logins and requests to the writer over
// NATS, and the writer sends each node the events of its sessions, each
// event encoded once for all of them. When the writer dies or loses the
// database, another node takes the lock and a new term begins; clients
// resume from the database, where everything that was acknowledged is.
// chatserver/CLUSTER.md explains the design and its failure cases.
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/parley-chat/parley/chatserver/hub"
	"github.com/parley-chat/parley/chatserver/session"
	"github.com/parley-chat/parley/chatserver/store/postgres"
	"github.com/parley-chat/parley/shared/protocol"
)

// Config configures a node.
type Config struct {
	// NATS is the bus: nats://HOST:4222, or several, comma-separated.
	NATS string
	// Node names this node, uniquely in the cluster.
	Node string
	// Store is the cluster's database, from postgres.OpenShared. The
	// node closes it.
	Store *postgres.Store
	// Hub configures the hub the node runs while it is the writer; its
	// Store is Store.
	Hub hub.Config
	// TCP and HTTP are the addresses clients reach this node by, which
	// the other nodes pass on to their clients.
	TCP, HTTP string
	// Beat is how often nodes tell each other they are there (default
	// 1 s); TTL is how long a node may be silent before the others
	// count it gone (default 5 s): a node that dies takes its users
	// offline within TTL plus a beat.
	Beat, TTL time.Duration
	Logger    *slog.Logger
	// NATSOptions are added to the node's own (for tests).
	NATSOptions []nats.Option
}

// Info is what the cluster knows of a node.
type Info struct {
	Name string `json:"name"`
	TCP  string `json:"tcp,omitempty"`
	HTTP string `json:"http,omitempty"`
}

type writerBeat struct {
	Term  uint64 `json:"term"`
	Node  string `json:"node"`
	Nodes []Info `json:"nodes"`
}

// Node is a running node. It is the session layer's Hub.
type Node struct {
	cfg  Config
	nc   *nats.Conn
	edge *edge
	m    *Metrics
	log  *slog.Logger

	mu     sync.Mutex
	local  *hub.Hub // while this node is the writer
	writer *writer
	term   uint64
	peers  map[*localMember]struct{}
	seen   map[string]seenNode // the writer's view of the nodes
	nodes  []Info              // the writer's list, as last heard
	cancel context.CancelFunc
	done   chan struct{}
}

type seenNode struct {
	info Info
	at   time.Time
}

var _ session.Hub = (*Node)(nil)

// Start connects to NATS and starts the node: it serves its sessions
// through the writer at once, and waits to become the writer itself.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Node == "" {
		return nil, errors.New("a cluster node needs a name (-node)")
	}
	if strings.ContainsAny(cfg.Node, "*> \t\r\n") || strings.HasPrefix(cfg.Node, ".") || strings.HasSuffix(cfg.Node, ".") || strings.Contains(cfg.Node, "..") {
		return nil, fmt.Errorf("a node's name (-node %q) may not have spaces, '*' or '>', nor begin or end with a dot", cfg.Node)
	}
	if cfg.Store == nil {
		return nil, errors.New("a cluster node needs the cluster's PostgreSQL database (-db)")
	}
	if cfg.Beat <= 0 {
		cfg.Beat = time.Second
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 5 * cfg.Beat
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("node", cfg.Node)
	n := &Node{cfg: cfg, m: newMetrics(), log: log, peers: map[*localMember]struct{}{},
		seen: map[string]seenNode{}, done: make(chan struct{})}
	// Session numbers start at random, so that those of a process that
	// died and came back under the node's name before the writer counted
	// it gone are not taken for its predecessor's.
	n.edge = &edge{node: cfg.Node, log: log, m: n.m, sessions: map[uint64]*edgeSession{}, next: rand.Uint64N(1 << 62)}
	opts := append([]nats.Option{
		nats.Name("parley " + cfg.Node),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		// Nothing is kept to send after a reconnect: a request that
		// waited would reach a writer that may have moved on. Sends
		// fail while the bus is away, and the sessions are closed.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			n.m.lostWriter()
			n.edge.lost(fmt.Sprintf("the NATS connection broke: %v", err))
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("NATS connection back", "server", c.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			log.Error("NATS error", "err", err)
			if errors.Is(err, nats.ErrSlowConsumer) && sub != nil && sub.Subject == subjectNode+cfg.Node {
				n.m.lostWriter()
				n.edge.lost("this node fell behind the writer's batches")
			}
		}),
	}, cfg.NATSOptions...)
	nc, err := nats.Connect(cfg.NATS, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", cfg.NATS, err)
	}
	n.nc, n.edge.nc = nc, nc
	// Two nodes of one name would each take the other's batches. Ask
	// whether one is running before answering to the name; the bus says
	// at once when nobody listens.
	if reply, err := nc.Request(subjectWho+cfg.Node, nil, 2*time.Second); err == nil {
		var other Info
		json.Unmarshal(reply.Data, &other)
		nc.Close()
		return nil, fmt.Errorf("another node named %q is running (it takes clients at %s); give each node its own -node", cfg.Node, other.TCP)
	} else if !errors.Is(err, nats.ErrNoResponders) && !errors.Is(err, nats.ErrTimeout) {
		nc.Close()
		return nil, fmt.Errorf("NATS at %s: %w", cfg.NATS, err)
	}
	subs := []struct {
		subject string
		fn      nats.MsgHandler
	}{
		{subjectWho + cfg.Node, n.onWho},
		{subjectNode + cfg.Node, n.edge.onBatch},
		{subjectWriter, n.onWriterBeat},
		{subjectBeat, n.onBeat},
	}
	for _, s := range subs {
		sub, err := nc.Subscribe(s.subject, s.fn)
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("subscribe to %s: %w", s.subject, err)
		}
		sub.SetPendingLimits(-1, 512<<20)
	}
	if err := nc.Flush(); err != nil {
		nc.Close()
		return nil, fmt.Errorf("NATS at %s: %w", cfg.NATS, err)
	}
	ctx, n.cancel = context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); n.beats(ctx) }()
	go func() { defer wg.Done(); n.lead(ctx) }()
	go func() { wg.Wait(); close(n.done) }()
	log.Info("cluster node started", "nats", nc.ConnectedUrlRedacted())
	return n, nil
}

// Close stops the node: if it is the writer, its hub writes what it has
// accepted and the lock goes to the next node. Its connections should be
// closed first.
func (n *Node) Close() error {
	n.cancel()
	<-n.done
	n.nc.Drain()
	n.nc.Close()
	return n.cfg.Store.Close()
}

// Metrics returns the node's cluster metrics.
func (n *Node) Metrics() *Metrics { return n.m }

// IsWriter reports whether this node is the writer now.
func (n *Node) IsWriter() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.local != nil
}

// Nodes returns the cluster's nodes as the writer last told them, this
// node's own address if it knows no other.
func (n *Node) Nodes() []Info {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.nodes) == 0 {
		return []Info{n.self()}
	}
	return slices.Clone(n.nodes)
}

// self is this node's entry in the list; n.mu is held, or the node
// not yet started.
func (n *Node) self() Info { return Info{Name: n.cfg.Node, TCP: n.cfg.TCP, HTTP: n.cfg.HTTP} }

// SetAddrs sets the addresses clients reach this node by, once its
// listeners are open.
func (n *Node) SetAddrs(tcp, http string) {
	n.mu.Lock()
	n.cfg.TCP, n.cfg.HTTP = tcp, http
	n.mu.Unlock()
}

// beats tells the others this node is there, and notices a writer that
// went silent.
func (n *Node) beats(ctx context.Context) {
	t := time.NewTicker(n.cfg.Beat)
	defer t.Stop()
	for {
		n.mu.Lock()
		me, _ := json.Marshal(n.self())
		n.mu.Unlock()
		n.nc.Publish(subjectBeat, me)
		if rtt, err := n.nc.RTT(); err == nil {
			n.m.busRTT.Observe(rtt.Seconds())
		}
		n.edge.checkWriter(n.cfg.TTL)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// onWho answers a node that asks whether one of this node's name runs.
func (n *Node) onWho(msg *nats.Msg) {
	n.mu.Lock()
	me, _ := json.Marshal(n.self())
	n.mu.Unlock()
	msg.Respond(me)
}

func (n *Node) onBeat(msg *nats.Msg) {
	var in Info
	if json.Unmarshal(msg.Data, &in) != nil || in.Name == "" {
		return
	}
	n.mu.Lock()
	n.seen[in.Name] = seenNode{in, time.Now()}
	w := n.writer
	n.mu.Unlock()
	if w != nil {
		w.heard(in.Name)
	}
}

func (n *Node) onWriterBeat(msg *nats.Msg) {
	var b writerBeat
	if json.Unmarshal(msg.Data, &b) != nil || b.Term == 0 {
		return
	}
	if n.edge.sawWriter(b.Term, b.Node) {
		n.m.term.Set(float64(b.Term))
		n.mu.Lock()
		n.nodes = b.Nodes
		n.mu.Unlock()
	}
}

// lead waits for the writer lock, and serves a writer term each time it
// gets it.
func (n *Node) lead(ctx context.Context) {
	for {
		term, err := n.cfg.Store.Lead(ctx)
		if ctx.Err() != nil {
			if err == nil {
				n.cfg.Store.Resign()
			}
			return
		}
		if err != nil {
			n.log.Warn("cannot wait for the writer lock; trying again", "err", err)
			t := time.NewTimer(n.cfg.Beat)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		n.serveTerm(ctx, uint64(term))
		n.cfg.Store.Resign()
	}
}

func (n *Node) serveTerm(ctx context.Context, term uint64) {
	log := n.log.With("term", term)
	failed := make(chan error, 1)
	hc := n.cfg.Hub
	hc.Store = n.cfg.Store
	hc.WriteFailed = func(err error) {
		select {
		case failed <- err:
		default:
		}
	}
	h, err := hub.New(ctx, hc)
	if err != nil {
		log.Error("cannot load the hub; giving the writer lock up", "err", err)
		return
	}
	hubDone := make(chan struct{})
	go func() { h.Run(); close(hubDone) }()
	w, err := startWriter(n.nc, h, term, n.cfg.Node, log, n.m)
	if err != nil {
		log.Error("cannot serve the hub on NATS; giving the writer lock up", "err", err)
		h.Close()
		<-hubDone
		return
	}
	n.mu.Lock()
	n.local, n.term, n.writer = h, term, w
	n.mu.Unlock()
	n.m.setWriter(true, term)
	log.Info("this node is the cluster's writer")
	n.writerBeat(term)
	t := time.NewTicker(n.cfg.Beat)
	defer t.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-failed:
			log.Error("a write to PostgreSQL failed; ending the writer term", "err", err)
			break loop
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, n.cfg.TTL)
			start := time.Now()
			err := n.cfg.Store.Holding(pctx)
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					log.Error("lost the writer lock's PostgreSQL connection; ending the writer term", "err", err)
				}
				break loop
			}
			n.m.dbPing.Observe(time.Since(start).Seconds())
			n.writerBeat(term)
			w.sweep(n.cfg.TTL)
		}
	}
	n.mu.Lock()
	n.local, n.writer = nil, nil
	peers := n.peers
	n.peers = map[*localMember]struct{}{}
	n.mu.Unlock()
	if ctx.Err() == nil {
		for p := range peers {
			p.peer.Close(protocol.CodeUnavailable, "the cluster's writer moved to another node; reconnect")
		}
	}
	w.stop()
	h.Close()
	<-hubDone
	n.m.setWriter(false, term)
	log.Info("writer term ended")
}

func (n *Node) writerBeat(term uint64) {
	now := time.Now()
	n.mu.Lock()
	nodes := []Info{n.self()}
	for name, s := range n.seen {
		if now.Sub(s.at) > n.cfg.TTL {
			delete(n.seen, name)
		} else if name != n.cfg.Node {
			nodes = append(nodes, s.info)
		}
	}
	n.mu.Unlock()
	slices.SortFunc(nodes[1:], func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	b, _ := json.Marshal(writerBeat{Term: term, Node: n.cfg.Node, Nodes: nodes})
	n.nc.Publish(subjectWriter, b)
}

// localMember is a session on the writer's own node.
type localMember struct {
	*hub.Session
	n    *Node
	peer hub.Peer
}

func (m *localMember) Leave() {
	m.n.mu.Lock()
	delete(m.n.peers, m)
	m.n.mu.Unlock()
	m.Session.Leave()
}

// Login logs in to the writer's hub: this node's own while it is the
// writer, through NATS otherwise.
func (n *Node) Login(ctx context.Context, peer hub.Peer, f *protocol.Frame, from netip.Addr) (session.Member, error) {
	n.mu.Lock()
	h := n.local
	n.mu.Unlock()
	if h == nil {
		return n.edge.Login(ctx, peer, f, from)
	}
	s, err := h.Login(ctx, peer, f, from)
	if err != nil {
		if errors.Is(err, hub.ErrClosed) {
			return nil, errNoWriter
		}
		return nil, err
	}
	m := &localMember{Session: s, n: n, peer: peer}
	n.mu.Lock()
	still := n.local == h
	if still {
		n.peers[m] = struct{}{}
	}
	n.mu.Unlock()
	if !still {
		// The term ended during the login; the hub's ok may have been
		// queued to the client already, so the connection is closed
		// rather than left to take itself for logged in.
		s.Leave()
		peer.Close(protocol.CodeUnavailable, "the cluster's writer moved to another node; reconnect")
		return nil, errNoWriter
	}
	return m, nil
}

// Online reports whether name has a session anywhere in the cluster.
func (n *Node) Online(name string) bool {
	n.mu.Lock()
	h := n.local
	n.mu.Unlock()
	if h != nil {
		return h.Online(name)
	}
	r, err := n.ask(opOnline, []byte(name), 5*time.Second)
	return err == nil && string(r) == "1"
}

// Alive reports whether the cluster's hub answers, within ctx.
func (n *Node) Alive(ctx context.Context) error {
	n.mu.Lock()
	h := n.local
	n.mu.Unlock()
	if h != nil {
		return h.Alive(ctx)
	}
	d := 5 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		d = time.Until(dl)
	}
	_, err := n.ask(opAlive, nil, d)
	return err
}

// Stats are the hub's while this node is the writer, and zero otherwise.
func (n *Node) Stats() hub.Stats {
	n.mu.Lock()
	h := n.local
	n.mu.Unlock()
	if h == nil {
		return hub.Stats{}
	}
	return h.Stats()
}

// ask sends a request that is not a session's to the writer.
func (n *Node) ask(op byte, body []byte, timeout time.Duration) ([]byte, error) {
	term := n.edge.writerTerm()
	if term == 0 {
		return nil, errNoWriter
	}
	msg, err := n.nc.Request(subjectHub, encodeRequest(request{term: term, op: op, node: n.cfg.Node, body: body}), timeout)
	if err != nil {
		return nil, unavailable(err)
	}
	if len(msg.Data) == 0 || msg.Data[0] != replyOK {
		if len(msg.Data) > 0 {
			return nil, decodeError(msg.Data[1:])
		}
		return nil, errNoWriter
	}
	return msg.Data[1:], nil
}

// Package hub is the chat server's core: sessions, rooms, presence, routing,
// history, recall and ownership. It imports no networking; a connection is a
// Peer that accepts typed events (package event), which its transport
// encodes.
//
// # Concurrency
//
// One goroutine (run) owns every piece of hub state: users, rooms, online
// sessions, message ids. Callers hand it work as closures through a channel,
// so there are no locks in the hub. Changes that must be durable (messages,
// recalls, memberships) are validated and applied in memory by run, then
// queued as records; a second goroutine (commit) writes the queued records
// to the store in one transaction at a time. While one batch is being
// written, run keeps accepting work and queues more records, so under load
// one fsync covers many messages (group commit) without any timer. When a
// batch is durable, run publishes its records in order: it fans each
// message out to the online members and replies to the sender. Because only
// run publishes, every connection sees events in increasing id order, which
// is what makes "everything since id N" a complete catch-up.
//
// run never reads the store once the hub is loaded: a store read takes
// milliseconds, and every room would wait for it. Reader goroutines do
// the reads, and hand run their results in order:
//
//   - a catch-up (a login's, or a sync's) is read up to the last id
//     published when it began; run sends it with whatever it published
//     meanwhile, which it keeps in a recent log (see readAhead and
//     catchUp);
//   - a join's history, a history page and a recall's look-up are read
//     while the connection's goroutine waits, so that one session's
//     requests are answered in order; a join's history goes out before
//     anything that happened in the room after the join, which waits in
//     the session's hold meanwhile (see handleRead).
package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-chat/parley/chatserver/auth"
	"github.com/parley-chat/parley/chatserver/event"
	"github.com/parley-chat/parley/chatserver/store"
	"github.com/parley-chat/parley/shared/protocol"
)

// ErrClosed is returned when the hub has shut down.
var ErrClosed = errors.New("hub closed")

// Peer is one client connection as the hub sees it.
type Peer interface {
	// Queue adds an event to the client's outbound queue without waiting
	// for the socket. The same event may be queued to many peers, and
	// must not be changed. It returns false if the event was not queued:
	// the peer is closed, or its queue was full, in which case the peer
	// closes itself as a slow consumer.
	Queue(ev *event.Event) bool
	// Flush starts writing what is queued. The hub queues everything one
	// step of its work produces (a whole batch of messages, say) and then
	// flushes each peer once, so one write carries many frames.
	Flush()
	// Close sends a bye frame with code and message if it can, after the
	// frames already queued, then closes the connection.
	Close(code, message string)
}

// Config configures a Hub. Store is required; zero values elsewhere mean
// the defaults.
type Config struct {
	Store  store.Store
	Logger *slog.Logger
	// Hasher hashes passwords; nil means auth.DefaultParams with a
	// concurrency bound of the number of CPUs.
	Hasher *auth.Hasher
	// Throttle bounds password logins per address and per account; nil
	// means auth's default limits.
	Throttle *auth.Throttle
	Now      func() time.Time
	// RecallWindow is how long after sending a user may recall a message.
	RecallWindow time.Duration
	// Retention, if positive, is how long messages are kept: older ones,
	// file messages included, are deleted from the log within an hour of
	// passing it (see prune). Zero keeps everything.
	Retention time.Duration
	// ResumeTTL is how long a resume token stays valid.
	ResumeTTL time.Duration
	// JoinHistory is how many messages a join, or a fresh login, shows for
	// each room.
	JoinHistory int
	// CatchUp is the most messages a resuming login receives at once.
	CatchUp int
	// CatchUpBytes bounds the encoded size of a login's catch-up, and of
	// each sync, so that it fits in the connection's queue; the client
	// fetches the rest with sync. Two parts may each take a quarter of it
	// beyond what is left: a fresh login's waiting private messages, and
	// what was published while the catch-up was read; so a catch-up can
	// come to one and a half times CatchUpBytes.
	CatchUpBytes int
	// CatchUpReads is how many catch-ups are read from the store at once,
	// away from the hub goroutine (see readAhead), each by a goroutine of
	// its own. Keeping it below the store's readers leaves one free for
	// the hub's own reads in a storm of logins, and bounds the memory the
	// reads in progress hold. Default 2.
	CatchUpReads int
	// QueryReads is how many reads for requests (history, a join's
	// history, a recall's look-up) run at once, each on a goroutine of
	// its own (see handleRead). Default 2.
	QueryReads int
	// RecentLog bounds the entries the hub keeps of what it published
	// last, in bytes of text: a catch-up read off the hub goroutine gets
	// what was published during its read from them. Default 8 MiB.
	RecentLog int
	// MaxText is the largest message text in bytes.
	MaxText int
	// FilesToken, if set, issues a file-access token for a user (by
	// display name) at login and on request.
	FilesToken func(user string) (token string, expires time.Time, err error)
	// Queue is the length of the hub's work queue.
	Queue int
	// IdemKeys is how many recent idempotency keys are remembered.
	IdemKeys int
	// ObserveCommit, if set, is told how long each write of a batch to
	// the store took, for metrics.
	ObserveCommit func(time.Duration)
	// Presence events (logins and logouts) wait to be sent together, so
	// that in a wave of logins each online session gets one queue entry
	// and one write for many of them rather than one each. An event
	// waits PresenceWait for each session online, at most PresenceDelay:
	// with the defaults, 50 µs and 1 s, announcing presence costs at most
	// about 20,000 queue entries a second up to 20,000 sessions online,
	// and a team of 20 sees a login within a millisecond. A message,
	// recall or membership event of a user whose presence waits sends
	// the waiting events first, so that nobody hears from a user before
	// hearing that they came online; traffic of others leaves them
	// waiting.
	PresenceWait, PresenceDelay time.Duration
	// WriteFailed, if set, is told of every failed write to the store,
	// off the hub goroutine, and makes the replies to what failed say
	// unavailable rather than internal. A cluster's writer ends its
	// term on it: what the hub holds in memory may no longer be what
	// the database holds.
	WriteFailed func(error)
	// Operators are the server operators a session may become with an
	// oper request: each a name and the encoding of its password's hash
	// (auth.Hasher.Hash).
	Operators []Operator
}

// Operator is one server operator's name and password hash.
type Operator struct {
	Name, Hash string
}

// Defaults of Config, which the chatserver command's flags start from.
const (
	DefaultRecallWindow = 2 * time.Minute
	DefaultResumeTTL    = 7 * 24 * time.Hour
	DefaultJoinHistory  = 50
)

// WithDefaults returns c with its zero values replaced by the defaults
// that New would use.
func (c Config) WithDefaults() Config {
	c.setDefaults()
	return c
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Hasher == nil {
		c.Hasher = auth.NewHasher(auth.DefaultParams, 0, auth.DefaultQueue)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Throttle == nil {
		c.Throttle = auth.NewThrottle(auth.Limits{}, c.Now)
	}
	if c.RecallWindow == 0 {
		c.RecallWindow = DefaultRecallWindow
	}
	if c.ResumeTTL == 0 {
		c.ResumeTTL = DefaultResumeTTL
	}
	if c.JoinHistory <= 0 {
		c.JoinHistory = DefaultJoinHistory
	}
	if c.CatchUp <= 0 {
		c.CatchUp = 5000
	}
	if c.CatchUpBytes <= 0 {
		c.CatchUpBytes = 2 << 20
	}
	if c.MaxText <= 0 {
		c.MaxText = protocol.MaxTextBytes
	}
	if c.CatchUpReads <= 0 {
		c.CatchUpReads = 2
	}
	if c.QueryReads <= 0 {
		c.QueryReads = 2
	}
	if c.RecentLog <= 0 {
		c.RecentLog = 8 << 20
	}
	if c.Queue <= 0 {
		c.Queue = 4096
	}
	if c.IdemKeys <= 0 {
		c.IdemKeys = 100_000
	}
	if c.PresenceWait == 0 {
		c.PresenceWait = 50 * time.Microsecond
	}
	if c.PresenceDelay == 0 {
		c.PresenceDelay = time.Second
	}
}

// Hub routes messages between sessions. Create it with New, start it with
// Run, and stop it with Close.
type Hub struct {
	cfg   Config
	store store.Store
	log   *slog.Logger

	work      chan func()
	reads     chan func()    // catch-up reads, for the readers (see onReader)
	queries   chan func()    // reads for requests, for the query readers (see onQuery)
	readers   sync.WaitGroup // the readers and query readers, started by Run
	quit      chan struct{}
	done      chan struct{}
	closeOnce sync.Once

	toCommit  chan []*record    // capacity 1; one batch in flight
	committed chan commitResult // capacity 1
	commitEnd chan struct{}     // closed when the committer exits

	logins atomic.Uint64 // the number of the last login to arrive (see Login)

	// Counts for Stats.
	stored    atomic.Uint64 // messages made durable
	delivered atomic.Uint64 // message and recall events queued to sessions
	reading   atomic.Int64  // reads in progress off the hub goroutine

	// Everything below is owned by the run goroutine.
	users map[string]*user
	rooms map[string]*room
	// Skeletons (see skeleton) of every user's and room's key, to the
	// key: a new name that looks like one of them is refused.
	userLike, roomLike map[string]string
	// nicks are the users with a nick, by the nick's comparison key.
	nicks         map[string]*user
	lobby         *room
	online        map[*Session]struct{}
	nextID        uint64 // last assigned message id
	lastPub       uint64 // last published message id
	seq           uint64 // last membership sequence number
	pending       []*record
	inflight      bool
	keys          idemCache
	recalls       recallSet // messages recalled while they could still be
	recent        recentLog // what was published last
	nextSess      uint64
	dirty         []*Session        // sessions with frames queued since the last flush
	presence      []*protocol.Frame // presence events not yet sent
	presenceBytes int               // about what they take encoded
	presenceOf    []*user           // the users they are about
}

type user struct {
	key, name   string
	sess        *Session
	rooms       map[string]*room
	pmDelivered uint64
	// pmCaughtUp counts the catch-ups that raised pmDelivered: a read
	// for a fresh login is redone only if one of those handed over what
	// it read (see current); live messages come after what it read.
	pmCaughtUp uint64
	login      uint64 // the number of the login attached last (see Login)
	// presenceWaits is set while an event of u's presence waits to be
	// sent (see broadcastPresence).
	presenceWaits bool
	// reads are u's read positions, by conversation (see moveRead).
	reads map[string]uint64
	// nick is how u is shown, if they chose a name for that (see setNick).
	nick string
}

type room struct {
	key, name string
	owner     string // user key, "" when nobody owns it
	members   *members
	banned    map[string]bool // keys of users the owner kicked
	created   time.Time
	isLobby   bool
	// topic, set by the owner; topicBy is the setter's display name.
	topic, topicBy string
	topicTime      time.Time
	// The room's settings (see modes.go): secret rooms are listed only
	// to their members; with topicLock only the owner and operators set
	// the topic.
	secret, topicLock bool
	// ops and voiced are the keys of the members with those roles.
	ops, voiced map[string]bool
}

// members is an immutable, join-ordered member list. A change makes a new
// one, so a record can keep the list that was current when it was accepted.
// users runs parallel to list, so fan-out needs no lookups.
type members struct {
	list  []store.Member
	users []*user
	seq   map[string]uint64
}

func (m *members) has(key string) bool { _, ok := m.seq[key]; return ok }

func (m *members) with(mb store.Member, u *user) *members {
	n := &members{
		list:  append(append(make([]store.Member, 0, len(m.list)+1), m.list...), mb),
		users: append(append(make([]*user, 0, len(m.users)+1), m.users...), u),
		seq:   make(map[string]uint64, len(m.seq)+1),
	}
	for k, v := range m.seq {
		n.seq[k] = v
	}
	n.seq[mb.User] = mb.Seq
	return n
}

func (m *members) without(key string) *members {
	n := &members{
		list:  make([]store.Member, 0, len(m.list)),
		users: make([]*user, 0, len(m.users)),
		seq:   make(map[string]uint64, len(m.seq)),
	}
	for i, mb := range m.list {
		if mb.User != key {
			n.list = append(n.list, mb)
			n.users = append(n.users, m.users[i])
			n.seq[mb.User] = mb.Seq
		}
	}
	return n
}

// record is accepted work waiting to be made durable and then published.
type record struct {
	changes []store.Change
	publish func()          // after the changes are durable
	fail    func(err error) // if they could not be written
}

type commitResult struct {
	batch []*record
	err   error
}

// Session is one logged-in connection.
type Session struct {
	hub   *Hub
	peer  Peer
	id    uint64
	user  *user // set by run
	dirty bool  // in Hub.dirty; owned by run
	// catchingUp holds live messages back while the client fetches the
	// rest of a catch-up that was cut short; owned by run.
	catchingUp bool
	// While holding, what the hub sends the session waits in held,
	// behind an answer being read off the hub goroutine (see
	// handleRead); owned by run.
	holding   bool
	held      []*event.Event
	heldBytes int
	// Name is the user's display name; Key its comparison key.
	Name, Key string
	// typed is when the session's typing was last passed on, by
	// conversation (see typing); owned by run.
	typed map[string]time.Time
	// serverOp is set once the session is a server operator (see
	// oper); owned by run.
	serverOp bool
}

// logAttrs identify the session in logs.
func (s *Session) logAttrs(args ...any) []any {
	return append([]any{"session", s.id, "user", s.Name}, args...)
}

// New loads the hub's state from cfg.Store.
func New(ctx context.Context, cfg Config) (*Hub, error) {
	cfg.setDefaults()
	h := &Hub{
		cfg:       cfg,
		store:     cfg.Store,
		log:       cfg.Logger,
		work:      make(chan func(), cfg.Queue),
		reads:     make(chan func()),
		queries:   make(chan func()),
		quit:      make(chan struct{}),
		done:      make(chan struct{}),
		toCommit:  make(chan []*record, 1),
		committed: make(chan commitResult, 1),
		commitEnd: make(chan struct{}),
		users:     make(map[string]*user),
		rooms:     make(map[string]*room),
		userLike:  make(map[string]string),
		roomLike:  make(map[string]string),
		nicks:     make(map[string]*user),
		online:    make(map[*Session]struct{}),
		keys:      newIdemCache(cfg.IdemKeys),
		recalls:   recallSet{ids: make(map[uint64]bool)},
		recent:    recentLog{max: cfg.RecentLog},
	}
	h.lobby = &room{key: protocol.Lobby, name: protocol.Lobby, isLobby: true, members: &members{seq: map[string]uint64{}}}
	users, err := h.store.Users(ctx)
	if err != nil {
		return nil, fmt.Errorf("load users: %w", err)
	}
	for _, u := range users {
		h.users[u.Key] = &user{key: u.Key, name: u.Name, rooms: map[string]*room{}, pmDelivered: u.PMDelivered, nick: u.Nick}
		if _, taken := h.userLike[skeleton(u.Key)]; !taken {
			h.userLike[skeleton(u.Key)] = u.Key
		}
	}
	for _, u := range h.users {
		h.loadNick(u)
	}
	reads, err := h.store.Reads(ctx)
	if err != nil {
		return nil, fmt.Errorf("load read positions: %w", err)
	}
	for _, r := range reads {
		if u := h.users[r.User]; u != nil {
			if u.reads == nil {
				u.reads = map[string]uint64{}
			}
			u.reads[r.Conv] = r.Msg
		}
	}
	rooms, err := h.store.Rooms(ctx)
	if err != nil {
		return nil, fmt.Errorf("load rooms: %w", err)
	}
	var empty []store.Change
	for _, sr := range rooms {
		mem := &members{seq: make(map[string]uint64, len(sr.Members))}
		r := &room{key: sr.Key, name: sr.Name, owner: sr.Owner, created: sr.Created, members: mem, banned: map[string]bool{},
			topic: sr.Topic, topicBy: sr.TopicBy, topicTime: sr.TopicTime, secret: sr.Secret, topicLock: sr.TopicLock,
			ops: map[string]bool{}, voiced: map[string]bool{}}
		for _, b := range sr.Banned {
			r.banned[b] = true
		}
		for _, m := range sr.Members {
			u := h.users[m.User]
			if u == nil {
				continue
			}
			mem.list = append(mem.list, m)
			mem.users = append(mem.users, u)
			mem.seq[m.User] = m.Seq
			u.rooms[r.key] = r
			if m.Operator {
				r.ops[m.User] = true
			}
			if m.Voice {
				r.voiced[m.User] = true
			}
			h.seq = max(h.seq, m.Seq)
		}
		if len(mem.list) == 0 {
			// Left by everyone before rooms went with their last member.
			empty = append(empty, store.Change{Kind: store.DeleteRoom, Room: store.Room{Key: r.key}})
			continue
		}
		h.rooms[r.key] = r
		h.roomLike[skeleton(r.key)] = r.key
	}
	if len(empty) > 0 {
		if err := h.store.Apply(ctx, empty); err != nil {
			return nil, fmt.Errorf("delete empty rooms: %w", err)
		}
	}
	if h.nextID, err = h.store.LastID(ctx); err != nil {
		return nil, fmt.Errorf("load last message id: %w", err)
	}
	h.lastPub = h.nextID
	h.recent.floor = h.lastPub
	recent, err := h.store.RecentKeys(ctx, cfg.IdemKeys)
	if err != nil {
		return nil, fmt.Errorf("load idempotency keys: %w", err)
	}
	for _, m := range recent {
		h.keys.put(m.From, m.Key, m.ID)
	}
	if err := h.store.DeleteExpiredTokens(ctx, cfg.Now()); err != nil {
		return nil, fmt.Errorf("delete expired tokens: %w", err)
	}
	return h, nil
}

// Run processes work until Close is called. It returns after everything
// accepted has been written to the store.
func (h *Hub) Run() {
	defer close(h.done)
	for range h.cfg.CatchUpReads {
		h.readers.Add(1)
		go h.reader(h.reads)
	}
	for range h.cfg.QueryReads {
		h.readers.Add(1)
		go h.reader(h.queries)
	}
	defer h.readers.Wait()
	if h.cfg.Retention > 0 {
		h.readers.Add(1)
		go h.pruner()
	}
	go h.commit()
	defer func() {
		close(h.toCommit)
		<-h.commitEnd
	}()
	// The presence timer runs only while events wait (see broadcastPresence).
	presence := time.NewTimer(time.Hour)
	presence.Stop()
	defer presence.Stop()
	presenceArmed := false
	const maxPending = 8192
	for {
		work := h.work
		if len(h.pending) >= maxPending {
			work = nil // push back on senders until the disk catches up
		}
		select {
		case fn := <-work:
			fn()
		case res := <-h.committed:
			h.finish(res)
		case <-presence.C:
			presenceArmed = false
			h.flushPresence()
		case <-h.quit:
			h.drain()
			h.flushPresence()
			h.flushPeers()
			return
		}
		switch {
		case h.presenceBytes > maxPresence:
			h.flushPresence()
		case len(h.presence) > 0 && !presenceArmed:
			presence.Reset(min(h.cfg.PresenceDelay, time.Duration(len(h.online))*h.cfg.PresenceWait))
			presenceArmed = true
		}
		h.flushPeers()
		h.flush()
	}
}

// maxPresence bounds the presence events gathered, in bytes; it stays
// well under the frame limit's worth of lines that one write carries
// comfortably.
const maxPresence = 32 << 10

// deliver queues an event for a session; flushPeers sends it.
// While the session holds (see handleRead), the frame waits in its hold;
// a hold that grows past what a catch-up may take closes the session as
// a slow consumer.
func (h *Hub) deliver(s *Session, ev *event.Event) bool {
	if s.holding {
		s.held = append(s.held, ev)
		s.heldBytes += approxSize(ev)
		if s.heldBytes > h.cfg.CatchUpBytes {
			s.held, s.heldBytes = nil, 0
			s.peer.Close(protocol.CodeSlowConsumer, "too much came while your request was answered")
			return false
		}
		return true
	}
	ok := s.peer.Queue(ev)
	if ok && (ev.Kind == event.Message || ev.Kind == event.Recall) {
		h.delivered.Add(1)
	}
	if ok && !s.dirty {
		s.dirty = true
		h.dirty = append(h.dirty, s)
	}
	return ok
}

// flushPeers starts the writes of every session that has frames queued.
func (h *Hub) flushPeers() {
	for i, s := range h.dirty {
		s.dirty = false
		s.peer.Flush()
		h.dirty[i] = nil
	}
	h.dirty = h.dirty[:0]
}

// drain finishes the batch in flight and writes what is pending.
func (h *Hub) drain() {
	for h.inflight || len(h.pending) > 0 {
		h.flush()
		h.finish(<-h.committed)
	}
}

// flush hands the pending records to the committer if it is idle.
func (h *Hub) flush() {
	if h.inflight || len(h.pending) == 0 {
		return
	}
	h.toCommit <- h.pending // never blocks: capacity 1 and nothing in flight
	h.pending = nil
	h.inflight = true
}

func (h *Hub) finish(res commitResult) {
	h.inflight = false
	for _, r := range res.batch {
		if res.err != nil {
			if r.fail != nil {
				r.fail(res.err)
			}
			continue
		}
		if r.publish != nil {
			r.publish()
		}
	}
}

// commit writes batches, one at a time, and reports each back to run.
func (h *Hub) commit() {
	defer close(h.commitEnd)
	var changes []store.Change
	for batch := range h.toCommit {
		changes = changes[:0]
		for _, r := range batch {
			changes = append(changes, r.changes...)
		}
		var err error
		if len(changes) > 0 {
			start := time.Now()
			err = h.store.Apply(context.Background(), changes)
			if h.cfg.ObserveCommit != nil {
				h.cfg.ObserveCommit(time.Since(start))
			}
			if err != nil {
				h.log.Error("store write failed", "changes", len(changes), "err", err)
				if h.cfg.WriteFailed != nil {
					h.cfg.WriteFailed(err)
				}
			} else {
				n := 0
				for i := range changes {
					if changes[i].Kind == store.AddMessage {
						n++
					}
				}
				h.stored.Add(uint64(n))
			}
		}
		h.committed <- commitResult{batch, err}
	}
}

// Settings returns the configuration in force, defaults filled in.
func (h *Hub) Settings() Config { return h.cfg }

// Alive reports whether the hub goroutine answers, within ctx: a health
// check, which costs one turn of the hub.
func (h *Hub) Alive(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case h.work <- func() { close(done) }:
	case <-h.done:
		return ErrClosed
	case <-ctx.Done():
		return errors.New("the hub is too busy to answer")
	}
	select {
	case <-done:
		return nil
	case <-h.done:
		return ErrClosed
	case <-ctx.Done():
		return errors.New("the hub is too busy to answer")
	}
}

// Stats are counts of the hub's work, for metrics.
type Stats struct {
	Stored    uint64 // messages made durable since the hub started
	Delivered uint64 // message and recall events queued to sessions
	Queue     int    // work waiting for the hub goroutine
	Reads     int64  // catch-ups and request reads in progress off it
}

// Stats returns the hub's counts; it may be called from any goroutine.
func (h *Hub) Stats() Stats {
	return Stats{Stored: h.stored.Load(), Delivered: h.delivered.Load(), Queue: len(h.work), Reads: h.reading.Load()}
}

// Close stops the hub after writing what it has accepted. Sessions are not
// told; the network layer closes connections first.
func (h *Hub) Close() {
	h.closeOnce.Do(func() { close(h.quit) })
	<-h.done
}

// do runs fn on the hub goroutine. It returns ErrClosed if the hub stopped.
func (h *Hub) do(fn func()) error {
	select {
	case h.work <- fn:
		return nil
	case <-h.done:
		return ErrClosed
	case <-h.quit:
		return ErrClosed
	}
}

// queue adds a record to be written and then published.
func (h *Hub) queue(r *record) { h.pending = append(h.pending, r) }

// Handle processes one request from a logged-in session. Its reply, and
// any events it causes, are sent to the session's peer. It returns once
// the request is in the hub's queue, except that requests that read the
// store are answered before it returns, their reads done off the hub
// goroutine: sync (see readAhead), join, history and recall (see
// handleRead). A caller that handles one session's requests in turn
// keeps their replies in order.
func (h *Hub) Handle(s *Session, f *protocol.Frame) {
	var err error
	switch f.Type {
	case protocol.TypeSync:
		err = h.readSync(s, f)
	case protocol.TypeJoin:
		err = h.handleJoin(s, f)
	case protocol.TypeHistory:
		err = h.handleHistory(s, f)
	case protocol.TypeRecall:
		err = h.handleRecall(s, f)
	case protocol.TypeSearch:
		err = h.handleSearch(s, f)
	case protocol.TypeTyping:
		err = h.do(func() { h.typing(s, f) })
	case protocol.TypeEdit:
		err = h.handleEdit(s, f)
	case protocol.TypeReact:
		err = h.handleReact(s, f)
	case protocol.TypeOper:
		err = h.handleOper(s, f)
	case protocol.TypeSend:
		if f.ReplyTo != 0 {
			err = h.handleReply(s, f)
		} else {
			err = h.do(func() { h.handle(s, f) })
		}
	default:
		err = h.do(func() { h.handle(s, f) })
	}
	if err != nil {
		s.peer.Queue(event.Error(protocol.Errorf(protocol.CodeShutdown, "server is shutting down"), f.ID))
		s.peer.Flush()
	}
}

// Finish returns a channel that is closed once everything the session
// asked for before has been answered: replies that wait for the disk are
// queued to its peer. A connection whose client has stopped sending waits
// for it before closing, so the client gets its last replies.
func (h *Hub) Finish(s *Session) <-chan struct{} {
	done := make(chan struct{})
	closeDone := func() { close(done) }
	if err := h.do(func() {
		h.queue(&record{publish: closeDone, fail: func(error) { closeDone() }})
	}); err != nil {
		close(done)
	}
	return done
}

// Leave tells the hub that a session's connection has ended.
func (h *Hub) Leave(s *Session) {
	h.do(func() { h.detach(s) })
}

// The session's own methods are the hub's, for a session layer that
// holds its logged-in sessions behind an interface.

// User returns the session's user's display name.
func (s *Session) User() string { return s.Name }

// Handle is Hub.Handle for s.
func (s *Session) Handle(f *protocol.Frame) { s.hub.Handle(s, f) }

// Finish is Hub.Finish for s.
func (s *Session) Finish() <-chan struct{} { return s.hub.Finish(s) }

// Leave is Hub.Leave for s.
func (s *Session) Leave() { s.hub.Leave(s) }

// readSync answers a sync request. Most of it is read off the hub
// goroutine, as for a login (see readAhead); the caller's next request
// waits until the answer is queued, so replies stay in order.
func (h *Hub) readSync(s *Session, f *protocol.Frame) error {
	ok := func() bool { return h.attached(s) }
	return h.catchUp(context.Background(), s.Key, false, true, f.Since, ok, func(ra *readAhead) {
		if h.attached(s) {
			h.sync(s, f, ra)
		}
	})
}

// attached reports whether s is its user's current session.
func (h *Hub) attached(s *Session) bool { return s.user != nil && s.user.sess == s }

func (h *Hub) handle(s *Session, f *protocol.Frame) {
	if !h.attached(s) {
		return // replaced or gone; its connection is closing
	}
	var err *protocol.Error
	switch f.Type {
	case protocol.TypeSend:
		err = h.sendReply(s, f, nil)
	case protocol.TypeLeave:
		err = h.leave(s, f)
	case protocol.TypeKick:
		err = h.kick(s, f)
	case protocol.TypeUnban:
		err = h.unban(s, f)
	case protocol.TypeTopic:
		err = h.setTopic(s, f)
	case protocol.TypeMode:
		err = h.setMode(s, f)
	case protocol.TypeRooms:
		err = h.listRooms(s, f)
	case protocol.TypeWho:
		err = h.who(s, f)
	case protocol.TypePing:
		h.reply(s, &protocol.Frame{Type: protocol.TypeOK, Re: f.ID})
	case protocol.TypeFilesToken:
		err = h.filesToken(s, f)
	case protocol.TypeRead:
		err = h.markRead(s, f)
	case protocol.TypeNick:
		err = h.setNick(s, f)
	case protocol.TypeQuit:
		// A quit goes offline at once, and its presence goes out before
		// the reply: whoever sees the reply, or the connection close,
		// knows that everyone sharing a room has been told (an IRC
		// client's QUIT line is expected to reach the channel before
		// the quitter's link closes).
		h.detach(s)
		h.flushPresence()
		h.reply(s, &protocol.Frame{Type: protocol.TypeOK, Re: f.ID})
		s.peer.Close(protocol.CodeQuit, "goodbye")
	case protocol.TypeLogin:
		err = protocol.Errorf(protocol.CodeAlreadyIn, "already logged in as %s", s.Name)
	default:
		err = protocol.Errorf(protocol.CodeUnknownType, "unknown request type %q", f.Type)
	}
	if err != nil {
		h.reply(s, err.Frame(f.ID))
	}
}

func (h *Hub) reply(s *Session, f *protocol.Frame) {
	h.deliver(s, event.NewReply(f))
}

// fanout sends one event to every online member of r.
func (h *Hub) fanout(r *room, m *members, ev *event.Event) {
	h.fanoutTo(r, m, ev, h.deliver)
}

// fanoutLog sends a message or recall event to r's online members that
// are not catching up.
func (h *Hub) fanoutLog(r *room, m *members, ev *event.Event) {
	h.fanoutTo(r, m, ev, h.deliverLog)
}

func (h *Hub) fanoutTo(r *room, m *members, ev *event.Event, deliver func(*Session, *event.Event) bool) {
	if r.isLobby {
		for s := range h.online {
			deliver(s, ev)
		}
		return
	}
	for _, u := range m.users {
		if u.sess != nil {
			deliver(u.sess, ev)
		}
	}
}

// deliverLog delivers a live message or recall event unless the session
// is catching up, in which case sync brings it in its turn.
func (h *Hub) deliverLog(s *Session, ev *event.Event) bool {
	if s.catchingUp {
		return false
	}
	return h.deliver(s, ev)
}

// room returns the room named by f.Room, or the lobby if it is empty.
func (h *Hub) roomFor(name string) (*room, *protocol.Error) {
	if name == "" {
		return h.lobby, nil
	}
	n, err := protocol.ParseRoom(name)
	if err != nil {
		return nil, err
	}
	if n.Key == protocol.Lobby {
		return h.lobby, nil
	}
	r := h.rooms[n.Key]
	if r == nil {
		return nil, protocol.Errorf(protocol.CodeNoSuchRoom, "there is no room %q", name)
	}
	return r, nil
}

func (h *Hub) isMember(r *room, key string) bool {
	return r.isLobby || r.members.has(key)
}

func (h *Hub) userFor(name string) (*user, *protocol.Error) {
	n, err := protocol.ParseName(name)
	if err != nil {
		return nil, err
	}
	u := h.users[n.Key]
	if u == nil {
		u = h.nicks[n.Key] // someone may be named by their nick
	}
	if u == nil {
		return nil, protocol.Errorf(protocol.CodeNoSuchUser, "there is no user %q", name)
	}
	return u, nil
}

func (h *Hub) roomName(key string) string {
	if key == protocol.Lobby {
		return protocol.Lobby
	}
	if r := h.rooms[key]; r != nil {
		return r.name
	}
	return key
}

func (h *Hub) userName(key string) string {
	if u := h.users[key]; u != nil {
		return u.name
	}
	return key
}

// messageEvent is the event for a log entry.
func (h *Hub) messageEvent(m *store.Message, history bool) *event.Event {
	return entryEvent(m, h.roomName(m.Room), history)
}

// entryEvent is the event for a log entry, given its room's display name
// if it is a room's.
func entryEvent(m *store.Message, room string, history bool) *event.Event {
	f := entryFrame(m, room, history)
	if ev, ok := aboutFrame(f, m); ok {
		return ev
	}
	if f.Type == protocol.TypeRecall {
		return event.New(event.Recall, f)
	}
	return event.New(event.Message, f)
}

// approxSize is about what ev takes queued: its NDJSON encoding, which
// every event but those for IRC connections has.
func approxSize(ev *event.Event) int { return len(ev.JSON()) }

// entryFrame is the event for a log entry, given its room's display name
// if it is a room's.
func entryFrame(m *store.Message, room string, history bool) *protocol.Frame {
	f := &protocol.Frame{ID: m.ID, From: m.FromName, Nick: m.FromNick, Time: m.Time.UnixMilli(), History: history}
	if m.Room != "" {
		f.Room = room
	} else {
		f.To = m.ToName
	}
	if m.Kind == store.KindRecall {
		f.Type = protocol.TypeRecall
		f.Msg = m.Target
		return f
	}
	f.Type = protocol.TypeMessage
	f.Kind = m.Kind
	f.Text = m.Text
	f.Recalled = m.Recalled
	if m.File != "" {
		f.File = decodeFile(m.File)
	}
	f.Edited = m.Edited && !m.Recalled
	if m.ReplyTo != 0 {
		f.ReplyTo, f.Quote = m.ReplyTo, eventQuote(m.Quote)
	}
	if !m.Recalled {
		f.Reactions = eventReactions(m.Reactions)
	}
	return f
}

// pruner deletes messages older than Config.Retention: once at start,
// then every pruneEvery, until the hub stops.
func (h *Hub) pruner() {
	defer h.readers.Done()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-h.quit:
			return
		}
		if _, err := h.Prune(context.Background()); err != nil {
			h.log.Error("delete old messages", "err", err)
		}
		t.Reset(min(pruneEvery, h.cfg.Retention))
	}
}

// pruneEvery is how often messages past Config.Retention are deleted.
const pruneEvery = time.Hour

// pruneBatch is how many entries one of prune's deletions takes at most,
// so that the store's writer is never held for long.
const pruneBatch = 1000

// Prune deletes the messages older than Config.Retention now, in batches
// of pruneBatch, and returns how many it deleted. The hub runs it by
// itself; it is exported for tests and tools. It reads and writes only
// the store, never the hub's state: what it deletes is older than
// anything the hub holds for recall or catch-up.
func (h *Hub) Prune(ctx context.Context) (int, error) {
	if h.cfg.Retention <= 0 {
		return 0, nil
	}
	before := h.cfg.Now().Add(-h.cfg.Retention)
	total := 0
	for {
		n, err := h.store.Prune(ctx, before, pruneBatch)
		total += n
		if err != nil || n < pruneBatch {
			if total > 0 {
				h.log.Info("deleted old messages", "count", total, "before", before)
			}
			return total, err
		}
		select {
		case <-h.quit:
			return total, nil
		default:
		}
	}
}

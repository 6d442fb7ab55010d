// Package watch turns changes to the shared folder into events: created,
// removed and changed, one per path, after the path has been quiet for a
// moment. It watches every subfolder, including those created later, and
// keeps a short history so that a client that reconnects to the event
// stream gets what it missed.
package watch

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/parley-chat/parley/fileserver/folder"
)

// Event types.
const (
	Created = "created"
	Removed = "removed"
	Changed = "changed"
	// Reset tells a subscriber that events were lost (it was away too
	// long, or the server restarted), so it should list the folder again.
	Reset = "reset"
)

// Event is one change to the folder.
type Event struct {
	// ID orders events; it is "EPOCH-SEQ", where EPOCH changes when the
	// server restarts.
	ID   string `json:"id"`
	Type string `json:"type"`
	Path string `json:"path,omitempty"`
	Dir  bool   `json:"dir,omitempty"`
	// Entry describes the file or folder after a created or changed event.
	Entry *folder.Entry `json:"entry,omitempty"`
}

// Config configures a Watcher.
type Config struct {
	Folder *folder.Folder
	// Settle is how long a path must be quiet before its event is sent
	// (default 250ms). A file being written is hidden from listings until
	// then.
	Settle time.Duration
	// History is how many recent events are kept for reconnecting
	// subscribers (default 1024). It is also how far a subscriber may
	// fall behind before it is dropped as too slow.
	History int
	// Encode turns an event into what subscribers are sent. Each event
	// is encoded once, when it is published, and the same bytes go to
	// every subscriber; they are never changed. Default: its JSON.
	Encode func(Event) []byte
	Logger *slog.Logger
}

type state struct {
	dir     bool
	size    int64
	mtimeNs int64
}

type pending struct {
	deadline time.Time
	// busy is set while the path is being written in place: a Write
	// event, or the creation of an empty file.
	busy bool
}

// Watcher watches a folder and publishes its changes.
type Watcher struct {
	cfg   Config
	f     *folder.Folder
	fw    *fsnotify.Watcher
	log   *slog.Logger
	epoch string

	// mu guards everything below; the loop goroutine is the only writer
	// of known and pending, readers come from HTTP handlers.
	mu      sync.Mutex
	known   map[string]state
	pending map[string]*pending
	seq     uint64
	// ring holds the last cfg.History events, encoded: the event with
	// sequence number q is at ring[q % len(ring)] while q > seq-len(ring).
	// Subscribers read it in place; nothing is copied for them.
	ring   [][]byte
	subs   map[*Sub]struct{}
	closed bool

	running bool // the loop was started
	done    chan struct{}

	// watched is the tree of folders with a watch. Only the loop
	// goroutine uses it (and newWatcher, before the loop starts).
	watched *dirNode
}

// dirNode is a watched folder and the watched folders in it.
type dirNode struct {
	// fi is what the folder was when its watch was added, so that a
	// folder replaced by another of the same name is told apart; nil if
	// it has no watch.
	fi   fs.FileInfo
	kids map[string]*dirNode
}

// New scans the folder, watches it and every subfolder, and starts
// publishing events. Stop it with Close.
func New(cfg Config) (*Watcher, error) {
	w, err := newWatcher(cfg)
	if err != nil {
		return nil, err
	}
	w.running = true
	go w.loop()
	return w, nil
}

// newWatcher sets up a watcher without starting its loop.
func newWatcher(cfg Config) (*Watcher, error) {
	if cfg.Settle <= 0 {
		cfg.Settle = 250 * time.Millisecond
	}
	if cfg.History <= 0 {
		cfg.History = 1024
	}
	if cfg.Encode == nil {
		cfg.Encode = func(ev Event) []byte {
			b, _ := json.Marshal(ev)
			return b
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch shared folder: %w", err)
	}
	w := &Watcher{
		cfg:     cfg,
		f:       cfg.Folder,
		fw:      fw,
		log:     log,
		epoch:   strconv.FormatInt(time.Now().UnixNano(), 36),
		known:   map[string]state{},
		pending: map[string]*pending{},
		subs:    map[*Sub]struct{}{},
		ring:    make([][]byte, cfg.History),
		done:    make(chan struct{}),
		watched: &dirNode{},
	}
	// The kernel takes paths of at most pathMax bytes, with the NUL.
	if room := pathMax - 1 - len(w.f.Dir()) - 1; room < folder.MaxPathBytes {
		log.Warn("the shared folder's path is so long that changes to files deep inside it will be missed; use a shorter one",
			"dir", w.f.Dir(), "watchable_path_bytes", room, "max_path_bytes", folder.MaxPathBytes)
	}
	if err := w.addTree(".", false); err != nil {
		fw.Close()
		return nil, err
	}
	return w, nil
}

// Subscribers is how many subscriptions are open.
func (w *Watcher) Subscribers() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.subs)
}

// Close stops watching and ends every subscription.
func (w *Watcher) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		if w.running {
			<-w.done
		}
		return nil
	}
	w.closed = true
	for s := range w.subs {
		s.end(nil)
	}
	w.subs = nil
	w.ring = nil
	w.mu.Unlock()
	err := w.fw.Close()
	if w.running {
		<-w.done
	}
	return err
}

// Busy reports whether p is being written: changed recently and not yet
// quiet. Busy files are not listed or served.
func (w *Watcher) Busy(p string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	pe, ok := w.pending[p]
	return ok && pe.busy
}

func (w *Watcher) abs(rel string) string {
	if rel == "." {
		return w.f.Dir()
	}
	return filepath.Join(w.f.Dir(), filepath.FromSlash(rel))
}

// rel turns an absolute path from fsnotify into a folder path, or ""
// if it is the folder itself or outside it.
func (w *Watcher) rel(abs string) string {
	r, err := filepath.Rel(w.f.Dir(), abs)
	if err != nil || r == "." || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return ""
	}
	return filepath.ToSlash(r)
}

// node returns the tree node for folder p, or nil if there is none; with
// create, it makes the missing nodes on the way.
func (w *Watcher) node(p string, create bool) *dirNode {
	n := w.watched
	if p == "." {
		return n
	}
	for part := range strings.SplitSeq(p, "/") {
		k := n.kids[part]
		if k == nil {
			if !create {
				return nil
			}
			if n.kids == nil {
				n.kids = map[string]*dirNode{}
			}
			k = &dirNode{}
			n.kids[part] = k
		}
		n = k
	}
	return n
}

// watchDir adds a watch for folder p, which fi describes. It reports
// whether p had one already: then everything in p was seen when the
// watch was added, and everything since has come as events, so p need
// not be walked again. A folder that replaced a watched one of the same
// name gets a new watch, and the old one's subfolders lose theirs. With
// again, the watch is added even if p seems to have one, for when
// events were lost: a folder removed and made again may have the same
// inode number.
func (w *Watcher) watchDir(p string, fi fs.FileInfo, again bool) (already bool) {
	n := w.node(p, true)
	same := n.fi != nil && os.SameFile(n.fi, fi)
	if same && !again {
		return true
	}
	if !same {
		for name, k := range n.kids {
			w.dropWatches(join(p, name), k)
		}
		n.kids = nil
	}
	n.fi = nil
	if err := w.fw.Add(w.abs(p)); err != nil {
		w.log.Warn("cannot watch folder; changes in it will be missed", "folder", p, "err", err)
		return false
	}
	n.fi = fi
	return same
}

// unwatch drops the watches of folder p and the folders in it, after p
// was removed or moved away. A folder moved elsewhere in the shared
// folder is watched again under its new name when its creation there is
// handled, which comes after this.
func (w *Watcher) unwatch(p string) {
	if p == "." {
		return
	}
	parent := w.node(folder.Parent(p), false)
	if parent == nil {
		return
	}
	n := parent.kids[folder.Base(p)]
	if n == nil {
		return
	}
	delete(parent.kids, folder.Base(p))
	w.dropWatches(p, n)
}

func (w *Watcher) dropWatches(p string, n *dirNode) {
	for name, k := range n.kids {
		w.dropWatches(join(p, name), k)
	}
	if n.fi != nil {
		// The kernel has dropped the watch of a removed folder already;
		// that error is of no interest.
		w.fw.Remove(w.abs(p))
	}
}

func join(dir, name string) string {
	if dir == "." {
		return name
	}
	return dir + "/" + name
}

// addTree watches dir and every folder below it, and records what is in
// them. With announce, everything found is marked pending, so that it is
// announced once quiet; without, it is taken as already known. Folders
// already watched are not walked again: a folder created with its
// subfolders at once ("mkdir -p") has an event for each level, and each
// would otherwise walk all the levels below it.
func (w *Watcher) addTree(dir string, announce bool) error {
	return fs.WalkDir(w.f.FS(), dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir && dir == "." {
				return err
			}
			return nil // vanished, or unreadable: skip it
		}
		if p != "." && folder.CheckPath(p) != nil {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			// WalkDir does not follow links, so only real folders
			// inside the root are watched.
			fi, err := d.Info()
			if err != nil {
				return fs.SkipDir // vanished
			}
			if w.watchDir(p, fi, false) && p != "." {
				return fs.SkipDir
			}
		}
		if p == "." {
			return nil
		}
		if announce {
			w.mu.Lock()
			w.markLocked(p, time.Now(), false)
			w.mu.Unlock()
			return nil
		}
		if e, err := w.f.Stat(p); err == nil {
			w.mu.Lock()
			w.known[p] = stateOf(e)
			w.mu.Unlock()
		}
		return nil
	})
}

func stateOf(e folder.Entry) state {
	return state{dir: e.Dir, size: e.Size, mtimeNs: e.Mtime.UnixNano()}
}

func (w *Watcher) markLocked(p string, now time.Time, busy bool) {
	pe := w.pending[p]
	if pe == nil {
		pe = &pending{}
		w.pending[p] = pe
	}
	pe.deadline = now.Add(w.cfg.Settle)
	pe.busy = pe.busy || busy
}

// loop receives file system events and, once a path has been quiet for
// the settle time, publishes what changed. The timer runs only while
// something is pending, and each new event for a path pushes its
// deadline back.
func (w *Watcher) loop() {
	defer close(w.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	armed := false
	for {
		select {
		case ev, ok := <-w.fw.Events:
			if !ok {
				return
			}
			w.handle(ev)
			if !armed {
				timer.Reset(w.cfg.Settle)
				armed = true
			}
		case err, ok := <-w.fw.Errors:
			if !ok {
				return
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.log.Warn("too many changes at once; rescanning the shared folder")
				w.rescan()
				if !armed {
					timer.Reset(w.cfg.Settle)
					armed = true
				}
				continue
			}
			w.log.Warn("watching the shared folder", "err", err)
		case <-timer.C:
			armed = false
			if next := w.settle(time.Now()); next > 0 {
				timer.Reset(next)
				armed = true
			}
		}
	}
}

func (w *Watcher) handle(ev fsnotify.Event) {
	p := w.rel(ev.Name)
	if p == "" || folder.CheckPath(p) != nil {
		return
	}
	if ev.Op == fsnotify.Chmod {
		return // attributes only; the content has not changed
	}
	now := time.Now()
	busy := ev.Has(fsnotify.Write)
	if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
		// Events come in order, so a folder created in its place, or
		// under its new name, is handled after this.
		w.unwatch(p)
	}
	if ev.Has(fsnotify.Create) {
		if e, err := w.f.Stat(p); err == nil {
			if e.Dir {
				// Watch it now, before files appear in it, and pick up
				// those that already have.
				if err := w.addTree(p, true); err != nil {
					w.log.Warn("watch new folder", "folder", p, "err", err)
				}
			} else if e.Size == 0 && e.Uploader == "" {
				// Most likely about to be written. (An upload placed by
				// the server has its uploader recorded, and is complete.)
				busy = true
			}
		}
	}
	w.mu.Lock()
	w.markLocked(p, now, busy)
	w.mu.Unlock()
}

// rescan compares the whole folder with what is known, after events were
// lost.
func (w *Watcher) rescan() {
	seen := map[string]bool{}
	fs.WalkDir(w.f.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "." {
			return nil
		}
		if folder.CheckPath(p) != nil {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		seen[p] = true
		if d.IsDir() {
			if fi, err := d.Info(); err == nil {
				w.watchDir(p, fi, true)
			}
		}
		return nil
	})
	w.pruneWatched(".", w.watched, seen)
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	for p := range seen {
		w.markLocked(p, now, false)
	}
	for p := range w.known {
		if !seen[p] {
			w.markLocked(p, now, false)
		}
	}
}

// pruneWatched drops the watches of folders under n that are gone.
func (w *Watcher) pruneWatched(p string, n *dirNode, seen map[string]bool) {
	for name, k := range n.kids {
		kp := join(p, name)
		if !seen[kp] {
			delete(n.kids, name)
			w.dropWatches(kp, k)
			continue
		}
		w.pruneWatched(kp, k, seen)
	}
}

// settle publishes the paths whose deadline has passed and returns how
// long until the next one is due, or 0 if nothing is pending.
func (w *Watcher) settle(now time.Time) time.Duration {
	w.mu.Lock()
	var due []string
	var next time.Duration
	for p, pe := range w.pending {
		if !pe.deadline.After(now) {
			due = append(due, p)
			continue
		}
		if d := pe.deadline.Sub(now); next == 0 || d < next {
			next = d
		}
	}
	w.mu.Unlock()
	// Parents before children, so a new folder is announced before its
	// files.
	sortByDepth(due)
	for _, p := range due {
		w.settlePath(p)
	}
	return next
}

func (w *Watcher) settlePath(p string) {
	e, err := w.f.Stat(p)
	w.mu.Lock()
	delete(w.pending, p)
	old, wasKnown := w.known[p]
	var ev *Event
	switch {
	case err != nil:
		if !wasKnown {
			break // came and went, or was never visible
		}
		ev = &Event{Type: Removed, Path: p, Dir: old.dir}
		delete(w.known, p)
		if old.dir {
			for k := range w.known {
				if strings.HasPrefix(k, p+"/") {
					delete(w.known, k)
				}
			}
		}
	case !wasKnown:
		w.known[p] = stateOf(e)
		ev = &Event{Type: Created, Path: p, Dir: e.Dir, Entry: &e}
	case old != stateOf(e):
		w.known[p] = stateOf(e)
		if old.dir != e.Dir {
			// Replaced by something of the other kind.
			w.publishLocked(Event{Type: Removed, Path: p, Dir: old.dir})
			ev = &Event{Type: Created, Path: p, Dir: e.Dir, Entry: &e}
		} else if !e.Dir {
			ev = &Event{Type: Changed, Path: p, Entry: &e}
		}
	}
	if ev != nil {
		w.publishLocked(*ev)
	}
	w.mu.Unlock()
	if ev != nil {
		w.f.Invalidate()
		if ev.Type == Removed {
			w.f.Forget(p)
		}
	}
}

// sortByDepth orders paths by depth, then by name.
func sortByDepth(ps []string) {
	slices.SortFunc(ps, func(a, b string) int {
		if c := cmp.Compare(strings.Count(a, "/"), strings.Count(b, "/")); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
}

func (w *Watcher) publishLocked(ev Event) {
	if w.closed {
		return
	}
	w.seq++
	ev.ID = w.epoch + "-" + strconv.FormatUint(w.seq, 10)
	w.ring[w.seq%uint64(len(w.ring))] = w.cfg.Encode(ev)
	for s := range w.subs {
		s.wakeUp()
	}
}

// ErrSlow ends a subscription whose reader fell too far behind: the
// events it had yet to read are no longer kept.
var ErrSlow = errors.New("event stream reader too slow")

// Sub is a subscription to the folder's events. It holds only its
// place in the watcher's history: the events it is sent are the
// watcher's, encoded once for everyone.
type Sub struct {
	w *Watcher
	// next is the sequence number of the next event to send; reset, if
	// set, goes before it. Both are guarded by w.mu.
	next  uint64
	reset []byte
	wake  chan struct{} // a token when events may be ready
	done  chan struct{} // closed when the subscription ends
	err   error         // why it ended; guarded by w.mu
	ended bool          // guarded by w.mu
}

// Ready is signalled when events may be ready for Read.
func (s *Sub) Ready() <-chan struct{} { return s.wake }

// Done is closed when the subscription ends: after Close, or when the
// watcher stops.
func (s *Sub) Done() <-chan struct{} { return s.done }

func (s *Sub) wakeUp() {
	select {
	case s.wake <- struct{}{}:
	default: // one token is enough: Read takes all that is ready
	}
}

// Read returns the encoded events that are ready, oldest first, as many
// as fit in max bytes (at least one, if any is ready). The slices are
// the watcher's own, shared by every subscriber: they must not be
// changed. Read returns ErrSlow, and ends the subscription, if the
// subscriber has fallen so far behind that events it has yet to read
// are no longer kept.
func (s *Sub) Read(max int) ([][]byte, error) {
	w := s.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if s.ended {
		return nil, s.err
	}
	var out [][]byte
	n := 0
	if s.reset != nil {
		out = append(out, s.reset)
		n += len(s.reset)
		s.reset = nil
	}
	if s.next <= w.seq && w.seq-s.next >= uint64(len(w.ring)) {
		delete(w.subs, s)
		s.end(ErrSlow)
		return nil, ErrSlow
	}
	for ; s.next <= w.seq && (n == 0 || n < max); s.next++ {
		b := w.ring[s.next%uint64(len(w.ring))]
		if n > 0 && n+len(b) > max {
			break
		}
		out = append(out, b)
		n += len(b)
	}
	if s.next <= w.seq {
		s.wakeUp() // more is ready
	}
	return out, nil
}

// Err says why the subscription ended: ErrSlow, or nil after Close or
// when the watcher stopped.
func (s *Sub) Err() error {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	return s.err
}

// end ends the subscription; the watcher's lock is held.
func (s *Sub) end(err error) {
	if s.ended {
		return
	}
	s.ended, s.err = true, err
	close(s.done)
}

// Close ends the subscription.
func (s *Sub) Close() {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	if s.w.subs != nil {
		delete(s.w.subs, s)
	}
	s.end(nil)
}

// Subscribe starts a subscription. If lastID is the id of an event the
// subscriber saw, the events after it come first; if they are no longer
// kept, or lastID is from before a restart, the first event is a Reset.
func (w *Watcher) Subscribe(lastID string) (*Sub, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, errors.New("watcher closed")
	}
	s := &Sub{w: w, next: w.seq + 1, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if lastID != "" {
		if seq, ok := w.sinceLocked(lastID); ok {
			s.next = seq + 1
		} else {
			s.reset = w.cfg.Encode(Event{ID: w.epoch + "-" + strconv.FormatUint(w.seq, 10), Type: Reset})
		}
		s.wakeUp()
	}
	w.subs[s] = struct{}{}
	return s, nil
}

// sinceLocked reports whether the events after lastID are all kept,
// and the sequence number lastID has.
func (w *Watcher) sinceLocked(lastID string) (uint64, bool) {
	epoch, seqStr, ok := strings.Cut(lastID, "-")
	seq, err := strconv.ParseUint(seqStr, 10, 64)
	if !ok || err != nil || epoch != w.epoch || seq > w.seq {
		return 0, false
	}
	// Kept: the events w.seq-len(ring)+1 .. w.seq.
	if w.seq-seq > uint64(len(w.ring)) {
		return 0, false
	}
	return seq, true
}

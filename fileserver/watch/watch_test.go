package watch

import (
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/goleak"

	"github.com/parley-chat/parley/fileserver/folder"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func open(t *testing.T, settle time.Duration) (*Watcher, *folder.Folder) {
	t.Helper()
	base := t.TempDir()
	f, err := folder.Open(filepath.Join(base, "files"), filepath.Join(base, "state"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The loop is not started: the tests drive the watcher's steps
	// themselves, so nothing depends on timing or on the kernel's events.
	w, err := newWatcher(Config{Folder: f, Settle: settle, History: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		w.Close()
		f.Close()
	})
	return w, f
}

// A file being written is busy until it has been quiet for the settle
// time; then it is announced once, and no longer busy.
func TestBusyUntilSettled(t *testing.T) {
	w, f := open(t, time.Hour)
	sub, _ := w.Subscribe("")
	defer sub.Close()
	p := filepath.Join(f.Dir(), "growing.bin")
	os.WriteFile(p, []byte("part"), 0o644)
	w.handle(fsnotify.Event{Name: p, Op: fsnotify.Write})
	if !w.Busy("growing.bin") {
		t.Fatal("a file being written is not busy")
	}
	if n := w.settle(time.Now()); n <= 0 {
		t.Fatalf("nothing pending after a write: %v", n)
	}
	if !w.Busy("growing.bin") {
		t.Fatal("busy cleared before the settle time")
	}
	w.settle(time.Now().Add(2 * time.Hour))
	if w.Busy("growing.bin") {
		t.Fatal("still busy after settling")
	}
	ev := next(t, sub)
	if ev.Type != Created || ev.Path != "growing.bin" || ev.Entry == nil || ev.Entry.Size != 4 {
		t.Fatalf("event %+v", ev)
	}
	// An empty file just created is most likely about to be written.
	q := filepath.Join(f.Dir(), "empty.bin")
	os.WriteFile(q, nil, 0o644)
	w.handle(fsnotify.Event{Name: q, Op: fsnotify.Create})
	if !w.Busy("empty.bin") {
		t.Fatal("a new empty file is not busy")
	}
	// A whole file renamed in is not.
	r := filepath.Join(f.Dir(), "whole.bin")
	os.WriteFile(r, []byte("whole"), 0o644)
	w.handle(fsnotify.Event{Name: r, Op: fsnotify.Create})
	if w.Busy("whole.bin") {
		t.Fatal("a file renamed in whole is busy")
	}
	// Attribute changes are not content changes.
	w.handle(fsnotify.Event{Name: p, Op: fsnotify.Chmod})
	if w.Busy("growing.bin") {
		t.Fatal("chmod made a file busy")
	}
}

// ready decodes the events that are ready for s, without waiting.
func ready(t *testing.T, s *Sub) []Event {
	t.Helper()
	var out []Event
	for {
		select {
		case <-s.Ready():
		default:
			return out
		}
		frames, err := s.Read(1 << 20)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		for _, f := range frames {
			var ev Event
			if err := json.Unmarshal(f, &ev); err != nil {
				t.Fatalf("frame %q: %v", f, err)
			}
			out = append(out, ev)
		}
	}
}

// next is the one event ready for s.
func next(t *testing.T, s *Sub) Event {
	t.Helper()
	evs := ready(t, s)
	if len(evs) != 1 {
		t.Fatalf("%d events ready, want 1: %+v", len(evs), evs)
	}
	return evs[0]
}

func create(w *Watcher, f *folder.Folder, n string) {
	os.WriteFile(filepath.Join(f.Dir(), n), []byte(n), 0o644)
	w.handle(fsnotify.Event{Name: filepath.Join(f.Dir(), n), Op: fsnotify.Create})
	w.settle(time.Now().Add(2 * time.Hour))
}

// A subscriber that falls further behind than the history is dropped,
// without holding up the others, and resumes from its last event or is
// told to reset. Every subscriber is sent the same encoded bytes, kept
// once in the history.
func TestSlowSubscriberAndHistory(t *testing.T) {
	w, f := open(t, time.Hour)
	slow, _ := w.Subscribe("")
	behind, _ := w.Subscribe("")
	fast, _ := w.Subscribe("")
	defer fast.Close()
	defer behind.Close()
	var ids []string
	var shared []byte
	for i, n := range []string{"a", "b", "c", "d", "e", "f"} {
		create(w, f, n)
		frames, err := fast.Read(1 << 20)
		if err != nil || len(frames) != 1 {
			t.Fatalf("fast read %d frames, %v", len(frames), err)
		}
		var ev Event
		json.Unmarshal(frames[0], &ev)
		if ev.Path != n {
			t.Fatalf("fast got %+v, want %s", ev, n)
		}
		ids = append(ids, ev.ID)
		if i == 2 {
			shared = frames[0]
			// behind has read nothing so far: 3 events, within the 4
			// kept, all there, the very bytes fast was given.
			got, err := behind.Read(1 << 20)
			if err != nil || len(got) != 3 {
				t.Fatalf("behind read %d frames, %v", len(got), err)
			}
			if &got[2][0] != &shared[0] {
				t.Error("two subscribers were given copies of one event")
			}
		}
	}
	// slow read nothing of 6 events, more than the 4 kept.
	if _, err := slow.Read(1 << 20); err != ErrSlow {
		t.Fatalf("slow subscriber: %v, want ErrSlow", err)
	}
	select {
	case <-slow.Done():
	default:
		t.Fatal("the slow subscription did not end")
	}
	if slow.Err() != ErrSlow {
		t.Fatalf("Err %v", slow.Err())
	}
	if got := ready(t, behind); len(got) != 3 || got[0].Path != "d" || got[2].Path != "f" {
		t.Fatalf("behind then got %+v", got)
	}
	// A read is bounded in bytes, but always makes progress.
	r1, _ := w.Subscribe(ids[1])
	defer r1.Close()
	frames, err := r1.Read(1)
	if err != nil || len(frames) != 1 {
		t.Fatalf("a read of at most 1 byte gave %d frames, %v", len(frames), err)
	}
	if got := ready(t, r1); len(got) != 3 {
		t.Fatalf("the rest: %+v", got)
	}
	// History keeps the last 4: resuming after "b" replays c..f.
	r, _ := w.Subscribe(ids[1])
	defer r.Close()
	got := ready(t, r)
	if len(got) != 4 {
		t.Fatalf("replay %+v", got)
	}
	for i, want := range []string{"c", "d", "e", "f"} {
		if got[i].Path != want || got[i].ID != ids[i+2] {
			t.Fatalf("replay %+v, want %s", got[i], want)
		}
	}
	// Resuming after "a", which is no longer kept, resets.
	old, _ := w.Subscribe(ids[0])
	defer old.Close()
	if ev := next(t, old); ev.Type != Reset || ev.ID != ids[5] {
		t.Fatalf("got %+v, want reset at %s", ev, ids[5])
	}
	// So does an id from before a restart, or no id at all.
	for _, id := range []string{"other-3", "garbage", ids[5] + "0"} {
		s, _ := w.Subscribe(id)
		if ev := next(t, s); ev.Type != Reset {
			t.Fatalf("%q: got %+v, want reset", id, ev)
		}
		s.Close()
	}
	// Resuming at the latest sends nothing old, and then what is new.
	cur, _ := w.Subscribe(ids[5])
	if got := ready(t, cur); len(got) != 0 {
		t.Fatalf("got %+v", got)
	}
	create(w, f, "g")
	if ev := next(t, cur); ev.Path != "g" {
		t.Fatalf("got %+v", ev)
	}
	cur.Close()
	select {
	case <-cur.Done():
	default:
		t.Fatal("closed subscription still open")
	}
}

// A folder created with its subfolders at once has a creation event for
// each level. The first one watches and walks all the levels; the later
// ones find their folder watched and do not walk it again, which would
// make the work grow with the square of the depth. A file that appears
// in a watched folder comes with an event of its own.
func TestNestedFoldersWalkedOnce(t *testing.T) {
	w, f := open(t, time.Hour)
	levels := []string{"d", "d/d", "d/d/d", "d/d/d/d"}
	if err := os.MkdirAll(filepath.Join(f.Dir(), filepath.FromSlash(levels[len(levels)-1])), 0o755); err != nil {
		t.Fatal(err)
	}
	w.handle(fsnotify.Event{Name: filepath.Join(f.Dir(), "d"), Op: fsnotify.Create})
	for _, p := range levels {
		if w.node(p, false) == nil || w.node(p, false).fi == nil {
			t.Fatalf("%s is not watched", p)
		}
		if _, ok := w.pending[p]; !ok {
			t.Fatalf("%s is not pending", p)
		}
	}
	os.WriteFile(filepath.Join(f.Dir(), "d", "d", "late.txt"), nil, 0o644)
	for _, p := range levels[1:] {
		w.handle(fsnotify.Event{Name: filepath.Join(f.Dir(), filepath.FromSlash(p)), Op: fsnotify.Create})
	}
	if _, ok := w.pending["d/d/late.txt"]; ok {
		t.Error("a watched folder was walked again")
	}

	// A folder that another replaces, moved over it, is a new folder:
	// it gets a new watch and is walked, even without an event for the
	// old one's removal.
	os.Mkdir(filepath.Join(f.Dir(), "d", "r"), 0o755)
	w.handle(fsnotify.Event{Name: filepath.Join(f.Dir(), "d", "r"), Op: fsnotify.Create})
	n := w.node("d/r", false)
	if n == nil || n.fi == nil {
		t.Fatal("d/r is not watched")
	}
	old := n.fi
	os.MkdirAll(filepath.Join(f.Dir(), "d", "s", "e"), 0o755)
	// os.Rename refuses to replace a folder; the system call does not.
	if err := syscall.Rename(filepath.Join(f.Dir(), "d", "s"), filepath.Join(f.Dir(), "d", "r")); err != nil {
		t.Fatal(err)
	}
	w.handle(fsnotify.Event{Name: filepath.Join(f.Dir(), "d", "r"), Op: fsnotify.Create})
	if n := w.node("d/r", false); n == nil || n.fi == nil || os.SameFile(n.fi, old) {
		t.Fatal("the new d/r is not watched")
	}
	if w.node("d/r/e", false) == nil {
		t.Error("d/r/e, in the new d/r, is not watched")
	}
	// Removing a folder drops its watches and those of its subfolders.
	w.handle(fsnotify.Event{Name: filepath.Join(f.Dir(), "d"), Op: fsnotify.Remove})
	if w.node("d", false) != nil {
		t.Error("a removed folder is still taken as watched")
	}
}

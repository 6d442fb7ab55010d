package watch

import (
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
	w, err := newWatcher(Config{Folder: f, Settle: settle, History: 4, Buffer: 2})
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
	ev := <-sub.C()
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

// A subscriber that does not read is dropped, without holding up the
// others, and resumes from its last event or is told to reset.
func TestSlowSubscriberAndHistory(t *testing.T) {
	w, f := open(t, time.Hour)
	slow, _ := w.Subscribe("")
	fast, _ := w.Subscribe("")
	defer fast.Close()
	var ids []string
	for _, n := range []string{"a", "b", "c", "d", "e", "f"} {
		os.WriteFile(filepath.Join(f.Dir(), n), []byte(n), 0o644)
		w.handle(fsnotify.Event{Name: filepath.Join(f.Dir(), n), Op: fsnotify.Create})
		w.settle(time.Now().Add(2 * time.Hour))
		ev := <-fast.C()
		if ev.Path != n {
			t.Fatalf("fast got %+v, want %s", ev, n)
		}
		ids = append(ids, ev.ID)
	}
	n := 0
	for range slow.C() {
		n++
	}
	if n != 2 || slow.Err() != ErrSlow {
		t.Fatalf("slow subscriber got %d events and %v", n, slow.Err())
	}
	// History keeps the last 4: resuming after "b" replays c..f.
	r, _ := w.Subscribe(ids[1])
	defer r.Close()
	for _, want := range []string{"c", "d", "e", "f"} {
		if ev := <-r.C(); ev.Path != want {
			t.Fatalf("replay %+v, want %s", ev, want)
		}
	}
	// Resuming after "a", which is no longer kept, resets.
	old, _ := w.Subscribe(ids[0])
	defer old.Close()
	if ev := <-old.C(); ev.Type != Reset {
		t.Fatalf("got %+v, want reset", ev)
	}
	// Resuming at the latest sends nothing old.
	cur, _ := w.Subscribe(ids[5])
	select {
	case ev := <-cur.C():
		t.Fatalf("got %+v", ev)
	default:
	}
	cur.Close()
	if _, ok := <-cur.C(); ok {
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

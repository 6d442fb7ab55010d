package folder

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func openTest(t *testing.T, base string) *Folder {
	t.Helper()
	f, err := Open(filepath.Join(base, "files"), filepath.Join(base, "state"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// stageFile writes data to a new staging file with modification time
// mtime, synced, and returns its name and what it looks like.
func stageFile(t *testing.T, f *Folder, data string, mtime time.Time) (string, os.FileInfo) {
	t.Helper()
	tmp, err := f.CreateTemp("test-")
	if err != nil {
		t.Fatal(err)
	}
	tmp.WriteString(data)
	tmp.Sync()
	tmp.Close()
	if err := f.staging.Chtimes(tmp.Name, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	fi, err := f.staging.Stat(tmp.Name)
	if err != nil {
		t.Fatal(err)
	}
	return tmp.Name, fi
}

func uploaderOf(t *testing.T, f *Folder, p string) (string, string) {
	t.Helper()
	e, err := f.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return e.Uploader, e.SHA256
}

// While an upload is renamed over a file, the file being replaced keeps
// its record until the rename, and the upload has its own from the
// moment it appears, even when both have the same size and modification
// time. A crash at any point leaves the file that is there with its own
// record.
func TestRecordsAcrossReplace(t *testing.T) {
	base := t.TempDir()
	f := openTest(t, base)
	mtime := time.Now().Truncate(time.Second)
	name, _ := stageFile(t, f, "first", mtime)
	if _, _, err := f.Place(name, "doc.txt", "alice", "sum1", false); err != nil {
		t.Fatal(err)
	}
	// The steps of an overwrite, one at a time: same size, same mtime.
	name, fi := stageFile(t, f, "secnd", mtime)
	if err := f.meta.stage("doc.txt", recFor(fi, "alice", "sum2"), nil); err != nil {
		t.Fatal(err)
	}
	if u, sum := uploaderOf(t, f, "doc.txt"); u != "alice" || sum != "sum1" {
		t.Fatalf("before the rename: %q %q, want the old file's record", u, sum)
	}
	// A crash here: the old file keeps its record.
	f.Close()
	f = openTest(t, base)
	if u, sum := uploaderOf(t, f, "doc.txt"); u != "alice" || sum != "sum1" {
		t.Fatalf("after a crash before the rename: %q %q", u, sum)
	}
	if err := f.meta.stage("doc.txt", recFor(fi, "alice", "sum2"), nil); err != nil {
		t.Fatal(err)
	}
	if err := f.shared.rename(name, ".", "doc.txt", true); err != nil {
		t.Fatal(err)
	}
	if u, sum := uploaderOf(t, f, "doc.txt"); u != "alice" || sum != "sum2" {
		t.Fatalf("after the rename: %q %q, want the upload's record", u, sum)
	}
	// A crash here: the upload keeps its record.
	f.Close()
	f = openTest(t, base)
	if u, sum := uploaderOf(t, f, "doc.txt"); u != "alice" || sum != "sum2" {
		t.Fatalf("after a crash after the rename: %q %q", u, sum)
	}
	if len(f.meta.pending) != 0 || len(f.meta.files) != 1 {
		t.Errorf("records after restart: %d staged, %d files", len(f.meta.pending), len(f.meta.files))
	}
	// The whole operation, and a delete.
	name, _ = stageFile(t, f, "third", mtime)
	if _, replaced, err := f.Place(name, "doc.txt", "alice", "sum3", true); err != nil || !replaced {
		t.Fatalf("Place: %v %v", replaced, err)
	}
	if u, sum := uploaderOf(t, f, "doc.txt"); u != "alice" || sum != "sum3" {
		t.Fatalf("after Place: %q %q", u, sum)
	}
	if _, err := f.Remove("doc.txt", "Alice"); err != nil {
		t.Fatal(err)
	}
	if len(f.meta.pending) != 0 || len(f.meta.files) != 0 {
		t.Errorf("records after delete: %d staged, %d files", len(f.meta.pending), len(f.meta.files))
	}
	f.Close()
}

// Records survive the folders being copied elsewhere, where every file
// has a new inode but keeps its size and modification time.
func TestRecordsSurviveCopy(t *testing.T) {
	base := t.TempDir()
	f := openTest(t, base)
	mtime := time.Now().Truncate(time.Second)
	name, _ := stageFile(t, f, "data", mtime)
	if _, _, err := f.Place(name, "a/doc.txt", "alice", "sum", false); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// Give the file a new inode, as a copy would. The copy is made
	// while the original exists, so that its inode is not reused.
	p := filepath.Join(base, "files", "a", "doc.txt")
	replace := func() {
		t.Helper()
		b, _ := os.ReadFile(p)
		if err := os.WriteFile(p+".new", b, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p+".new", mtime, mtime)
		if err := os.Rename(p+".new", p); err != nil {
			t.Fatal(err)
		}
	}
	replace()
	f = openTest(t, base)
	defer f.Close()
	if u, sum := uploaderOf(t, f, "a/doc.txt"); u != "alice" || sum != "sum" {
		t.Fatalf("after a copy: %q %q", u, sum)
	}
	// Replacing the file now, by hand, drops the record.
	replace()
	if u, _ := uploaderOf(t, f, "a/doc.txt"); u != "" {
		t.Fatalf("a file replaced by hand has uploader %q", u)
	}
}

// A file looked at just before an upload replaced it finds the upload's
// record, not its own; it is looked at again, and described as the
// upload with its record, never as a file without an uploader.
func TestLookDuringReplace(t *testing.T) {
	f := openTest(t, t.TempDir())
	defer f.Close()
	name, _ := stageFile(t, f, "old", time.Now())
	if _, _, err := f.Place(name, "doc.txt", "alice", "old-sum", false); err != nil {
		t.Fatal(err)
	}
	before, err := f.root.Lstat("doc.txt")
	if err != nil {
		t.Fatal(err)
	}
	name, _ = stageFile(t, f, "newer", time.Now())
	if _, _, err := f.Place(name, "doc.txt", "alice", "new-sum", true); err != nil {
		t.Fatal(err)
	}
	looks := 0
	stat := func(p string) (os.FileInfo, error) {
		looks++
		if looks == 1 {
			return before, nil // what a look just before the rename saw
		}
		return f.root.Lstat(p)
	}
	fi, e, err := f.shared.look("doc.txt", stat)
	if err != nil {
		t.Fatal(err)
	}
	if e.Uploader != "alice" || e.SHA256 != "new-sum" || fi.Size() != 5 || looks != 2 {
		t.Errorf("look during a replace: %+v after %d looks", e, looks)
	}
	// A file changed by hand has a record that does not match, and is
	// looked at twice to be sure.
	os.WriteFile(filepath.Join(f.Dir(), "doc.txt"), []byte("by hand"), 0o644)
	looks = 0
	if _, e, err = f.shared.look("doc.txt", counted(&looks, f.root.Lstat)); err != nil || e.Uploader != "" || looks != 2 {
		t.Errorf("look at a file changed by hand: %+v, %v after %d looks", e, err, looks)
	}
}

func counted(n *int, stat func(string) (os.FileInfo, error)) func(string) (os.FileInfo, error) {
	return func(p string) (os.FileInfo, error) {
		*n++
		return stat(p)
	}
}

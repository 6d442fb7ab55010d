package server_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-chat/parley/fileserver/folder"
)

// untilMarker returns every event up to the point where all changes
// made before it was called have been announced, so that an event
// missing from what it returns was never sent. It writes a file at the
// top of the folder and waits for its event, then writes a second one
// and waits for that: changes made before the first are due before it,
// but are announced after it if they are deeper in the folder and came
// due at the same moment; they are announced before the second.
func (ts *tserver) untilMarker(s *sse, name string) []sseEvent {
	ts.t.Helper()
	var got []sseEvent
	for _, m := range []string{name + "-1", name + "-2"} {
		ts.writeFile(m, []byte("marker"))
		for {
			ev := s.next()
			got = append(got, ev)
			if ev.Type == "created" && ev.Data.Path == m {
				break
			}
		}
	}
	return got
}

func announced(evs []sseEvent, typ, p string) bool {
	for _, ev := range evs {
		if ev.Type == typ && ev.Data.Path == p {
			return true
		}
	}
	return false
}

// Folders as deep and paths as long as the limits allow are created,
// served and watched like any other: a file copied by hand into the
// deepest folder is announced. One level or one byte more is refused on
// every route.
func TestDeepestFoldersAreWatched(t *testing.T) {
	ts := start(t, nil)
	s := ts.events("bob", "")
	long := strings.Repeat("l", folder.MaxNameBytes) + "/"
	for _, c := range []struct{ what, dir string }{
		{"deepest", strings.Repeat("d/", folder.MaxDepth-2) + "d"},
		{"longest", strings.Repeat(long, 3) + strings.Repeat("m", folder.MaxPathBytes-3*len(long)-len("/x"))},
	} {
		p := c.dir + "/x"
		if strings.Count(p, "/")+1 > folder.MaxDepth || len(p) > folder.MaxPathBytes {
			t.Fatalf("%s: %d components, %d bytes", c.what, strings.Count(p, "/")+1, len(p))
		}
		resp, b := ts.do("alice", "PUT", "/files/"+p, strings.NewReader(c.what))
		want(t, resp, b, 201, "")
		s.waitFor("created", p)
		resp, b = ts.do("alice", "GET", "/files/"+p, nil)
		want(t, resp, b, 200, "")
		if string(b) != c.what {
			t.Errorf("%s: GET gave %q", c.what, b)
		}
		if got := names(ts.list("alice", c.dir)); got != "x" {
			t.Errorf("%s: listing %q", c.what, got)
		}

		root, err := os.OpenRoot(ts.dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := root.WriteFile(c.dir+"/h", []byte("by hand"), 0o644); err != nil {
			t.Fatal(err)
		}
		root.Close()
		if evs := ts.untilMarker(s, c.what+"-marker"); !announced(evs, "created", c.dir+"/h") {
			t.Errorf("%s: a file copied by hand into the deepest folder was not announced", c.what)
		}

		// One more level, or one more byte.
		beyond := c.dir + "/x/y"
		if c.what == "longest" {
			beyond = c.dir + "/xy"
		}
		for _, req := range []struct{ method, path string }{
			{"PUT", "/files/" + beyond},
			{"GET", "/files/" + beyond},
			{"DELETE", "/files/" + beyond},
			{"GET", "/api/files?path=" + beyond},
		} {
			resp, b = ts.do("alice", req.method, req.path, strings.NewReader("x"))
			want(t, resp, b, 400, "bad_path")
		}
		resp, b = ts.do("alice", "POST", "/uploads/", nil, "Tus-Resumable", "1.0.0", "Upload-Length", "1",
			"Upload-Metadata", "path "+b64(beyond))
		want(t, resp, b, 400, "bad_path")
	}
	assertStagingEmpty(t, ts)
}

// A folder renamed by hand stays watched under its new name, and so do
// the folders in it.
func TestRenamedFolderStaysWatched(t *testing.T) {
	ts := start(t, nil)
	s := ts.events("bob", "")
	ts.writeFile("a/x/one.txt", []byte("1"))
	s.waitFor("created", "a/x/one.txt")
	if err := os.Rename(filepath.Join(ts.dir, "a"), filepath.Join(ts.dir, "b")); err != nil {
		t.Fatal(err)
	}
	evs := ts.untilMarker(s, "marker1")
	if !announced(evs, "removed", "a") || !announced(evs, "created", "b") {
		t.Errorf("events after the rename: %+v", evs)
	}
	ts.writeFile("b/x/two.txt", []byte("2"))
	ts.writeFile("b/three.txt", []byte("3"))
	evs = ts.untilMarker(s, "marker2")
	for _, p := range []string{"b/x/two.txt", "b/three.txt"} {
		if !announced(evs, "created", p) {
			t.Errorf("%s, written after the rename, was not announced", p)
		}
	}
	// Moved back, and a new folder under the old name.
	if err := os.Rename(filepath.Join(ts.dir, "b"), filepath.Join(ts.dir, "a")); err != nil {
		t.Fatal(err)
	}
	ts.writeFile("b/x/new.txt", []byte("new"))
	ts.untilMarker(s, "marker3")
	ts.writeFile("a/x/four.txt", []byte("4"))
	ts.writeFile("b/x/five.txt", []byte("5"))
	evs = ts.untilMarker(s, "marker4")
	for _, p := range []string{"a/x/four.txt", "b/x/five.txt"} {
		if !announced(evs, "created", p) {
			t.Errorf("%s was not announced", p)
		}
	}
}

// Files copied in by hand under names that uploads may not use: a name
// in another normalization form is listed, announced and served, but
// nothing is written under it through the server; a name with a format
// character, like one with a control character, is left out; a folder
// deeper than the limit is watched and listed down to the limit.
func TestHandCopiedNamesBeyondTheRules(t *testing.T) {
	ts := start(t, nil)
	s := ts.events("bob", "")
	nfd := "cafe\u0301.txt"
	rlo := "invoice\u202Efdp.exe"
	deep := strings.Repeat("d/", folder.MaxDepth) + "deep.txt"
	ts.writeFile(nfd, []byte("decomposed"))
	ts.writeFile(rlo, []byte("hidden"))
	ts.writeFile(deep, []byte("too deep"))
	evs := ts.untilMarker(s, "zz-marker")
	if !announced(evs, "created", nfd) {
		t.Errorf("%q was not announced", nfd)
	}
	limit := strings.Repeat("d/", folder.MaxDepth-1) + "d"
	if !announced(evs, "created", limit) {
		t.Errorf("the deepest folder within the limit was not announced")
	}
	for _, ev := range evs {
		if strings.ContainsRune(ev.Data.Path, '\u202E') || len(strings.Split(ev.Data.Path, "/")) > folder.MaxDepth {
			t.Errorf("announced %+q", ev.Data.Path)
		}
	}
	if got := names(ts.list("alice", "")); got != "d,"+nfd+",zz-marker-1,zz-marker-2" {
		t.Errorf("listing %+q", got)
	}
	if got := names(ts.list("alice", limit)); got != "" {
		t.Errorf("listing of the deepest folder %+q", got)
	}

	resp, b := ts.do("alice", "GET", "/files/"+nfd, nil)
	want(t, resp, b, 200, "")
	if string(b) != "decomposed" {
		t.Errorf("GET %q: %q", nfd, b)
	}
	// No upload may use its name, also with overwrite.
	for _, q := range []string{"", "?overwrite=1"} {
		resp, b = ts.do("alice", "PUT", "/files/"+nfd+q, strings.NewReader("x"))
		want(t, resp, b, 400, "bad_path")
	}
	resp, b = ts.do("alice", "POST", "/uploads/", nil, "Tus-Resumable", "1.0.0", "Upload-Length", "1",
		"Upload-Metadata", "path "+b64("new/"+nfd))
	want(t, resp, b, 400, "bad_path")
	// The NFC name is a different file, which does not exist.
	resp, b = ts.do("alice", "GET", "/files/café.txt", nil)
	want(t, resp, b, 404, "not_found")

	for _, p := range []string{rlo, deep} {
		for _, method := range []string{"GET", "DELETE"} {
			resp, b = ts.do("alice", method, "/files/"+p, nil)
			want(t, resp, b, 400, "bad_path")
		}
	}
	for _, p := range []string{rlo, nfd, deep} {
		if b, err := os.ReadFile(filepath.Join(ts.dir, filepath.FromSlash(p))); err != nil {
			t.Errorf("%q: %v", p, err)
		} else if len(b) == 1 {
			t.Errorf("%q was overwritten", p)
		}
	}
	// Nobody uploaded it, so anyone signed in may delete it.
	resp, b = ts.do("alice", "DELETE", "/files/"+nfd, nil)
	want(t, resp, b, 204, "")
	assertStagingEmpty(t, ts)
}

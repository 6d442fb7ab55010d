package server_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-chat/parley/fileserver/server"
)

// Folders that uploads create are recorded as their uploader's, count
// against the limits on folders per person and on their depth, and can
// be deleted, once empty, by their creator.
func TestUploadFolders(t *testing.T) {
	ts := start(t, func(c *server.Config) { c.MaxFolders, c.MaxFolderDepth = 5, 3 })
	resp, b := ts.do("alice", "PUT", "/files/a/b/c/f.txt", strings.NewReader("f"))
	want(t, resp, b, 201, "")
	if es := ts.list("bob", ""); len(es) != 1 || !es[0].Dir || es[0].Uploader != "alice" {
		t.Errorf("listing %+v", es)
	}
	resp, b = ts.do("alice", "PUT", "/files/a/b/c/d/f.txt", strings.NewReader("f"))
	want(t, resp, b, 400, "too_deep")
	if !strings.Contains(string(b), `\"a/b/c/d\", 4 levels deep`) {
		t.Errorf("too_deep message %s", b)
	}
	// Into a folder that exists, however deep, is fine.
	ts.drop("h/1/2/3/4/by-hand.txt", []byte("x"))
	resp, b = ts.do("alice", "PUT", "/files/h/1/2/3/4/f.txt", strings.NewReader("f"))
	want(t, resp, b, 201, "")

	resp, b = ts.do("alice", "PUT", "/files/x/y/f.txt", strings.NewReader("f"))
	want(t, resp, b, 201, "")
	// Five made: no more, in any space, also resumable.
	for _, p := range []string{"/files/z/f.txt", "/files/z/f.txt?with=bob"} {
		resp, b = ts.do("Alice", "PUT", p, strings.NewReader("f"))
		want(t, resp, b, 403, "folder_limit")
		if !strings.Contains(string(b), "you have created 5 of the 5 folders") {
			t.Errorf("folder_limit message %s", b)
		}
	}
	resp, b = ts.do("alice", "POST", "/uploads/", nil, "Tus-Resumable", "1.0.0", "Upload-Length", "1",
		"Upload-Metadata", "path "+b64("z/f.txt"))
	want(t, resp, b, 403, "folder_limit")
	resp, b = ts.do("alice", "PUT", "/files/f.txt", strings.NewReader("no folder needed"))
	want(t, resp, b, 201, "")
	// The limit is each person's.
	resp, b = ts.do("bob", "PUT", "/files/z/f.txt", strings.NewReader("f"))
	want(t, resp, b, 201, "")

	// Deleting a folder: by its creator, once empty.
	resp, b = ts.do("bob", "DELETE", "/files/x/y", nil)
	want(t, resp, b, 403, "forbidden")
	resp, b = ts.do("alice", "DELETE", "/files/x/y", nil)
	want(t, resp, b, 409, "not_empty")
	resp, b = ts.do("alice", "DELETE", "/files/x/y/f.txt", nil)
	want(t, resp, b, 204, "")
	resp, b = ts.do("ALICE", "DELETE", "/files/x/y", nil)
	want(t, resp, b, 204, "")
	if _, err := os.Stat(filepath.Join(ts.dir, "x", "y")); !os.IsNotExist(err) {
		t.Errorf("x/y is still there: %v", err)
	}
	// Which gives alice room for one more.
	resp, b = ts.do("alice", "PUT", "/files/x/w/f.txt", strings.NewReader("f"))
	want(t, resp, b, 201, "")

	// A folder made by hand has no creator: anyone may delete it, once
	// it is empty.
	s := ts.events("watcher", "")
	os.Mkdir(filepath.Join(ts.dir, "empty-by-hand"), 0o755)
	s.waitFor("created", "empty-by-hand")
	resp, b = ts.do("carol", "DELETE", "/files/h/1/2/3/4", nil)
	want(t, resp, b, 409, "not_empty")
	resp, b = ts.do("carol", "DELETE", "/files/empty-by-hand", nil)
	want(t, resp, b, 204, "")
	s.waitFor("removed", "empty-by-hand")

	// The creators survive a restart.
	dir, state := ts.dir, ts.state
	ts.stop()
	ts = startAt(t, dir, state)
	resp, b = ts.do("alice", "DELETE", "/files/z", nil)
	want(t, resp, b, 403, "forbidden")
	resp, b = ts.do("bob", "DELETE", "/files/z/f.txt", nil)
	want(t, resp, b, 204, "")
	resp, b = ts.do("bob", "DELETE", "/files/z", nil)
	want(t, resp, b, 204, "")
}

// In a private space, either of the two may delete an empty folder.
func TestPrivateFolders(t *testing.T) {
	ts := start(t, nil)
	resp, b := ts.do("alice", "PUT", "/files/docs/f.txt?with=bob", strings.NewReader("f"))
	want(t, resp, b, 201, "")
	if es := ts.listWith("bob", "alice", ""); len(es) != 1 || es[0].Uploader != "alice" {
		t.Errorf("listing %+v", es)
	}
	resp, b = ts.do("carol", "DELETE", "/files/docs?with=alice", nil)
	want(t, resp, b, 404, "not_found")
	resp, b = ts.do("bob", "DELETE", "/files/docs?with=alice", nil)
	want(t, resp, b, 409, "not_empty")
	resp, b = ts.do("bob", "DELETE", "/files/docs/f.txt?with=alice", nil)
	want(t, resp, b, 204, "")
	resp, b = ts.do("bob", "DELETE", "/files/docs?with=alice", nil)
	want(t, resp, b, 204, "")
	if es := ts.listWith("alice", "bob", ""); len(es) != 0 {
		t.Errorf("listing %+v", es)
	}
}

// Each folder counts FolderCost (4 KiB) against the quota.
func TestFoldersCountAgainstQuota(t *testing.T) {
	ts := start(t, func(c *server.Config) { c.Quota = 10_000 })
	resp, b := ts.do("alice", "PUT", "/files/f/g/h.txt", bytes.NewReader(payload(1000)))
	want(t, resp, b, 201, "") // 1000 + 2 × 4096 = 9192
	resp, b = ts.do("alice", "PUT", "/files/i.txt", bytes.NewReader(payload(1000)))
	want(t, resp, b, 507, "quota")
	resp, b = ts.do("alice", "PUT", "/files/i.txt", bytes.NewReader(payload(800)))
	want(t, resp, b, 201, "")
	// A new folder needs its cost free too.
	resp, b = ts.do("alice", "DELETE", "/files/i.txt", nil)
	want(t, resp, b, 204, "")
	resp, b = ts.do("alice", "PUT", "/files/k/i.txt", bytes.NewReader(payload(100)))
	want(t, resp, b, 507, "quota")
}

// With the command's defaults, a flood of deep uploads makes a bounded
// number of folders: 40 PUTs 31 folders deep used to make 1,240.
func TestFolderFloodWithDefaults(t *testing.T) {
	ts := start(t, func(c *server.Config) {
		c.MaxFolders, c.MaxFolderDepth = server.DefaultMaxFolders, server.DefaultMaxFolderDepth
	})
	made := 0
	for i := range 40 {
		deep := fmt.Sprintf("/files/flood%d/", i) + strings.Repeat("d/", 30) + "f.txt"
		resp, b := ts.do("mallory", "PUT", deep, strings.NewReader("x"))
		want(t, resp, b, 400, "too_deep")
		p := fmt.Sprintf("/files/f%d/", i) + strings.Repeat("d/", server.DefaultMaxFolderDepth-1) + "f.txt"
		resp, b = ts.do("mallory", "PUT", p, strings.NewReader("x"))
		if resp.StatusCode == 201 {
			made += server.DefaultMaxFolderDepth
			continue
		}
		want(t, resp, b, 403, "folder_limit")
	}
	dirs := 0
	filepath.WalkDir(ts.dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && p != ts.dir {
			dirs++
		}
		return nil
	})
	if dirs != made || dirs > server.DefaultMaxFolders || dirs < server.DefaultMaxFolders-server.DefaultMaxFolderDepth {
		t.Errorf("%d folders on disk, %d made by the accepted uploads; the limit is %d", dirs, made, server.DefaultMaxFolders)
	}
}

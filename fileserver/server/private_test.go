package server_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-chat/parley/fileserver/folder"
	"github.com/parley-chat/parley/fileserver/server"
)

func (ts *tserver) listWith(user, with, sub string) []entry {
	ts.t.Helper()
	q := "?with=" + with
	if sub != "" {
		q += "&path=" + sub
	}
	resp, b := ts.do(user, "GET", "/api/files"+q, nil)
	want(ts.t, resp, b, 200, "")
	var l struct {
		Path    string
		Entries []entry
	}
	if err := json.Unmarshal(b, &l); err != nil {
		ts.t.Fatalf("listing: %v: %s", err, b)
	}
	return l.Entries
}

// A file uploaded with with=NAME lies in the private space of its
// uploader and NAME: only the two of them can list, fetch or delete it,
// it never appears in the shared folder or its event stream, and anyone
// else finds nothing there.
func TestPrivateSpace(t *testing.T) {
	ts := start(t, nil)
	s := ts.events("carol", "")
	data := payload(5000)

	resp, b := ts.do("alice", "PUT", "/files/payslip.pdf?with=bob", bytes.NewReader(data))
	want(t, resp, b, 201, "")
	if loc := resp.Header.Get("Location"); loc != "/files/payslip.pdf?with=bob" {
		t.Errorf("Location %q", loc)
	}
	resp, b = ts.do("alice", "PUT", "/files/docs/contract.txt?with=Bob", strings.NewReader("signed"))
	want(t, resp, b, 201, "")
	// On disk, outside the shared folder, under the pair's opaque id.
	id := folder.PrivateID("alice", "bob")
	if got, err := os.ReadFile(filepath.Join(ts.state, "private", id, "payslip.pdf")); err != nil || !bytes.Equal(got, data) {
		t.Errorf("private file on disk: %v", err)
	}
	if _, err := os.Stat(filepath.Join(ts.dir, "payslip.pdf")); !os.IsNotExist(err) {
		t.Errorf("the private file is in the shared folder: %v", err)
	}

	// Both may list and fetch it, from either side and in any case.
	for _, c := range []struct{ user, with string }{{"alice", "bob"}, {"bob", "alice"}, {"BOB", "Alice"}} {
		es := ts.listWith(c.user, c.with, "")
		if names(es) != "docs,payslip.pdf" || es[1].Uploader != "alice" || es[1].SHA256 != sum(data) || es[1].Size != 5000 {
			t.Errorf("%s with=%s lists %+v", c.user, c.with, es)
		}
		if es := ts.listWith(c.user, c.with, "docs"); names(es) != "contract.txt" || es[0].Path != "docs/contract.txt" {
			t.Errorf("%s with=%s lists docs as %+v", c.user, c.with, es)
		}
		resp, b = ts.do(c.user, "GET", "/files/payslip.pdf?with="+c.with, nil)
		want(t, resp, b, 200, "")
		if !bytes.Equal(b, data) || resp.Header.Get("ETag") != `"`+sum(data)+`"` {
			t.Errorf("%s fetched %d bytes, ETag %s", c.user, len(b), resp.Header.Get("ETag"))
		}
		resp, b = ts.do(c.user, "HEAD", "/files/payslip.pdf?with="+c.with, nil)
		want(t, resp, b, 200, "")
		if resp.ContentLength != 5000 {
			t.Errorf("HEAD Content-Length %d", resp.ContentLength)
		}
		resp, b = ts.do(c.user, "GET", "/files/docs/contract.txt?with="+c.with, nil, "Range", "bytes=1-3")
		want(t, resp, b, 206, "")
		if string(b) != "ign" {
			t.Errorf("range %q", b)
		}
	}

	// Nobody else sees it: not in the shared folder, and not as a third
	// person naming either of the two, who finds only their own space.
	if es := ts.list("carol", ""); len(es) != 0 {
		t.Errorf("the shared folder lists %v", names(es))
	}
	for _, with := range []string{"alice", "bob", "carol"} {
		if es := ts.listWith("carol", with, ""); len(es) != 0 {
			t.Errorf("carol with=%s lists %v", with, names(es))
		}
		for _, m := range []string{"GET", "HEAD", "DELETE"} {
			resp, b = ts.do("carol", m, "/files/payslip.pdf?with="+with, nil)
			want(t, resp, b, 404, "")
		}
		resp, b = ts.do("carol", "GET", "/api/files?with="+with+"&path=docs", nil)
		want(t, resp, b, 404, "not_found")
	}
	resp, b = ts.do("carol", "GET", "/files/payslip.pdf", nil)
	want(t, resp, b, 404, "not_found")
	// carol's own file of that name with alice is another file.
	resp, b = ts.do("carol", "PUT", "/files/payslip.pdf?with=alice", strings.NewReader("carol's"))
	want(t, resp, b, 201, "")
	if resp, b = ts.do("bob", "GET", "/files/payslip.pdf?with=alice", nil); !bytes.Equal(b, data) {
		t.Errorf("bob now gets %q", b)
	}

	// Overwrite only by the uploader; delete by either.
	resp, b = ts.do("bob", "PUT", "/files/payslip.pdf?with=alice&overwrite=1", strings.NewReader("bob's"))
	want(t, resp, b, 403, "forbidden")
	resp, b = ts.do("bob", "PUT", "/files/payslip.pdf?with=alice", strings.NewReader("bob's"))
	want(t, resp, b, 409, "exists")
	resp, b = ts.do("alice", "PUT", "/files/payslip.pdf?with=bob&overwrite=1", strings.NewReader("v2"))
	want(t, resp, b, 200, "")
	resp, b = ts.do("bob", "DELETE", "/files/payslip.pdf?with=alice", nil)
	want(t, resp, b, 204, "")
	if es := ts.listWith("alice", "bob", ""); names(es) != "docs" {
		t.Errorf("after bob's delete alice lists %v", names(es))
	}
	if resp, b = ts.do("alice", "GET", "/files/payslip.pdf?with=carol", nil); string(b) != "carol's" {
		t.Errorf("carol's file with alice: %q", b)
	}

	// Notes to self.
	resp, b = ts.do("alice", "PUT", "/files/note.txt?with=alice", strings.NewReader("remember"))
	want(t, resp, b, 201, "")
	if es := ts.listWith("Alice", "ALICE", ""); names(es) != "note.txt" {
		t.Errorf("notes to self %v", names(es))
	}
	if es := ts.listWith("bob", "alice", ""); names(es) != "docs" {
		t.Errorf("bob sees alice's notes: %v", names(es))
	}

	// Resumable uploads take "with" in their metadata.
	loc := ts.tusCreate("bob", "big.bin", 3000, "with", "alice")
	resp, b = ts.do("carol", "HEAD", loc, nil, "Tus-Resumable", "1.0.0")
	want(t, resp, b, 403, "")
	ts.tusPatch("bob", loc, 0, payload(3000), 204)
	if es := ts.listWith("alice", "bob", ""); names(es) != "docs,big.bin" || es[1].Uploader != "bob" {
		t.Errorf("after the resumable upload: %+v", es)
	}
	if _, err := os.Stat(filepath.Join(ts.dir, "big.bin")); !os.IsNotExist(err) {
		t.Errorf("the resumable private upload is in the shared folder: %v", err)
	}

	// The same path rules; names the chat server would refuse are
	// refused.
	resp, b = ts.do("alice", "PUT", "/files/..%2Fx?with=bob", strings.NewReader("x"))
	want(t, resp, b, 400, "bad_path")
	resp, b = ts.do("alice", "GET", "/api/files?with=bob&path=..", nil)
	want(t, resp, b, 400, "bad_path")
	for _, bad := range []string{"", "%23room", "a%20b", "a%0Ab", "@bob"} {
		resp, b = ts.do("alice", "GET", "/api/files?with="+bad, nil)
		want(t, resp, b, 400, "bad_name")
		resp, b = ts.do("alice", "PUT", "/files/x.txt?with="+bad, strings.NewReader("x"))
		want(t, resp, b, 400, "bad_name")
	}
	resp, b = ts.do("alice", "GET", "/api/files?with=bob&with=carol", nil)
	want(t, resp, b, 400, "bad_name")
	resp, b = ts.do("alice", "POST", "/uploads/", nil, "Tus-Resumable", "1.0.0", "Upload-Length", "1",
		"Upload-Metadata", "path "+b64("x.txt")+",with "+b64("#room"))
	want(t, resp, b, 400, "bad_name")

	// The event stream showed none of it: the first event is the marker.
	ts.writeFile("marker.txt", []byte("m"))
	if ev := s.next(); ev.Data.Path != "marker.txt" {
		t.Errorf("the event stream showed %s %q", ev.Type, ev.Data.Path)
	}
	assertStagingEmpty(t, ts)

	// After a restart, the records are still there.
	dir, state := ts.dir, ts.state
	ts.stop()
	ts = startAt(t, dir, state)
	if es := ts.listWith("bob", "alice", ""); names(es) != "docs,big.bin" || es[1].Uploader != "bob" || es[1].SHA256 != sum(payload(3000)) {
		t.Errorf("after a restart: %+v", es)
	}
}

// The quota and -min-free count private files too, and a private space
// needs a token even when the shared folder's reads do not.
func TestPrivateQuotaAndPublicRead(t *testing.T) {
	ts := start(t, func(c *server.Config) { c.Quota = 10_000; c.PublicRead = true })
	resp, b := ts.do("alice", "PUT", "/files/a.bin?with=bob", bytes.NewReader(payload(6000)))
	want(t, resp, b, 201, "")
	resp, b = ts.do("carol", "PUT", "/files/b.bin", bytes.NewReader(payload(6000)))
	want(t, resp, b, 507, "quota")
	resp, b = ts.do("carol", "PUT", "/files/b.bin?with=dave", bytes.NewReader(payload(6000)))
	want(t, resp, b, 507, "quota")
	resp, b = ts.do("", "GET", "/api/files?with=bob", nil)
	want(t, resp, b, 401, "unauthorized")
	resp, b = ts.do("", "GET", "/files/a.bin?with=bob", nil)
	want(t, resp, b, 401, "unauthorized")
	resp, b = ts.do("bob", "DELETE", "/files/a.bin?with=alice", nil)
	want(t, resp, b, 204, "")
	resp, b = ts.do("carol", "PUT", "/files/b.bin", bytes.NewReader(payload(6000)))
	want(t, resp, b, 201, "")
}

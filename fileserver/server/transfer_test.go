package server_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func (ts *tserver) tusCreate(user, path string, size int, meta ...string) string {
	ts.t.Helper()
	md := "path " + b64(path)
	for i := 0; i+1 < len(meta); i += 2 {
		md += "," + meta[i] + " " + b64(meta[i+1])
	}
	resp, b := ts.do(user, "POST", "/uploads/", nil, "Tus-Resumable", "1.0.0",
		"Upload-Length", strconv.Itoa(size), "Upload-Metadata", md)
	want(ts.t, resp, b, 201, "")
	loc := resp.Header.Get("Location")
	i := strings.Index(loc, "/uploads/")
	if i < 0 {
		ts.t.Fatalf("Location %q", loc)
	}
	return loc[i:]
}

func (ts *tserver) tusOffset(user, loc string) int64 {
	ts.t.Helper()
	resp, b := ts.do(user, "HEAD", loc, nil, "Tus-Resumable", "1.0.0")
	want(ts.t, resp, b, 200, "")
	n, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	if err != nil {
		ts.t.Fatalf("Upload-Offset %q", resp.Header.Get("Upload-Offset"))
	}
	return n
}

func (ts *tserver) tusPatch(user, loc string, off int64, data []byte, status int) {
	ts.t.Helper()
	resp, b := ts.do(user, "PATCH", loc, bytes.NewReader(data), "Tus-Resumable", "1.0.0",
		"Upload-Offset", strconv.FormatInt(off, 10), "Content-Type", "application/offset+octet-stream")
	want(ts.t, resp, b, status, "")
}

func patchHead(t *testing.T, loc string, off int64, n int) string {
	return fmt.Sprintf("PATCH %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nTus-Resumable: 1.0.0\r\n"+
		"Upload-Offset: %d\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: %d\r\n\r\n",
		loc, token(t, "alice"), off, n)
}

// An upload cut off halfway leaves no visible file; resuming from the
// offset the server reports completes it, with the right SHA-256.
func TestResumableCutOffAndResume(t *testing.T) {
	for _, how := range []string{"half-close", "reset"} {
		t.Run(how, func(t *testing.T) {
			ts := start(t, nil)
			events := ts.events("bob", "")
			data := payload(3<<20 + 12345)
			loc := ts.tusCreate("alice", "videos/clip.bin", len(data), "sha256", sum(data))

			c, err := net.Dial("tcp", ts.srv.Addr())
			if err != nil {
				t.Fatal(err)
			}
			half := len(data) / 2
			c.Write([]byte(patchHead(t, loc, 0, len(data))))
			c.Write(data[:half])
			if how == "reset" {
				c.(*net.TCPConn).SetLinger(0) // close with a reset, as a dead network would look
				c.Close()
			} else {
				c.(*net.TCPConn).CloseWrite()
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						break
					}
				}
				c.Close()
			}

			// HEAD takes the upload's lock, so it answers only once the
			// cut-off request has recorded what it received.
			off := ts.tusOffset("alice", loc)
			// A reset may discard what the server had not read yet, so
			// after one the offset may be anything up to what was sent;
			// after a half-close the server has read all of it.
			if off < 0 || off > int64(half) || (how == "half-close" && off != int64(half)) {
				t.Fatalf("offset after the cut: %d of %d sent", off, half)
			}
			if es := ts.list("alice", ""); len(es) != 0 {
				t.Fatalf("a partial upload is listed: %s", names(es))
			}
			if _, err := os.Stat(filepath.Join(ts.dir, "videos", "clip.bin")); err == nil {
				t.Fatal("a partial upload is in the folder")
			}
			// Someone else can neither see its progress nor finish or
			// cancel it.
			resp, b := ts.do("bob", "HEAD", loc, nil, "Tus-Resumable", "1.0.0")
			want(t, resp, b, 403, "")
			resp, b = ts.do("bob", "DELETE", loc, nil, "Tus-Resumable", "1.0.0")
			want(t, resp, b, 403, "forbidden")
			// A PATCH at the wrong offset is refused.
			ts.tusPatch("alice", loc, off+1, data[off+1:], 409)

			// Resume as a client does: from the offset the server reports,
			// asking again if the cut-off request was still being wound up
			// (after a reset, the server may learn of it only later).
			for attempt := 0; ; attempt++ {
				resp, b := ts.do("alice", "PATCH", loc, bytes.NewReader(data[off:]), "Tus-Resumable", "1.0.0",
					"Upload-Offset", strconv.FormatInt(off, 10), "Content-Type", "application/offset+octet-stream")
				if resp.StatusCode == 409 && how == "reset" && attempt < 10 {
					off = ts.tusOffset("alice", loc)
					continue
				}
				want(t, resp, b, 204, "")
				break
			}
			ev := events.waitFor("created", "videos/clip.bin")
			if ev.Data.Entry == nil || ev.Data.Entry.SHA256 != sum(data) || ev.Data.Entry.Uploader != "alice" || ev.Data.Entry.Size != int64(len(data)) {
				t.Errorf("created event %+v", ev.Data.Entry)
			}
			es := ts.list("alice", "videos")
			if len(es) != 1 || es[0].SHA256 != sum(data) || es[0].Size != int64(len(data)) {
				t.Fatalf("listing after resume: %+v", es)
			}
			resp, b = ts.do("bob", "GET", "/files/videos/clip.bin", nil)
			want(t, resp, b, 200, "")
			if sum(b) != sum(data) {
				t.Fatal("downloaded file differs")
			}
			// Finished: the upload resource is gone.
			resp, b = ts.do("alice", "HEAD", loc, nil, "Tus-Resumable", "1.0.0")
			want(t, resp, b, 404, "")
			ts.stop()
			assertStagingEmpty(t, ts)
		})
	}
}

func TestResumableChecksumConflictAndCancel(t *testing.T) {
	ts := start(t, nil)
	data := payload(5000)

	loc := ts.tusCreate("alice", "bad.bin", len(data), "sha256", sum([]byte("something else")))
	resp, b := ts.do("alice", "PATCH", loc, bytes.NewReader(data), "Tus-Resumable", "1.0.0",
		"Upload-Offset", "0", "Content-Type", "application/offset+octet-stream")
	want(t, resp, b, 400, "checksum_mismatch")
	resp, b = ts.do("alice", "HEAD", loc, nil, "Tus-Resumable", "1.0.0")
	want(t, resp, b, 404, "")

	resp, b = ts.do("alice", "PUT", "/files/taken.bin", strings.NewReader("first"))
	want(t, resp, b, 201, "")
	// Refused at creation…
	resp, b = ts.do("alice", "POST", "/uploads/", nil, "Tus-Resumable", "1.0.0", "Upload-Length", "5",
		"Upload-Metadata", "path "+b64("taken.bin"))
	want(t, resp, b, 409, "exists")
	// …and at the end, if the name was taken meanwhile.
	loc = ts.tusCreate("alice", "late.bin", len(data))
	resp, b = ts.do("alice", "PUT", "/files/late.bin", strings.NewReader("quicker"))
	want(t, resp, b, 201, "")
	resp, b = ts.do("alice", "PATCH", loc, bytes.NewReader(data), "Tus-Resumable", "1.0.0",
		"Upload-Offset", "0", "Content-Type", "application/offset+octet-stream")
	want(t, resp, b, 409, "exists")
	// With overwrite it replaces the uploader's own file.
	loc = ts.tusCreate("alice", "late.bin", len(data), "overwrite", "1")
	ts.tusPatch("alice", loc, 0, data, 204)
	resp, b = ts.do("bob", "GET", "/files/late.bin", nil)
	if !bytes.Equal(b, data) {
		t.Error("overwrite by resumable upload did not replace the file")
	}

	// Cancelling removes the partial data.
	loc = ts.tusCreate("alice", "cancel.bin", len(data))
	ts.tusPatch("alice", loc, 0, data[:100], 204)
	resp, b = ts.do("alice", "DELETE", loc, nil, "Tus-Resumable", "1.0.0")
	want(t, resp, b, 204, "")
	resp, b = ts.do("alice", "HEAD", loc, nil, "Tus-Resumable", "1.0.0")
	want(t, resp, b, 404, "")

	// Discovery needs no token.
	resp, b = ts.do("", "OPTIONS", "/uploads/", nil)
	want(t, resp, b, 200, "")
	if ext := resp.Header.Get("Tus-Extension"); !strings.Contains(ext, "creation") || !strings.Contains(ext, "termination") {
		t.Errorf("Tus-Extension %q", ext)
	}
	ts.stop()
	assertStagingEmpty(t, ts)
}

// A resumable upload survives a restart of the server.
func TestResumableAcrossRestart(t *testing.T) {
	ts := start(t, nil)
	data := payload(10000)
	loc := ts.tusCreate("alice", "r.bin", len(data))
	ts.tusPatch("alice", loc, 0, data[:4000], 204)
	dir, state := ts.dir, ts.state
	ts.stop()
	ts = startAt(t, dir, state)
	if off := ts.tusOffset("alice", loc); off != 4000 {
		t.Fatalf("offset after restart: %d", off)
	}
	ts.tusPatch("alice", loc, 4000, data[4000:], 204)
	resp, b := ts.do("bob", "GET", "/files/r.bin", nil)
	want(t, resp, b, 200, "")
	if !bytes.Equal(b, data) {
		t.Fatal("content differs after a resumed restart")
	}
}

// A streamed PUT cut off halfway leaves nothing, in the folder or in
// the staging area.
func TestPutCutOff(t *testing.T) {
	ts := start(t, nil)
	data := payload(1 << 20)
	head := fmt.Sprintf("PUT /files/cut.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n",
		token(t, "alice"), len(data))
	ts.cut(head, data[:len(data)/2])
	if es := ts.list("alice", ""); len(es) != 0 {
		t.Fatalf("listed: %s", names(es))
	}
	ts.stop()
	if _, err := os.Stat(filepath.Join(ts.dir, "cut.bin")); err == nil {
		t.Error("a cut-off upload is in the folder")
	}
	assertStagingEmpty(t, ts)
}

// A file copied in by hand, in a folder created after the server started,
// arrives as events, and so do changes and removals.
func TestEventsForHandCopies(t *testing.T) {
	ts := start(t, nil)
	s := ts.events("bob", "")
	ts.writeFile("hand.txt", []byte("by hand"))
	ev := s.waitFor("created", "hand.txt")
	if ev.Data.Entry == nil || ev.Data.Entry.Size != 7 || ev.Data.Dir {
		t.Errorf("created %+v", ev.Data)
	}
	if ev.ID == "" || ev.Data.ID != ev.ID {
		t.Errorf("event ids %q %q", ev.ID, ev.Data.ID)
	}
	// A new folder, a folder inside it at once, and a file in that.
	ts.writeFile("new/deeper/inner.txt", []byte("inner"))
	s.waitFor("created", "new")
	s.waitFor("created", "new/deeper")
	s.waitFor("created", "new/deeper/inner.txt")
	// Then a file in the new folder, which is watched by now.
	ts.writeFile("new/later.txt", []byte("later"))
	s.waitFor("created", "new/later.txt")
	if got := names(ts.list("bob", "new")); got != "deeper,later.txt" {
		t.Errorf("listing %q", got)
	}
	os.WriteFile(filepath.Join(ts.dir, "hand.txt"), []byte("changed by hand"), 0o644)
	ev = s.waitFor("changed", "hand.txt")
	if ev.Data.Entry == nil || ev.Data.Entry.Size != 15 {
		t.Errorf("changed %+v", ev.Data.Entry)
	}
	os.Remove(filepath.Join(ts.dir, "hand.txt"))
	s.waitFor("removed", "hand.txt")
	os.RemoveAll(filepath.Join(ts.dir, "new"))
	ev = s.waitFor("removed", "new")
	if !ev.Data.Dir {
		t.Error("removed folder not marked dir")
	}
	// A file moved in whole is announced as well.
	src := filepath.Join(t.TempDir(), "moved.txt")
	os.WriteFile(src, []byte("moved"), 0o644)
	if err := os.Rename(src, filepath.Join(ts.dir, "moved.txt")); err == nil {
		s.waitFor("created", "moved.txt")
	}
	// An upload is announced with its uploader.
	resp, b := ts.do("alice", "PUT", "/files/up.txt", strings.NewReader("up"))
	want(t, resp, b, 201, "")
	ev = s.waitFor("created", "up.txt")
	if ev.Data.Entry == nil || ev.Data.Entry.Uploader != "alice" || ev.Data.Entry.SHA256 != sum([]byte("up")) {
		t.Errorf("upload event %+v", ev.Data.Entry)
	}
	resp, b = ts.do("alice", "DELETE", "/files/up.txt", nil)
	want(t, resp, b, 204, "")
	s.waitFor("removed", "up.txt")
}

// A client that reconnects with the last id it saw gets what it missed;
// one whose id is unknown is told to start again.
func TestEventsResume(t *testing.T) {
	ts := start(t, nil)
	s := ts.events("bob", "")
	ts.writeFile("one.txt", []byte("1"))
	first := s.waitFor("created", "one.txt")
	s.close()
	ts.writeFile("two.txt", []byte("2"))
	ts.writeFile("three.txt", []byte("3"))
	// Wait for both to be announced, on another stream.
	s2 := ts.events("carol", first.ID)
	got := map[string]bool{}
	for len(got) < 2 {
		ev := s2.next()
		if ev.Type != "created" {
			t.Fatalf("resumed stream: %+v", ev)
		}
		got[ev.Data.Path] = true
	}
	if !got["two.txt"] || !got["three.txt"] {
		t.Errorf("resumed events %v", got)
	}
	for _, id := range []string{"bogus", "0-1", strings.Split(first.ID, "-")[0] + "-999999"} {
		s3 := ts.events("dave", id)
		if ev := s3.next(); ev.Type != "reset" {
			t.Errorf("last id %q: first event %+v, want reset", id, ev)
		}
		s3.close()
	}
}

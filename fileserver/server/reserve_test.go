package server_test

import (
	"bytes"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/fileserver/server"
)

// clock is a fake clock for the uploads' timing; the server's own
// deadlines keep real time.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// tusPost creates a resumable upload and returns the reply.
func (ts *tserver) tusPost(user, path string, size int) ([]byte, string, int) {
	ts.t.Helper()
	resp, b := ts.do(user, "POST", "/uploads/", nil, "Tus-Resumable", "1.0.0",
		"Upload-Length", strconv.Itoa(size), "Upload-Metadata", "path "+b64(path))
	loc := resp.Header.Get("Location")
	if i := strings.Index(loc, "/uploads/"); i >= 0 {
		loc = loc[i:]
	}
	return b, loc, resp.StatusCode
}

// An upload created with the whole quota and no data shuts nobody out
// for long: its reservation goes when it has sent nothing for the idle
// time. When its data comes at last, it reserves again if there is room,
// and is refused with a clear message if not.
func TestReservationExpiresWhenIdle(t *testing.T) {
	clk := newClock()
	ts := start(t, func(c *server.Config) {
		c.Quota, c.ReserveIdle, c.Now = 100_000, 2*time.Minute, clk.Now
	})
	_, loc, status := ts.tusPost("mallory", "hog.bin", 100_000)
	if status != 201 {
		t.Fatalf("POST: %d", status)
	}
	resp, b := ts.do("alice", "PUT", "/files/a.bin", bytes.NewReader(payload(10_000)))
	want(t, resp, b, 507, "quota")
	clk.Add(time.Minute)
	resp, b = ts.do("alice", "PUT", "/files/a.bin", bytes.NewReader(payload(10_000)))
	want(t, resp, b, 507, "quota")
	clk.Add(time.Minute + time.Second)
	resp, b = ts.do("alice", "PUT", "/files/a.bin", bytes.NewReader(payload(10_000)))
	want(t, resp, b, 201, "")

	// mallory's data comes: what fits is taken, then a clear refusal.
	ts.tusPatch("mallory", loc, 0, payload(50_000), 204)
	resp, b = ts.do("mallory", "PATCH", loc, bytes.NewReader(payload(100_000)[50_000:]), "Tus-Resumable", "1.0.0",
		"Upload-Offset", "50000", "Content-Type", "application/offset+octet-stream")
	want(t, resp, b, 507, "quota")
	if !strings.Contains(string(b), "full") || !strings.Contains(string(b), "stopped after") {
		t.Errorf("507 message %s", b)
	}
	if off := ts.tusOffset("mallory", loc); off < 50_000 || off > 90_000 {
		t.Errorf("offset %d after the refusal", off)
	}
	// Room comes back: the upload resumes and finishes.
	resp, b = ts.do("alice", "DELETE", "/files/a.bin", nil)
	want(t, resp, b, 204, "")
	off := ts.tusOffset("mallory", loc)
	ts.tusPatch("mallory", loc, off, payload(100_000)[off:], 204)
	if es := ts.list("alice", ""); names(es) != "hog.bin" || es[0].SHA256 != sum(payload(100_000)) {
		t.Errorf("listing %+v", es)
	}
}

// One person's uploads are promised at most a share of the quota ahead
// of their data, so one huge empty upload leaves room for others; a
// file larger than the share still goes through, reserving as its data
// arrives.
func TestReservationShare(t *testing.T) {
	ts := start(t, func(c *server.Config) { c.Quota, c.UploadShare = 100_000, 25 })
	_, _, status := ts.tusPost("mallory", "hog.bin", 100_000)
	if status != 201 {
		t.Fatalf("POST: %d", status)
	}
	resp, b := ts.do("alice", "PUT", "/files/a.bin", bytes.NewReader(payload(60_000)))
	want(t, resp, b, 201, "")
	b, _, status = ts.tusPost("mallory", "hog2.bin", 30_000)
	if status != 507 || !strings.Contains(string(b), `"quota"`) {
		t.Errorf("a second upload beyond what is left: %d %s", status, b)
	}
	resp, b = ts.do("alice", "DELETE", "/files/a.bin", nil)
	want(t, resp, b, 204, "")
	// A file of 60% of the quota, more than the share, in one PATCH.
	loc := ts.tusCreate("bob", "big.bin", 60_000)
	ts.tusPatch("bob", loc, 0, payload(60_000), 204)
	resp, b = ts.do("bob", "GET", "/files/big.bin", nil)
	if !bytes.Equal(b, payload(60_000)) {
		t.Errorf("big.bin: %d bytes", len(b))
	}
}

// Two people uploading real files at once both succeed: what each has
// written and is promised is counted once.
func TestReservationTwoUploaders(t *testing.T) {
	ts := start(t, func(c *server.Config) { c.Quota, c.UploadShare = 100_000, 25 })
	a := ts.tusCreate("alice", "a.bin", 45_000)
	b := ts.tusCreate("bob", "b.bin", 45_000)
	for off := 0; off < 45_000; off += 15_000 {
		ts.tusPatch("alice", a, int64(off), payload(45_000)[off:off+15_000], 204)
		ts.tusPatch("bob", b, int64(off), payload(45_000)[off:off+15_000], 204)
	}
	if got := names(ts.list("carol", "")); got != "a.bin,b.bin" {
		t.Errorf("listing %q", got)
	}
	// And the quota holds: 90,000 of 100,000 are used.
	resp, body := ts.do("carol", "PUT", "/files/c.bin", bytes.NewReader(payload(10_001)))
	want(t, resp, body, 507, "quota")
	resp, body = ts.do("carol", "PUT", "/files/c.bin", bytes.NewReader(payload(10_000)))
	want(t, resp, body, 201, "")
}

// One person may have at most MaxUploads uploads in progress; idle ones
// do not count.
func TestReservationPerPerson(t *testing.T) {
	clk := newClock()
	ts := start(t, func(c *server.Config) { c.MaxUploads, c.ReserveIdle, c.Now = 2, time.Minute, clk.Now })
	for _, p := range []string{"1.bin", "2.bin"} {
		if _, _, status := ts.tusPost("mallory", p, 10); status != 201 {
			t.Fatalf("POST %s: %d", p, status)
		}
	}
	b, _, status := ts.tusPost("Mallory", "3.bin", 10)
	if status != 429 || !strings.Contains(string(b), `"too_many_uploads"`) || !strings.Contains(string(b), "2 uploads in progress") {
		t.Errorf("a third upload: %d %s", status, b)
	}
	resp, body := ts.do("mallory", "PUT", "/files/4.bin", strings.NewReader("x"))
	want(t, resp, body, 429, "too_many_uploads")
	// Others are not held up.
	resp, body = ts.do("bob", "PUT", "/files/5.bin", strings.NewReader("x"))
	want(t, resp, body, 201, "")
	clk.Add(time.Minute + time.Second)
	if _, _, status := ts.tusPost("mallory", "3.bin", 10); status != 201 {
		t.Errorf("after the others went idle: %d", status)
	}
}

// A restart promises nothing to the uploads it finds.
func TestReservationsNotResurrected(t *testing.T) {
	ts := start(t, func(c *server.Config) { c.Quota = 100_000 })
	_, loc, status := ts.tusPost("mallory", "hog.bin", 100_000)
	if status != 201 {
		t.Fatalf("POST: %d", status)
	}
	ts.tusPatch("mallory", loc, 0, payload(10_000), 204)
	dir, state := ts.dir, ts.state
	ts.stop()
	ts = start(t, func(c *server.Config) { c.Dir, c.State, c.Quota = dir, state, 100_000 })
	// The 10,000 bytes mallory sent still count; the rest is free.
	resp, b := ts.do("alice", "PUT", "/files/a.bin", bytes.NewReader(payload(90_001)))
	want(t, resp, b, 507, "quota")
	resp, b = ts.do("alice", "PUT", "/files/a.bin", bytes.NewReader(payload(90_000)))
	want(t, resp, b, 201, "")
	if off := ts.tusOffset("mallory", loc); off != 10_000 {
		t.Errorf("offset %d", off)
	}
}

// About 40 empty uploads used to fill the disk's space above -min-free
// for a day. Now one person's uploads are promised a share of it, so
// someone else can still upload real data. The disk is one of 128 MiB
// above -min-free, less what the server's folders hold, so that what
// else the machine writes meanwhile does not matter.
func TestReservationMinFree(t *testing.T) {
	const minFree, room = 1 << 30, 128 << 20
	ts := start(t, func(c *server.Config) {
		dirs := []string{c.Dir, c.State}
		c.MinFree, c.UploadShare = minFree, 25
		c.DiskFree = func(string) (int64, bool) {
			var used int64
			for _, d := range dirs {
				filepath.WalkDir(d, func(_ string, e fs.DirEntry, err error) error {
					if err == nil && e.Type().IsRegular() {
						if fi, err := e.Info(); err == nil {
							used += fi.Size()
						}
					}
					return nil
				})
			}
			return minFree + room - used, true
		}
	})
	accepted := 0
	for range 40 {
		if _, _, status := ts.tusPost("mallory", "hog.bin", room/2); status == 201 {
			accepted++
		}
	}
	if accepted == 0 {
		t.Fatal("no upload was accepted: the test measures nothing")
	}
	// 80 MiB: more than the 64 MiB the first upload alone would have
	// held had it been promised its size.
	resp, b := ts.do("alice", "PUT", "/files/a.bin", bytes.NewReader(payload(80<<20)))
	want(t, resp, b, 201, "")
	// The disk's space above -min-free is still the limit.
	resp, b = ts.do("bob", "PUT", "/files/b.bin", bytes.NewReader(payload(48<<20)))
	want(t, resp, b, 507, "disk_full")
}

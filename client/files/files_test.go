package files_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-chat/parley/client/files"
	"github.com/parley-chat/parley/fileserver/server"
	"github.com/parley-chat/parley/shared/filetoken"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var secret = []byte("client-test-secret")

// staticTokens issues tokens for one user; fresh ones on demand.
type staticTokens struct {
	user string
	mu   sync.Mutex
	bad  int // hand out this many expired tokens first
	n    int
}

func (s *staticTokens) Token(ctx context.Context, fresh bool) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	now := time.Now()
	if s.bad > 0 && !fresh {
		s.bad--
		now = now.Add(-time.Hour)
	}
	tok, _, err := filetoken.Issue(secret, s.user, now, time.Minute)
	return tok, err
}

type env struct {
	t     *testing.T
	srv   *server.Server
	proxy *proxy
	dir   string
}

func startServer(t *testing.T) *env {
	t.Helper()
	base := t.TempDir()
	srv, err := server.Start(context.Background(), server.Config{
		Addr:   "127.0.0.1:0",
		Dir:    filepath.Join(base, "files"),
		State:  filepath.Join(base, "state"),
		Secret: secret,
		Settle: 20 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, dir: base}
	e.proxy = newProxy(t, srv.Addr())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return e
}

// progressLog collects progress reports.
type progressLog struct {
	mu sync.Mutex
	ps []files.Progress
}

func (l *progressLog) add(p files.Progress) {
	l.mu.Lock()
	l.ps = append(l.ps, p)
	l.mu.Unlock()
}

func (l *progressLog) all() []files.Progress {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]files.Progress(nil), l.ps...)
}

func (e *env) client(user string, edit func(*files.Options)) (*files.Client, *progressLog) {
	log := &progressLog{}
	opts := files.Options{
		BaseURL:    func() string { return "http://" + e.proxy.addr() },
		Tokens:     &staticTokens{user: user},
		User:       user,
		Progress:   log.add,
		MaxBackoff: 50 * time.Millisecond,
	}
	if edit != nil {
		edit(&opts)
	}
	c := files.New(opts)
	e.t.Cleanup(c.Close)
	return c, log
}

func randomFile(t *testing.T, n int) (string, []byte) {
	t.Helper()
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*131 + i>>9)
	}
	p := filepath.Join(t.TempDir(), "src.bin")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, b
}

func hexsum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestRoundTrip(t *testing.T) {
	e := startServer(t)
	alice, plog := e.client("alice", nil)
	bob, _ := e.client("bob", nil)
	ctx := context.Background()
	src, data := randomFile(t, 3<<20+7)

	ent, err := alice.Upload(ctx, src, "shared/data.bin", files.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ent.SHA256 != hexsum(data) || ent.Size != int64(len(data)) || ent.Path != "shared/data.bin" {
		t.Errorf("upload result %+v", ent)
	}
	ps := plog.all()
	last := ps[len(ps)-1]
	if last.Op != "upload" || last.State != "done" || last.Done != int64(len(data)) {
		t.Errorf("last progress %+v", last)
	}
	for i := 1; i < len(ps); i++ {
		if ps[i].Op == ps[i-1].Op && ps[i].Done < ps[i-1].Done {
			t.Errorf("progress went back: %+v after %+v", ps[i], ps[i-1])
		}
	}
	// Uploading the same name again is a conflict; -f replaces.
	if _, err := alice.Upload(ctx, src, "shared/data.bin", files.UploadOptions{}); !isCode(err, "exists") {
		t.Errorf("second upload: %v", err)
	}
	if _, err := alice.Upload(ctx, src, "shared/data.bin", files.UploadOptions{Overwrite: true}); err != nil {
		t.Errorf("overwrite: %v", err)
	}

	l, err := bob.List(ctx, "shared")
	if err != nil || len(l.Entries) != 1 || l.Entries[0].Uploader != "alice" || l.Entries[0].SHA256 != hexsum(data) {
		t.Fatalf("listing %+v, %v", l, err)
	}
	dest := t.TempDir()
	d, err := bob.Download(ctx, "shared/data.bin", dest, files.DownloadOptions{SHA256: hexsum(data)})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dest, "data.bin"))
	if !bytes.Equal(got, data) || !d.Verified || d.Path != filepath.Join(dest, "data.bin") {
		t.Fatalf("download %+v", d)
	}
	// Never over an existing file.
	if _, err := bob.Download(ctx, "shared/data.bin", dest, files.DownloadOptions{}); !isCode(err, "exists") {
		t.Errorf("download over a file: %v", err)
	}
	if err := bob.Delete(ctx, "shared/data.bin"); !isCode(err, "forbidden") {
		t.Errorf("bob deleting alice's file: %v", err)
	}
	if err := alice.Delete(ctx, "shared/data.bin"); err != nil {
		t.Errorf("delete: %v", err)
	}
	if _, err := bob.Download(ctx, "shared/data.bin", filepath.Join(dest, "x"), files.DownloadOptions{}); !isCode(err, "not_found") {
		t.Errorf("download of a deleted file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dest, "x.part")); err == nil {
		t.Error("a failed download left an empty partial file")
	}
}

func isCode(err error, code string) bool {
	var fe *files.Error
	return errors.As(err, &fe) && fe.Code == code
}

// The connection drops halfway through an upload; the client asks the
// server how far it got and finishes by itself.
func TestUploadResumesAfterDrop(t *testing.T) {
	e := startServer(t)
	alice, plog := e.client("alice", nil)
	src, data := randomFile(t, 4<<20)
	e.proxy.cut(true, 1<<20)
	ent, err := alice.Upload(context.Background(), src, "big.bin", files.UploadOptions{})
	if err != nil {
		for _, p := range plog.all() {
			t.Logf("%+v", p)
		}
		t.Fatal(err)
	}
	if e.proxy.cutCount() != 1 {
		t.Fatalf("the connection was cut %d times", e.proxy.cutCount())
	}
	retried := false
	var resumedAt int64 = -1
	for _, p := range plog.all() {
		if p.State == "retrying" {
			retried = true
		}
		if retried && p.State == "" && resumedAt < 0 {
			resumedAt = p.Done
		}
	}
	if !retried || resumedAt <= 0 {
		t.Errorf("no retry from an offset in the progress reports (resumed at %d)", resumedAt)
	}
	got, err := os.ReadFile(filepath.Join(e.dir, "files", "big.bin"))
	if err != nil || !bytes.Equal(got, data) || ent.SHA256 != hexsum(data) {
		t.Fatal("the uploaded file differs")
	}
}

// An upload given up on resumes where it stopped when the same file is
// uploaded again, even by a new client.
func TestUploadResumesAcrossRuns(t *testing.T) {
	e := startServer(t)
	state := t.TempDir()
	src, data := randomFile(t, 4<<20)
	first, _ := e.client("alice", func(o *files.Options) { o.StateDir = state; o.Attempts = 1 })
	e.proxy.cut(true, 2<<20)
	if _, err := first.Upload(context.Background(), src, "again.bin", files.UploadOptions{}); !isCode(err, "gave_up") {
		t.Fatalf("first run: %v", err)
	}
	second, plog := e.client("alice", func(o *files.Options) { o.StateDir = state })
	if _, err := second.Upload(context.Background(), src, "again.bin", files.UploadOptions{}); err != nil {
		t.Fatal(err)
	}
	var first0 *files.Progress
	for _, p := range plog.all() {
		if p.Op == "upload" {
			first0 = &p
			break
		}
	}
	if first0 == nil || first0.Done == 0 {
		t.Errorf("the second run started from %+v, not from where the first stopped", first0)
	}
	got, _ := os.ReadFile(filepath.Join(e.dir, "files", "again.bin"))
	if !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
	if des, _ := os.ReadDir(state); len(des) != 0 {
		t.Errorf("a finished upload is still remembered: %d files", len(des))
	}
}

// The connection drops halfway through a download; the client goes on
// with a Range request and checks the result.
func TestDownloadResumesAfterDrop(t *testing.T) {
	e := startServer(t)
	alice, _ := e.client("alice", nil)
	src, data := randomFile(t, 4<<20)
	if _, err := alice.Upload(context.Background(), src, "dl.bin", files.UploadOptions{}); err != nil {
		t.Fatal(err)
	}
	e.proxy.cut(false, 1<<20)
	bob, _ := e.client("bob", nil)
	dest := filepath.Join(t.TempDir(), "out.bin")
	d, err := bob.Download(context.Background(), "dl.bin", dest, files.DownloadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if e.proxy.cutCount() != 1 || !strings.Contains(e.proxy.requests(), "Range: bytes=") {
		t.Errorf("cuts %d; a Range request was sent: %v", e.proxy.cutCount(), strings.Contains(e.proxy.requests(), "Range: bytes="))
	}
	got, _ := os.ReadFile(dest)
	if !bytes.Equal(got, data) || !d.Verified {
		t.Fatalf("download %+v", d)
	}
	if _, err := os.Stat(dest + ".part"); err == nil {
		t.Error("the partial file is left")
	}
}

// A partial download from an earlier run is continued, not restarted;
// a wrong checksum discards the file.
func TestDownloadPartAndChecksum(t *testing.T) {
	e := startServer(t)
	alice, _ := e.client("alice", nil)
	src, data := randomFile(t, 2<<20)
	if _, err := alice.Upload(context.Background(), src, "p.bin", files.UploadOptions{}); err != nil {
		t.Fatal(err)
	}
	bob, _ := e.client("bob", func(o *files.Options) { o.Attempts = 1 })
	dest := filepath.Join(t.TempDir(), "p.bin")
	e.proxy.cut(false, 1<<20)
	if _, err := bob.Download(context.Background(), "p.bin", dest, files.DownloadOptions{}); !isCode(err, "gave_up") {
		t.Fatalf("first run: %v", err)
	}
	fi, err := os.Stat(dest + ".part")
	if err != nil || fi.Size() == 0 {
		t.Fatalf("no partial file kept: %v", err)
	}
	bob2, _ := e.client("bob", nil)
	if _, err := bob2.Download(context.Background(), "p.bin", dest, files.DownloadOptions{SHA256: hexsum(data)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
	if n := strings.Count(e.proxy.requests(), "Range: bytes="+itoa(fi.Size())+"-"); n != 1 {
		t.Errorf("the second run did not ask for the rest from %d", fi.Size())
	}

	bad := filepath.Join(t.TempDir(), "bad.bin")
	_, err = bob2.Download(context.Background(), "p.bin", bad, files.DownloadOptions{SHA256: hexsum([]byte("other"))})
	if !isCode(err, "checksum_mismatch") {
		t.Fatalf("wrong checksum: %v", err)
	}
	for _, p := range []string{bad, bad + ".part", bad + ".part.json"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was kept", filepath.Base(p))
		}
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// A refused token is replaced by a fresh one, once.
func TestFreshTokenOnUnauthorized(t *testing.T) {
	e := startServer(t)
	tokens := &staticTokens{user: "alice", bad: 1}
	c, _ := e.client("alice", func(o *files.Options) { o.Tokens = tokens })
	if _, err := c.List(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	if tokens.n != 2 {
		t.Errorf("%d tokens asked for, want 2", tokens.n)
	}
}

func TestEmptyFile(t *testing.T) {
	e := startServer(t)
	alice, _ := e.client("alice", nil)
	src, _ := randomFile(t, 0)
	if _, err := alice.Upload(context.Background(), src, "empty", files.UploadOptions{}); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "empty")
	d, err := alice.Download(context.Background(), "empty", dest, files.DownloadOptions{SHA256: hexsum(nil)})
	if err != nil || d.Size != 0 || !d.Verified {
		t.Fatalf("download %+v, %v", d, err)
	}
	if fi, err := os.Stat(dest); err != nil || fi.Size() != 0 {
		t.Fatalf("empty file: %v", err)
	}
}

func TestNoFileServer(t *testing.T) {
	c := files.New(files.Options{BaseURL: func() string { return "" }})
	defer c.Close()
	if _, err := c.List(context.Background(), ""); !isCode(err, files.CodeNoServer) {
		t.Errorf("List: %v", err)
	}
	src, _ := randomFile(t, 10)
	if _, err := c.Upload(context.Background(), src, "x", files.UploadOptions{}); !isCode(err, files.CodeNoServer) {
		t.Errorf("Upload: %v", err)
	}
}

// A name spelled decomposed, as macOS spells file names, is uploaded under
// its composed form, which the server requires.
func TestUploadDecomposedName(t *testing.T) {
	e := startServer(t)
	alice, _ := e.client("alice", nil)
	src, _ := randomFile(t, 1000)
	ent, err := alice.Upload(context.Background(), src, "cafe\u0301.txt", files.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ent.Path != "caf\u00e9.txt" {
		t.Errorf("stored as %q, want the composed caf\u00e9.txt", ent.Path)
	}
}

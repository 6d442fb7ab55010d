package files_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/client/command"
	"github.com/parley-chat/parley/client/files"
	"github.com/parley-chat/parley/shared/protocol"
)

// posted records the file messages a transfer service posts.
type posted struct {
	mu  sync.Mutex
	got []postedFile
	err error // what posting fails with, if set
}

type postedFile struct {
	to   command.Conv
	file protocol.File
}

func (p *posted) post(_ context.Context, to command.Conv, f protocol.File, _ string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	p.got = append(p.got, postedFile{to, f})
	return nil
}

func (p *posted) all() []postedFile {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]postedFile(nil), p.got...)
}

// service is the transfer service of user against the in-process file
// server, with progress reported on every read, and its downloads
// folder.
func (e *env) service(user string, edit func(*files.Options)) (*files.Transfers, *posted) {
	c, _ := e.client(user, func(o *files.Options) {
		o.Progress = nil // the sinks alone
		o.ProgressEvery = time.Nanosecond
		if edit != nil {
			edit(o)
		}
	})
	p := &posted{}
	return &files.Transfers{Remote: c.Spaces(), Post: p.post, Me: func() string { return user }, Downloads: e.t.TempDir()}, p
}

// sinkLog collects one transfer's reports, and may act on each.
type sinkLog struct {
	progressLog
	on func(files.Progress)
}

func (s *sinkLog) Progress(p files.Progress) {
	s.add(p)
	if s.on != nil {
		s.on(p)
	}
}

func (s *sinkLog) of(op string) []files.Progress {
	var out []files.Progress
	for _, p := range s.all() {
		if p.Op == op {
			out = append(out, p)
		}
	}
	return out
}

// checkReports checks that op's reports count up to size and end done.
func checkReports(t *testing.T, what string, ps []files.Progress, size int64) {
	t.Helper()
	if len(ps) < 3 {
		t.Fatalf("%s: %d reports, want a start, data moving and the end: %+v", what, len(ps), ps)
	}
	moving := false
	for i, p := range ps {
		if i > 0 && p.Done < ps[i-1].Done {
			t.Errorf("%s: progress went back: %+v after %+v", what, p, ps[i-1])
		}
		if p.Total != size {
			t.Errorf("%s: total %d, want %d", what, p.Total, size)
		}
		if p.Done > 0 && p.Done < size {
			moving = true
		}
	}
	if !moving {
		t.Errorf("%s: no report while data moved: %+v", what, ps)
	}
	if last := ps[len(ps)-1]; last.State != "done" || last.Done != size {
		t.Errorf("%s: last report %+v, want done at %d", what, last, size)
	}
}

// An upload reports its progress to its sink, stores the file and posts
// it; a download, found by the message's id or by its name, reports to
// its own sink and saves the same bytes in the downloads folder.
func TestTransfersReportProgressToTheSink(t *testing.T) {
	e := startServer(t)
	alice, posts := e.service("alice", nil)
	bob, _ := e.service("bob", nil)
	ctx := context.Background()
	src, data := randomFile(t, 3<<20+11)
	size := int64(len(data))

	var up sinkLog
	f, err := alice.Upload(ctx, command.Lobby, files.Upload{Path: src, Name: "data.bin"}, &up)
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "data.bin" || f.Path != "data.bin" || f.Size != size || f.SHA256 != hexsum(data) || f.Private {
		t.Errorf("stored %+v", f)
	}
	if got := posts.all(); len(got) != 1 || got[0].to != command.Lobby || got[0].file != f {
		t.Errorf("posted %+v", got)
	}
	if len(up.of("check")) == 0 {
		t.Error("no report of the checksum")
	}
	checkReports(t, "upload", up.of("upload"), size)
	for _, p := range up.all() {
		if p.Name != "data.bin" {
			t.Errorf("report for %q", p.Name)
		}
	}

	// By the message's id, as bob saw it.
	idx := files.NewIndex(0)
	idx.ObserveFrame(&protocol.Frame{Type: protocol.TypeMessage, Kind: protocol.KindFile, ID: 7, Room: "lobby", From: "alice", File: &f})
	src7, err := bob.Locate(ctx, command.Lobby, "#7", idx)
	if err != nil || src7.Message != 7 || src7.File.Path != "data.bin" || src7.With != "" {
		t.Fatalf("located %+v, %v", src7, err)
	}
	var down sinkLog
	d, err := bob.Download(ctx, src7, "", &down)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(bob.Downloads, "data.bin"); d.Path != want || !d.Verified || d.Size != size {
		t.Errorf("downloaded %+v, want it verified at %s", d, want)
	}
	if got, _ := os.ReadFile(d.Path); !bytes.Equal(got, data) {
		t.Error("the download differs")
	}
	checkReports(t, "download", down.of("download"), size)

	// By name, from the listing, which gives the checksum to verify.
	byName, err := bob.Locate(ctx, command.Lobby, "/data.bin", idx)
	if err != nil || byName.File.SHA256 != hexsum(data) || byName.File.Size != size {
		t.Fatalf("located by name %+v, %v", byName, err)
	}
}

// Cancelling an upload half-way leaves nothing in the listing (nor in
// the folder): partial uploads are kept out of sight. The same upload
// again resumes from where the server has it.
func TestCancelledUploadLeavesNothingVisible(t *testing.T) {
	e := startServer(t)
	state := t.TempDir()
	alice, posts := e.service("alice", func(o *files.Options) { o.StateDir = state })
	src, data := randomFile(t, 16<<20)
	size := int64(len(data))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sink := &sinkLog{on: func(p files.Progress) {
		if p.Op == "upload" && p.Done >= 2<<20 {
			cancel()
		}
	}}
	_, err := alice.Upload(ctx, command.Lobby, files.Upload{Path: src, Name: "big.bin"}, sink)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("the cancelled upload ended with %v", err)
	}
	if len(posts.all()) != 0 {
		t.Error("a cancelled upload was posted")
	}
	c, _ := e.client("alice", nil)
	l, err := c.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Entries) != 0 {
		t.Fatalf("the listing shows %+v after a cancelled upload", l.Entries)
	}
	if names, _ := os.ReadDir(filepath.Join(e.dir, "files")); len(names) != 0 {
		t.Fatalf("the folder holds %v after a cancelled upload", names)
	}

	again := &sinkLog{}
	f, err := alice.Upload(context.Background(), command.Lobby, files.Upload{Path: src, Name: "big.bin"}, again)
	if err != nil {
		t.Fatal(err)
	}
	if ups := again.of("upload"); len(ups) == 0 || ups[0].Done == 0 {
		t.Errorf("the second upload started over instead of resuming (%d reports)", len(ups))
	}
	if f.Path != "big.bin" || f.SHA256 != hexsum(data) || f.Size != size {
		t.Errorf("stored %+v", f)
	}
	if got, err := os.ReadFile(filepath.Join(e.dir, "files", "big.bin")); err != nil || !bytes.Equal(got, data) {
		t.Errorf("the stored file differs (%v)", err)
	}
}

// Downloads into a folder never replace a file: a taken name becomes
// "name (1).ext", "name (2).ext", …; a destination file the user named
// must not exist. A cancelled download shows nothing under its name,
// and the same download again resumes its partial file under the same
// name.
func TestDownloadFreeNames(t *testing.T) {
	e := startServer(t)
	alice, _ := e.service("alice", nil)
	ctx := context.Background()
	_, data := randomFile(t, 8<<20+3)
	f, err := alice.Store(ctx, command.Lobby, files.Upload{Name: "report.tar.gz", Data: data}, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := files.Source{File: f}
	dir := alice.Downloads

	for i, want := range []string{"report.tar.gz", "report (1).tar.gz", "report (2).tar.gz"} {
		d, err := alice.Download(ctx, src, "", nil)
		if err != nil {
			t.Fatalf("download %d: %v", i, err)
		}
		if d.Path != filepath.Join(dir, want) {
			t.Errorf("download %d saved as %s, want %s", i, filepath.Base(d.Path), want)
		}
	}
	// A folder named as DEST works the same way.
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "report.tar.gz"), []byte("mine"), 0o644)
	if d, err := alice.Download(ctx, src, other, nil); err != nil || d.Path != filepath.Join(other, "report (1).tar.gz") {
		t.Errorf("download into a folder: %+v, %v", d, err)
	}
	if b, _ := os.ReadFile(filepath.Join(other, "report.tar.gz")); string(b) != "mine" {
		t.Error("a download replaced a file")
	}
	// A file named as DEST: exactly there, and never over a file.
	exact := filepath.Join(other, "exact.bin")
	if d, err := alice.Download(ctx, src, exact, nil); err != nil || d.Path != exact {
		t.Errorf("download to a named file: %+v, %v", d, err)
	}
	if _, err := alice.Download(ctx, src, exact, nil); !isCode(err, "exists") {
		t.Errorf("download over a named file: %v", err)
	}
	// A DEST ending in a slash is a folder, made if need be.
	if d, err := alice.Download(ctx, src, filepath.Join(other, "new")+"/", nil); err != nil || d.Path != filepath.Join(other, "new", "report.tar.gz") {
		t.Errorf("download into a new folder: %+v, %v", d, err)
	}

	// Cancelled half-way: no file under the name it would have.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sink := &sinkLog{on: func(p files.Progress) {
		if p.Op == "download" && p.Done >= 1<<20 {
			cancel()
		}
	}}
	if _, err := alice.Download(cctx, src, "", sink); !errors.Is(err, context.Canceled) {
		t.Fatalf("the cancelled download ended with %v", err)
	}
	next := filepath.Join(dir, "report (3).tar.gz")
	if _, err := os.Stat(next); err == nil {
		t.Fatal("a cancelled download is visible under its name")
	}
	part, err := os.Stat(next + ".part")
	if err != nil || part.Size() == 0 {
		t.Fatalf("the cancelled download kept no partial file to resume (%v)", err)
	}
	again := &sinkLog{}
	d, err := alice.Download(ctx, src, "", again)
	if err != nil {
		t.Fatal(err)
	}
	if d.Path != next || !d.Verified {
		t.Errorf("the download again saved %+v, want %s", d, next)
	}
	if downs := again.of("download"); len(downs) == 0 || downs[0].Done == 0 {
		t.Errorf("the download again started over (%d reports)", len(downs))
	}
	if got, _ := os.ReadFile(next); !bytes.Equal(got, data) {
		t.Error("the resumed download differs")
	}
	if _, err := os.Stat(next + ".part"); err == nil {
		t.Error("the partial file is still there")
	}
}

// Two downloads of the same file into the same folder at once get
// different names.
func TestConcurrentDownloadsTakeDifferentNames(t *testing.T) {
	e := startServer(t)
	alice, _ := e.service("alice", nil)
	ctx := context.Background()
	_, data := randomFile(t, 4<<20)
	f, err := alice.Store(ctx, command.Lobby, files.Upload{Name: "same.bin", Data: data}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The first waits, half-way, until the second has its name.
	firstMoving := make(chan struct{})
	secondDone := make(chan struct{})
	var once sync.Once
	sink := &sinkLog{on: func(p files.Progress) {
		if p.Op == "download" && p.Done > 0 && p.State == "" {
			once.Do(func() {
				close(firstMoving)
				<-secondDone
			})
		}
	}}
	type result struct {
		d   *files.Downloaded
		err error
	}
	first := make(chan result, 1)
	go func() {
		d, err := alice.Download(ctx, files.Source{File: f}, "", sink)
		first <- result{d, err}
	}()
	<-firstMoving
	d2, err := alice.Download(ctx, files.Source{File: f}, "", nil)
	close(secondDone)
	r := <-first
	if err != nil || r.err != nil {
		t.Fatalf("downloads: %v, %v", r.err, err)
	}
	names := []string{filepath.Base(r.d.Path), filepath.Base(d2.Path)}
	if names[0] != "same.bin" || names[1] != "same (1).bin" {
		t.Errorf("saved as %q", names)
	}
}

// What is typed after /download: a file message's id, a name in the
// conversation's files (a private conversation's private space), and
// clear refusals otherwise.
func TestLocate(t *testing.T) {
	e := startServer(t)
	alice, posts := e.service("alice", nil)
	bob, _ := e.service("bob", nil)
	carol, _ := e.service("carol", nil)
	ctx := context.Background()
	atBob, atAlice := command.Conv{With: "bob"}, command.Conv{With: "alice"}
	f, err := alice.Upload(ctx, atBob, files.Upload{Name: "payslip.pdf", Data: []byte("numbers")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Private || posts.all()[0].to != atBob {
		t.Fatalf("a private conversation's upload: %+v, posted %+v", f, posts.all())
	}
	if _, err := alice.Store(ctx, command.Lobby, files.Upload{Name: "docs/readme.txt", Data: []byte("hi")}, nil); err != nil {
		t.Fatal(err)
	}

	idx := files.NewIndex(0)
	idx.ObserveFrame(&protocol.Frame{Type: protocol.TypeMessage, Kind: protocol.KindFile, ID: 3, From: "alice", To: "bob", File: &f})
	// Bob finds the private file by its message from anywhere, and by
	// name in his conversation with alice; carol, in hers, does not.
	if s, err := bob.Locate(ctx, command.Lobby, "3", idx); err != nil || s.With != "alice" || s.Message != 3 {
		t.Errorf("bob's #3: %+v, %v", s, err)
	}
	if s, err := bob.Locate(ctx, atAlice, "payslip.pdf", nil); err != nil || s.With != "alice" || !s.File.Private {
		t.Errorf("bob's payslip.pdf: %+v, %v", s, err)
	}
	if _, err := carol.Locate(ctx, atAlice, "payslip.pdf", nil); err == nil {
		t.Error("carol found the private file of alice and bob")
	}
	if _, err := bob.Locate(ctx, command.Lobby, "payslip.pdf", nil); err == nil {
		t.Error("the private file is in the shared folder")
	}

	for _, tc := range []struct{ what, code, msg string }{
		{"#99", "no_such_file", "message 99 is not a file here"},
		{"99", "no_such_file", "neither a file message seen in this session nor a file in the shared folder"},
		{"docs", "is_dir", "docs is a folder"},
		{"nothing.txt", "not_found", "no such file in the shared folder"},
	} {
		_, err := bob.Locate(ctx, command.Lobby, tc.what, idx)
		var pe *protocol.Error
		var fe *files.Error
		switch {
		case errors.As(err, &pe):
			if pe.Code != tc.code || !strings.Contains(pe.Message, tc.msg) {
				t.Errorf("%s: %v", tc.what, err)
			}
		case errors.As(err, &fe):
			if fe.Code != tc.code || !strings.Contains(fe.Message, tc.msg) {
				t.Errorf("%s: %v", tc.what, err)
			}
		default:
			t.Errorf("%s: %v", tc.what, err)
		}
	}
	// A file marked private in a room's message names no two people.
	if _, err := bob.FromMessage(files.FileMessage{ID: 4, Room: "lobby", From: "mallory", File: protocol.File{Path: "x", Private: true}}); err == nil {
		t.Error("a private file in a room message was taken")
	}
}

// A file message that cannot be posted leaves the file stored, and the
// error says so with a stable code.
func TestUploadNotPosted(t *testing.T) {
	e := startServer(t)
	alice, posts := e.service("alice", nil)
	posts.err = errors.New("the session has ended")
	f, err := alice.Upload(context.Background(), command.Lobby, files.Upload{Name: "a.txt", Data: []byte("a")}, nil)
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != files.CodeNotPosted || !strings.Contains(pe.Message, "a.txt was uploaded to the shared folder") {
		t.Fatalf("upload: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "files", f.Path)); err != nil {
		t.Error("the file is not stored")
	}
}

func TestNameVariantAndLocalName(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		want string
	}{
		{"report.pdf", 0, "report.pdf"},
		{"report.pdf", 1, "report (1).pdf"},
		{"archive.tar.gz", 2, "archive (2).tar.gz"},
		{"Archive.TAR.XZ", 1, "Archive (1).TAR.XZ"},
		{".env", 1, ".env (1)"},
		{"Makefile", 3, "Makefile (3)"},
		{"幻灯片.pptx", 1, "幻灯片 (1).pptx"},
	} {
		if got := files.NameVariant(tc.name, tc.n); got != tc.want {
			t.Errorf("NameVariant(%q, %d) = %q, want %q", tc.name, tc.n, got, tc.want)
		}
	}
	for in, want := range map[string]string{
		"docs/report.pdf":  "report.pdf",
		"../../etc/passwd": "passwd",
		`..\..\boot.ini`:   "boot.ini",
		"..":               "download",
		"/":                "download",
		"":                 "download",
		"a\x1b[2Jb":        "a[2Jb",
	} {
		if got := files.LocalName(in); got != want {
			t.Errorf("LocalName(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzLocalName(f *testing.F) {
	for _, s := range []string{"report.pdf", "../x", `a\b`, "..", "\x00", "dir/.."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got := files.LocalName(name)
		if got == "" || got == "." || got == ".." || strings.ContainsAny(got, `/\`) {
			t.Fatalf("LocalName(%q) = %q", name, got)
		}
		for _, r := range got {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("LocalName(%q) = %q keeps a control character", name, got)
			}
		}
		if filepath.Join("/dl", got) != "/dl/"+got {
			t.Fatalf("LocalName(%q) = %q leaves the folder", name, got)
		}
	})
}

// An upload under a name another file has takes the first free one of
// "name (1).ext", …, in line mode and the full-screen client alike; the
// same bytes again are the file already there, not a copy; -f replaces
// the user's own file.
func TestUploadTakenName(t *testing.T) {
	e := startServer(t)
	alice, posts := e.service("alice", nil)
	bob, _ := e.service("bob", nil)
	ctx := context.Background()
	src, data := randomFile(t, 300<<10)
	other := filepath.Join(t.TempDir(), "other.bin")
	os.WriteFile(other, []byte("something else"), 0o644)

	first, err := alice.Upload(ctx, command.Lobby, files.Upload{Path: src, Name: "notes.tar.gz"}, nil)
	if err != nil || first.Path != "notes.tar.gz" {
		t.Fatalf("first upload %+v, %v", first, err)
	}
	again, err := alice.Upload(ctx, command.Lobby, files.Upload{Path: src, Name: "notes.tar.gz"}, nil)
	if err != nil || again.Path != "notes.tar.gz" || again.SHA256 != hexsum(data) {
		t.Errorf("the same file again: %+v, %v", again, err)
	}
	theirs, err := bob.Upload(ctx, command.Lobby, files.Upload{Path: other, Name: "notes.tar.gz"}, nil)
	if err != nil || theirs.Path != "notes (1).tar.gz" {
		t.Errorf("another file under a taken name: %+v, %v", theirs, err)
	}
	if _, err := bob.Upload(ctx, command.Lobby, files.Upload{Path: other, Name: "notes.tar.gz", Overwrite: true}, nil); err == nil {
		t.Error("bob replaced alice's file")
	}
	if f, err := alice.Upload(ctx, command.Lobby, files.Upload{Path: other, Name: "notes.tar.gz", Overwrite: true}, nil); err != nil || f.Path != "notes.tar.gz" {
		t.Errorf("alice replacing her own file: %+v, %v", f, err)
	}
	if got, _ := os.ReadFile(filepath.Join(e.dir, "files", "notes.tar.gz")); string(got) != "something else" {
		t.Error("-f did not replace the file")
	}
	if n := len(posts.all()); n != 3 {
		t.Errorf("alice posted %d file messages, want 3", n)
	}
	if _, err := alice.Upload(ctx, command.Lobby, files.Upload{Path: t.TempDir(), Name: "x"}, nil); !isCode(err, files.CodeLocal) {
		t.Errorf("uploading a folder: %v", err)
	}
}

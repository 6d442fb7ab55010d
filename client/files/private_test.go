package files_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/client/files"
)

// fakeClient is user's client of the fake file server, through a proxy
// that can cut connections.
func fakeClient(t *testing.T, fs *fakeFS, user string, p *proxy) (*files.Client, *progressLog) {
	t.Helper()
	log := &progressLog{}
	c := files.New(files.Options{
		BaseURL:    func() string { return "http://" + p.addr() },
		Tokens:     &staticTokens{user: user},
		User:       user,
		Progress:   log.add,
		MaxBackoff: 50 * time.Millisecond,
	})
	t.Cleanup(c.Close)
	return c, log
}

// A private client names the private space of its user and the other
// person on every request: with=NAME on listings, downloads and deletes,
// the tus metadata key with on uploads. Only those two see the file;
// uploads and downloads resume after a dropped connection and check the
// SHA-256 as in the shared folder.
func TestPrivateSpace(t *testing.T) {
	fs := newFakeFS(t, secret)
	p := newProxy(t, strings.TrimPrefix(fs.url(), "http://"))
	alice, alog := fakeClient(t, fs, "alice", p)
	bob, _ := fakeClient(t, fs, "bob", p)
	carol, _ := fakeClient(t, fs, "carol", p)
	ctx := context.Background()
	src, data := randomFile(t, 3<<20+5)

	toBob := alice.Private("bob")
	if toBob.With() != "bob" || alice.With() != "" {
		t.Fatalf("With: %q and %q", toBob.With(), alice.With())
	}
	p.cut(true, 1<<20) // the upload's connection drops a third of the way
	ent, err := toBob.Upload(ctx, src, "payslip.pdf", files.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.cutCount() != 1 || ent.SHA256 != hexsum(data) {
		t.Fatalf("upload %+v after %d cuts", ent, p.cutCount())
	}
	if f := fs.file(pairKey("alice", "bob"), "payslip.pdf"); f == nil || !bytes.Equal(f.data, data) || f.uploader != "alice" {
		t.Fatal("the file is not in alice and bob's private space")
	}
	if fs.file("", "payslip.pdf") != nil {
		t.Fatal("a private upload landed in the shared folder")
	}
	if ps := alog.all(); ps[len(ps)-1].State != "done" {
		t.Errorf("the upload's progress did not end done: %+v", ps[len(ps)-1])
	}

	// Bob sees it in the space he shares with alice; the shared folder
	// and carol's spaces do not have it.
	l, err := bob.Private("alice").List(ctx, "")
	if err != nil || len(l.Entries) != 1 || l.Entries[0].Uploader != "alice" || l.With != "alice" {
		t.Fatalf("bob's private listing %+v, %v", l, err)
	}
	for name, c := range map[string]*files.Client{"alice's shared": alice, "carol with alice": carol.Private("alice"), "carol with bob": carol.Private("bob")} {
		if l, err := c.List(ctx, ""); err != nil || len(l.Entries) != 0 {
			t.Errorf("%s listing: %+v, %v", name, l, err)
		}
	}
	if _, err := carol.Private("alice").Download(ctx, "payslip.pdf", t.TempDir(), files.DownloadOptions{}); !isCode(err, "not_found") {
		t.Errorf("carol's download: %v", err)
	}

	// Bob downloads it, through a dropped connection, and checks it.
	dest := t.TempDir()
	p.cut(false, 2<<20)
	d, err := bob.Private("alice").Download(ctx, "payslip.pdf", dest, files.DownloadOptions{SHA256: ent.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dest, "payslip.pdf"))
	if !bytes.Equal(got, data) || !d.Verified || p.cutCount() != 2 {
		t.Fatalf("download %+v after %d cuts", d, p.cutCount())
	}

	// Either of the two may delete it.
	if err := bob.Private("alice").Delete(ctx, "payslip.pdf"); err != nil {
		t.Fatal(err)
	}
	if fs.file(pairKey("alice", "bob"), "payslip.pdf") != nil {
		t.Error("the file is still there")
	}
}

// A file in one's private space with oneself is one's own.
func TestPrivateSpaceWithOneself(t *testing.T) {
	fs := newFakeFS(t, secret)
	p := newProxy(t, strings.TrimPrefix(fs.url(), "http://"))
	alice, _ := fakeClient(t, fs, "alice", p)
	src, _ := randomFile(t, 100)
	if _, err := alice.Private("alice").Upload(context.Background(), src, "note.txt", files.UploadOptions{}); err != nil {
		t.Fatal(err)
	}
	if fs.file(pairKey("alice", "alice"), "note.txt") == nil {
		t.Fatal("not in alice's own private space")
	}
}

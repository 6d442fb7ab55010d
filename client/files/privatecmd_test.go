package files_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/chatserver/server"
	"github.com/parley-chat/parley/chatserver/server/servertest"
	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/client/command"
	"github.com/parley-chat/parley/client/files"
	"github.com/parley-chat/parley/shared/protocol"
)

// person is a user logged in to a real chat server, with the file
// commands as line mode has them, printing JSON into out.
type person struct {
	s   *chat.Session
	r   *command.Runner
	cmd *files.Commands

	mu  sync.Mutex
	out bytes.Buffer
	got []*protocol.Frame // message events
}

func (p *person) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *person) printed() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// fileMessage waits for a file message event named name.
func (p *person) fileMessage(t *testing.T, name string) *protocol.Frame {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		for _, f := range p.got {
			if f.Kind == protocol.KindFile && f.File != nil && f.File.Name == name {
				p.mu.Unlock()
				return f
			}
		}
		p.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no file message %s", name)
	return nil
}

func chatWithFiles(t *testing.T, fs *fakeFS) func(name string) *person {
	srv := servertest.Start(t, func(c *server.Config) {
		c.FilesURL = fs.url()
		c.FilesSecret = secret
	})
	return func(name string) *person {
		t.Helper()
		p := &person{}
		idx := files.NewIndex(0)
		s, err := chat.Connect(context.Background(), chat.Options{Addr: srv.Addr(), Name: name, Password: "pw-" + name,
			Observe: func(f *protocol.Frame) {
				idx.ObserveFrame(f)
				if f.Type == protocol.TypeMessage {
					p.mu.Lock()
					p.got = append(p.got, f)
					p.mu.Unlock()
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for range s.Events() {
			}
		}()
		t.Cleanup(func() { s.Close() })
		c := files.New(files.Options{BaseURL: func() string { return s.Welcome().FilesURL }, Tokens: files.NewSessionTokens(s), User: s.Me()})
		t.Cleanup(c.Close)
		p.s, p.r = s, command.NewRunner(s)
		p.cmd = &files.Commands{Client: c, Runner: p.r, Index: idx, Printer: files.NewLinePrinter(p, true)}
		p.r.Extra = p.cmd.Specs()
		return p
	}
}

func run(t *testing.T, p *person, conv command.Conv, line string) {
	t.Helper()
	p.r.Current = conv
	if _, err := p.r.Run(context.Background(), line); err != nil {
		t.Fatalf("%s in %s: %v", line, conv, err)
	}
}

// In a private conversation, /upload puts the file in the private space
// of the two and posts it as private; /download of that message fetches
// from there, for the recipient and the sender alike; /files and /rm
// there act on that space and say so. Rooms keep the shared folder.
func TestPrivateFileCommands(t *testing.T) {
	fs := newFakeFS(t, secret)
	login := chatWithFiles(t, fs)
	alice, bob, carol := login("alice"), login("bob"), login("carol")
	src, data := randomFile(t, 200<<10)
	atBob, atAlice := command.Conv{With: "bob"}, command.Conv{With: "alice"}

	run(t, alice, atBob, `/upload "`+src+`" payslip.pdf`)
	if fs.file(pairKey("alice", "bob"), "payslip.pdf") == nil || fs.file("", "payslip.pdf") != nil {
		t.Fatal("the upload is not in alice and bob's private space alone")
	}
	if out := alice.printed(); !strings.Contains(out, `"type":"uploaded","path":"payslip.pdf","with":"bob"`) || !strings.Contains(out, `"posted":"@bob"`) {
		t.Errorf("alice's notice:\n%s", out)
	}
	msg := bob.fileMessage(t, "payslip.pdf")
	if !msg.File.Private || msg.To != "bob" || msg.File.SHA256 != hexsum(data) {
		t.Fatalf("bob's file message %+v %+v", msg, msg.File)
	}
	id := msg.ID

	// Bob, the recipient, downloads it by its id, from any conversation.
	dest := t.TempDir()
	run(t, bob, command.Lobby, "/download "+itoa(int64(id))+" "+dest)
	if got, _ := os.ReadFile(filepath.Join(dest, "payslip.pdf")); !bytes.Equal(got, data) {
		t.Fatal("bob's download differs")
	}
	if out := bob.printed(); !strings.Contains(out, `"type":"downloaded","path":"payslip.pdf","with":"alice"`) || !strings.Contains(out, `"verified":true`) {
		t.Errorf("bob's notice:\n%s", out)
	}
	// Alice, the sender, too: the space is the one with bob.
	aliceDest := t.TempDir()
	alice.fileMessage(t, "payslip.pdf")
	run(t, alice, command.Lobby, "/download "+itoa(int64(id))+" "+aliceDest)
	if _, err := os.Stat(filepath.Join(aliceDest, "payslip.pdf")); err != nil {
		t.Fatal("alice could not download her own private file")
	}

	// /files in the private conversation lists that space; in a room,
	// the shared folder, which does not have it.
	run(t, bob, atAlice, "/files")
	if out := bob.printed(); !strings.Contains(out, `"type":"files","path":"","with":"alice","entries":[{"name":"payslip.pdf"`) {
		t.Errorf("bob's private listing:\n%s", out)
	}
	run(t, carol, command.Lobby, "/files")
	run(t, carol, atAlice, "/files")
	if out := carol.printed(); strings.Contains(out, "payslip") {
		t.Errorf("carol sees the private file:\n%s", out)
	}
	// By name, in the private conversation.
	byName := t.TempDir()
	run(t, bob, atAlice, "/download payslip.pdf "+byName)
	if _, err := os.Stat(filepath.Join(byName, "payslip.pdf")); err != nil {
		t.Fatal("bob's download by name in the private conversation failed")
	}
	carol.r.Current = command.Lobby
	if _, err := carol.r.Run(context.Background(), "/download payslip.pdf "+t.TempDir()); err == nil {
		t.Error("carol downloaded the private file by name from the shared folder")
	}

	// A sticker made by the client goes the same way.
	alice.r.Current = atBob
	if err := alice.cmd.Publish(context.Background(), "sticker-heart.png", []byte("a heart")); err != nil {
		t.Fatal(err)
	}
	if m := bob.fileMessage(t, "sticker-heart.png"); !m.File.Private || fs.file(pairKey("alice", "bob"), "sticker-heart.png") == nil {
		t.Errorf("the sticker message %+v is not a private file", m.File)
	}

	// Bob, who did not upload it, may delete it from the private space.
	run(t, bob, atAlice, "/rm payslip.pdf")
	if fs.file(pairKey("alice", "bob"), "payslip.pdf") != nil {
		t.Fatal("still there after bob's /rm")
	}
	if out := bob.printed(); !strings.Contains(out, `"type":"removed","path":"payslip.pdf","with":"alice"`) {
		t.Errorf("bob's notice:\n%s", out)
	}

	// In a room, /upload is for the shared folder, as before.
	run(t, alice, command.Lobby, `/upload "`+src+`" public.bin`)
	if fs.file("", "public.bin") == nil {
		t.Fatal("a room's upload is not in the shared folder")
	}
	if m := carol.fileMessage(t, "public.bin"); m.File.Private {
		t.Error("a room's file message is marked private")
	}
}

// Line mode's text says where files are.
func TestPrivatePlacesInText(t *testing.T) {
	var b bytes.Buffer
	p := files.NewLinePrinter(&b, false)
	p.Listing(&files.Listing{With: "bob"})
	p.Notice(files.Notice{Type: "uploaded", Path: "a.pdf", Size: 10, With: "bob", Posted: "@bob"})
	p.Notice(files.Notice{Type: "downloaded", Path: "a.pdf", Size: 10, With: "bob", Dest: "x/a.pdf", Verified: true})
	p.Notice(files.Notice{Type: "removed", Path: "a.pdf", With: "bob"})
	p.Notice(files.Notice{Type: "removed", Path: "b.pdf"})
	for _, want := range []string{
		"* the private space you share with bob is empty",
		"* uploaded a.pdf (10 B) to the private space you share with bob and announced it in @bob",
		"* downloaded a.pdf from the private space you share with bob to x/a.pdf (10 B, SHA-256 verified)",
		"* removed a.pdf from the private space you share with bob",
		"* removed b.pdf from the shared folder",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in:\n%s", want, b.String())
		}
	}
}

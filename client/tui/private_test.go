package tui

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/parley-chat/parley/client/command"
	"github.com/parley-chat/parley/shared/protocol"
)

// In a private conversation, uploads go to the private space of the two
// and are posted as private; the file of a private message comes from
// the private space of its two people, whoever sent it; /download NAME
// there names a file of that space. In a room, the shared folder.
func TestPrivateFiles(t *testing.T) {
	h := newHarness(t)
	h.frame(h.message("bob", "", "alice", "psst"))
	h.key("alt+2")
	if h.m.cur.id != (command.Conv{With: "bob"}) {
		t.Fatalf("in %v", h.m.cur.id)
	}

	path := filepath.Join(t.TempDir(), "payslip.pdf")
	os.WriteFile(path, []byte("numbers"), 0o644)
	h.typeText("/upload " + path)
	h.key("enter")
	awaitType[transferDoneMsg](h)
	awaitType[noteMsg](h)
	if got := h.xfer.upSpace["payslip.pdf"]; got != "bob" {
		t.Fatalf("uploaded to the space with %q, want bob", got)
	}
	posted := h.conn.sentFiles()[0]
	if posted.to != (command.Conv{With: "bob"}) || !posted.file.Private {
		t.Fatalf("posted %+v, want a private file to @bob", posted)
	}

	// A screenshot here goes there too.
	h.key("f4")
	awaitType[captureMsg](h)
	awaitType[transferDoneMsg](h)
	awaitType[noteMsg](h)
	if files := h.conn.sentFiles(); len(files) != 2 || !files[1].file.Private || h.xfer.upSpace[files[1].file.Name] != "bob" {
		t.Fatalf("the screenshot was posted as %+v", files[len(files)-1])
	}

	// Bob's private file, and alice's own echo of hers: both in the
	// space with bob.
	theirs := h.message("bob", "", "alice", "")
	theirs.Kind, theirs.File = protocol.KindFile, &protocol.File{Name: "reply.pdf", Size: 5, Path: "reply.pdf", Private: true}
	h.frame(theirs)
	mine := h.message("alice", "", "bob", "")
	mine.Kind, mine.File = protocol.KindFile, &protocol.File{Name: "payslip.pdf", Size: 7, Path: "payslip.pdf", Private: true}
	h.frame(mine)
	h.wantScreen("📎 reply.pdf (5 B) · private to you two")
	for _, id := range []uint64{theirs.ID, mine.ID} {
		h.typeText("/download " + strconv.FormatUint(id, 10))
		h.key("enter")
		if done := awaitType[transferDoneMsg](h); done.err != nil {
			t.Fatal(done.err)
		}
	}
	// By name, here.
	h.xfer.put("bob", "other.pdf")
	h.typeText("/download other.pdf")
	h.key("enter")
	awaitType[transferDoneMsg](h)
	if got := h.xfer.downSpace; len(got) != 3 || got[0] != "bob" || got[1] != "bob" || got[2] != "bob" {
		t.Fatalf("downloads from the spaces with %q, want bob each time", got)
	}

	// In the lobby, a name is in the shared folder, and a room's file
	// message is a shared file.
	h.key("alt+1")
	h.xfer.put("", "notes.txt")
	h.typeText("/download notes.txt")
	h.key("enter")
	awaitType[transferDoneMsg](h)
	shared := h.message("bob", "lobby", "", "")
	shared.Kind, shared.File = protocol.KindFile, &protocol.File{Name: "slides.pdf", Size: 5, Path: "slides.pdf"}
	h.frame(shared)
	h.key("ctrl+g")
	awaitType[transferDoneMsg](h)
	if got := h.xfer.downSpace; len(got) != 5 || got[3] != "" || got[4] != "" {
		t.Fatalf("downloads from the spaces with %q, want the shared folder for the last two", got)
	}
	path2 := filepath.Join(t.TempDir(), "public.txt")
	os.WriteFile(path2, []byte("hi"), 0o644)
	h.typeText("/upload " + path2)
	h.key("enter")
	awaitType[transferDoneMsg](h)
	awaitType[noteMsg](h)
	if files := h.conn.sentFiles(); files[len(files)-1].file.Private || h.xfer.upSpace["public.txt"] != "" {
		t.Fatalf("the lobby's upload was %+v", files[len(files)-1])
	}
}

// A file marked private in a room message names no pair of people, so
// it is not fetched.
func TestPrivateFileInARoomIsRefused(t *testing.T) {
	h := newHarness(t)
	f := h.message("mallory", "lobby", "", "")
	f.Kind, f.File = protocol.KindFile, &protocol.File{Name: "x.pdf", Size: 1, Path: "x.pdf", Private: true}
	h.frame(f)
	h.key("ctrl+g")
	h.wantScreen("names a private file but is not a private message")
	if len(h.xfer.downloads) != 0 {
		t.Fatal("downloaded")
	}
}

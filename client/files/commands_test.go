package files_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/parley-chat/parley/client/command"
	"github.com/parley-chat/parley/client/files"
	"github.com/parley-chat/parley/shared/protocol"
)

// commandsFor makes the file commands of user against the fake file
// server, printing as line mode does into out, on a runner without a
// chat session (the commands here post nothing).
func commandsFor(t *testing.T, fs *fakeFS, user string, out *bytes.Buffer) *command.Runner {
	t.Helper()
	c := files.New(files.Options{BaseURL: fs.url, Tokens: &staticTokens{user: user}, User: user})
	t.Cleanup(c.Close)
	r := command.NewRunner(nil)
	cmds := &files.Commands{Client: c, Runner: r, Index: files.NewIndex(0), Printer: files.NewLinePrinter(out, false)}
	r.Extra = cmds.Specs()
	return r
}

// A file copied into the shared folder by hand has no uploader, and the
// file server lets anyone delete it: the client passes /rm on without a
// check of its own, and says who may delete what.
func TestRmOfAFileCopiedInByHand(t *testing.T) {
	fs := newFakeFS(t, secret)
	fs.put("", "by hand.txt", []byte("dropped in"), "")
	fs.put("", "bobs.txt", []byte("bob's"), "bob")
	var out bytes.Buffer
	r := commandsFor(t, fs, "alice", &out)
	ctx := context.Background()

	if _, err := r.Run(ctx, "/files"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "copied in by hand") || !strings.Contains(out.String(), "from bob") {
		t.Errorf("the listing does not say who put the files there:\n%s", out.String())
	}
	if _, err := r.Run(ctx, `/rm "by hand.txt"`); err != nil {
		t.Fatalf("/rm of a file with no uploader: %v", err)
	}
	if fs.file("", "by hand.txt") != nil {
		t.Error("the file is still there")
	}
	if !strings.Contains(out.String(), "* removed by hand.txt from the shared folder") {
		t.Errorf("no notice of the removal:\n%s", out.String())
	}
	// Someone else's file: the server's refusal, as it gave it.
	_, err := r.Run(ctx, "/rm bobs.txt")
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != "forbidden" || !strings.Contains(pe.Message, "only bob, who uploaded it, may delete it") {
		t.Errorf("/rm of bob's file: %v", err)
	}
	if help := r.HelpText(); !strings.Contains(help, "one you uploaded, or one copied into the folder by hand") {
		t.Errorf("/help does not say who may delete what:\n%s", help)
	}
}

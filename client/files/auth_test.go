package files_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/parley-chat/parley/client/files"
	"github.com/parley-chat/parley/shared/protocol"
)

// When the file server says the token's secret is not its own, the
// client shows the server's message, which says that the two servers
// were given different secrets, and asks for no fresh token: one signed
// with the same secret would be refused the same way.
func TestSecretMismatchShowsTheServersMessage(t *testing.T) {
	fs := newFakeFS(t, []byte("the file server's own secret"))
	tokens := &staticTokens{user: "alice"}
	c := files.New(files.Options{BaseURL: fs.url, Tokens: tokens, User: "alice"})
	t.Cleanup(c.Close)

	_, err := c.List(context.Background(), "")
	var fe *files.Error
	if !errors.As(err, &fe) || fe.Code != files.CodeSecretMismatch {
		t.Fatalf("List: %v, want secret_mismatch", err)
	}
	if !strings.Contains(fe.Message, "the chat server and the file server must be given the same secret") {
		t.Errorf("the server's message is not what the client says: %q", fe.Message)
	}
	if tokens.n != 1 {
		t.Errorf("%d tokens asked for; a fresh one cannot help when the secrets differ", tokens.n)
	}
	// Line mode prints it with the server's code and message.
	var pe *protocol.Error
	if ue := files.UserError(err); !errors.As(ue, &pe) || pe.Code != files.CodeSecretMismatch || pe.Message != fe.Message {
		t.Errorf("as a command's error: %v", ue)
	}

	// An upload stops at once with the same refusal, without retrying.
	src, _ := randomFile(t, 100)
	_, err = c.Upload(context.Background(), src, "a.bin", files.UploadOptions{})
	if !errors.As(err, &fe) || fe.Code != files.CodeSecretMismatch {
		t.Fatalf("Upload: %v, want secret_mismatch", err)
	}
	if tokens.n != 2 {
		t.Errorf("%d tokens asked for in all, want one per request", tokens.n)
	}
}

// An expired token is replaced by a fresh one, and the request made once
// more.
func TestExpiredTokenIsRenewed(t *testing.T) {
	fs := newFakeFS(t, secret)
	tokens := &staticTokens{user: "alice", bad: 1}
	c := files.New(files.Options{BaseURL: fs.url, Tokens: tokens, User: "alice"})
	t.Cleanup(c.Close)
	if _, err := c.List(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	if denied := fs.refusals(); tokens.n != 2 || denied != 1 {
		t.Errorf("%d tokens asked for and %d refused, want 2 and 1", tokens.n, denied)
	}
}

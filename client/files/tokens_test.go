package files

import (
	"context"
	"testing"
	"time"

	"github.com/parley-chat/parley/chatserver/auth"
	"github.com/parley-chat/parley/chatserver/server"
	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/shared/filetoken"
)

// The token from login is used until three quarters of its life have
// passed; then a new one is asked for over the chat session, which the
// file server accepts.
func TestSessionTokensRenew(t *testing.T) {
	secret := []byte("tokens-test-secret")
	ctx := context.Background()
	params := auth.DefaultParams
	params.MemoryKiB = 64
	srv, err := server.Start(ctx, server.Config{
		Addr:        "127.0.0.1:0",
		FilesSecret: secret,
		FilesTTL:    time.Hour,
		FilesURL:    "http://{host}:7780",
		HashParams:  params,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	s, err := chat.Connect(ctx, chat.Options{Addr: srv.Addr(), Name: "Alice", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	go func() {
		for range s.Events() {
		}
	}()

	clock := time.Now()
	st := NewSessionTokens(s)
	st.now = func() time.Time { return clock }
	tok, err := st.Token(ctx, false)
	if err != nil || tok != s.LoginReply().FilesToken {
		t.Fatalf("first token: %v; not the login's", err)
	}
	start := st.got

	clock = clock.Add(30 * time.Minute) // half its life: kept
	if tok2, _ := st.Token(ctx, false); tok2 != tok || st.got != start {
		t.Fatal("a token with half its life left was replaced")
	}
	clock = clock.Add(20 * time.Minute) // 50 of 60 minutes: renewed
	tok3, err := st.Token(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if !st.got.Equal(clock) {
		t.Fatal("a token near its end was not renewed")
	}
	if user, err := filetoken.Verify(secret, tok3, time.Now()); err != nil || user != "Alice" {
		t.Fatalf("renewed token: %q, %v", user, err)
	}
	// A token the server refused is not handed out again.
	before := st.got
	clock = clock.Add(time.Second)
	if _, err := st.Token(ctx, true); err != nil || st.got.Equal(before) {
		t.Fatalf("fresh token not fetched: %v", err)
	}
}

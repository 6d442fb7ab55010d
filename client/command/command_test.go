package command_test

import (
	"context"
	"strings"
	"testing"

	"github.com/parley-chat/parley/chatserver/server"
	"github.com/parley-chat/parley/chatserver/server/servertest"
	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/client/command"
	"github.com/parley-chat/parley/shared/protocol"
)

func login(t *testing.T, addr, name string) *chat.Session {
	t.Helper()
	s, err := chat.Connect(context.Background(), chat.Options{Addr: addr, Name: name, Password: "pw-" + name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Text over the limit the server announced is refused by the runner with
// a too_long error that gives both lengths and leaves the text out.
func TestSendChecksTheAnnouncedLimit(t *testing.T) {
	srv := servertest.Start(t, func(c *server.Config) { c.Limits.Text = 100 })
	r := command.NewRunner(login(t, srv.Addr(), "alice"))
	if got := r.TextLimit(); got != 100 {
		t.Fatalf("TextLimit %d, want the announced 100", got)
	}
	text := strings.Repeat("word ", 30) // 150 bytes
	_, err := r.Run(context.Background(), text)
	var pe *protocol.Error
	if !chat.IsCode(err, protocol.CodeTooLong) {
		t.Fatalf("Run: %v, want too_long", err)
	}
	pe = err.(*protocol.Error)
	if !strings.Contains(pe.Message, "150 bytes") || !strings.Contains(pe.Message, "at most 100") {
		t.Errorf("the refusal does not give both lengths: %q", pe.Message)
	}
	if strings.Contains(pe.Message, "word word") {
		t.Errorf("the refusal repeats the text: %q", pe.Message)
	}
	// Shortcodes count as the emoji they become: 25 of them are 100
	// bytes of 🎉, within the limit, though typed they are 175.
	if _, err := r.Run(context.Background(), strings.Repeat(":tada:", 25)); err != nil {
		t.Fatalf("100 bytes of emoji: %v", err)
	}
	if _, err := r.Run(context.Background(), strings.Repeat(":tada:", 26)); !chat.IsCode(err, protocol.CodeTooLong) {
		t.Fatalf("104 bytes of emoji: %v, want too_long", err)
	}
}

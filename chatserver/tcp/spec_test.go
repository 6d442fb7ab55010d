package tcp_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/parley-chat/parley/chatserver/session"
)

// PROTOCOL.md's "Other bounds" table gives the queue bound the transport
// applies by default (session.DefaultMaxQueue, which every transport uses).
func TestSpecQueueBound(t *testing.T) {
	b, err := os.ReadFile("../../shared/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("| Bytes queued for one client | %d MiB (`-max-queue`) |", session.DefaultMaxQueue>>20)
	if session.DefaultMaxQueue%(1<<20) != 0 || !strings.Contains(string(b), want) {
		t.Errorf("PROTOCOL.md does not say %q (DefaultMaxQueue is %d bytes)", want, session.DefaultMaxQueue)
	}
}

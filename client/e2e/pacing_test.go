package e2e

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/parley-chat/parley/shared/protocol"
)

// A thousand lines piped into line mode, faster than the server's rate
// allows, are all stored, once each and in order: the client keeps to the
// rate instead of being refused and cut off as a flood. The room's history,
// read by another connection, is the proof.
func TestThousandPipedLinesAllStored(t *testing.T) {
	// The default rate would make this take 50 seconds; 100 a second
	// is still far slower than the client can send.
	srv := startChat(t, "", "-rate", "100", "-burst", "50")
	const n = 1000
	c := startClient(t, srv.addr, "bulk", "pw-bulk")
	var in strings.Builder
	in.WriteString("/join bulk\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&in, "line %04d\n", i)
	}
	if _, err := io.WriteString(c.in, in.String()); err != nil {
		t.Fatal(err)
	}
	c.in.Close()
	if code := c.wait(); code != 0 {
		t.Errorf("exit code %d; stderr: %s", code, c.stderr())
	}
	refused, dropped := 0, 0
	for _, l := range c.lines() {
		refused += strings.Count(l, `"code":"rate_limited"`)
		dropped += strings.Count(l, `"type":"reconnecting"`)
	}
	if refused > 0 || dropped > 0 {
		t.Errorf("the client printed %d rate_limited refusals and lost its connection %d times", refused, dropped)
	}

	audit := dialChat(t, srv.addr, "auditor")
	audit.write(&protocol.Frame{Type: protocol.TypeJoin, ID: 2, Room: "bulk"})
	audit.waitReply(2)
	next := uint64(10)
	var got []string
	for _, f := range audit.history("bulk", &next) {
		got = append(got, f.Text)
	}
	t.Logf("lines stored: %d of %d sent", len(got), n)
	if len(got) != n {
		t.Fatalf("%d messages stored, want %d", len(got), n)
	}
	for i, text := range got {
		if want := fmt.Sprintf("line %04d", i+1); text != want {
			t.Fatalf("stored message %d is %q, want %q", i+1, text, want)
		}
	}
}

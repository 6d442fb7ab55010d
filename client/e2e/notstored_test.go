package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/parley-chat/parley/shared/protocol"
)

// A message line that the server refuses is named when it fails, with its
// line number and text (on stderr in text mode, as a not_stored object
// with -json), and the client exits 4. Lines that are not messages and
// messages that were stored are not named.
func TestLinesNotStoredExitFour(t *testing.T) {
	srv := startChat(t, "")
	long := strings.Repeat("x", protocol.MaxTextBytes+1)
	input := []string{
		"/join notes",       // 1
		"fine",              // 2
		long,                // 3: too_long
		"/msg nobody hello", // 4: no_such_user
		"/rooms",            // 5
		"/nonsense",         // 6: not a message
		"last",              // 7
	}
	want := map[int]string{3: protocol.CodeTooLong, 4: protocol.CodeNoSuchUser}

	t.Run("text", func(t *testing.T) {
		c := startProc(t, "client", []string{"PARLEY_PASSWORD=pw"}, "-server", srv.addr, "-name", "plainwriter", "-plain")
		for _, l := range input {
			c.send(l)
		}
		c.in.Close()
		if code := c.wait(); code != 4 {
			t.Errorf("exit code %d, want 4", code)
		}
		named := regexp.MustCompile(`(?m)^client: line (\d+) was not stored \((\w+): .*?\): (.*)$`)
		ms := named.FindAllStringSubmatch(c.stderr(), -1)
		if len(ms) != len(want) {
			t.Fatalf("stderr names %d lines, want %d:\n%s", len(ms), len(want), c.stderr())
		}
		for _, m := range ms {
			var line int
			fmt.Sscan(m[1], &line)
			if want[line] != m[2] || m[3] != input[line-1] {
				t.Errorf("stderr: line %s code %s text %.20q; want code %q text %.20q", m[1], m[2], m[3], want[line], input[line-1])
			}
		}
		c.waitLine(regexp.MustCompile(`<plainwriter> last \[\d+\]$`))
	})

	t.Run("json", func(t *testing.T) {
		c := startClient(t, srv.addr, "jsonwriter", "pw")
		for _, l := range input {
			c.send(l)
		}
		c.in.Close()
		if code := c.wait(); code != 4 {
			t.Errorf("exit code %d, want 4", code)
		}
		got := map[int]event{}
		for _, e := range c.events() {
			if e.str("type") == "not_stored" {
				got[int(e.num("line"))] = e
			}
		}
		if len(got) != len(want) {
			t.Errorf("not_stored objects for lines %v, want %v", got, want)
		}
		for line, code := range want {
			e := got[line]
			if e.str("code") != code || e.str("text") != input[line-1] || e.str("message") == "" {
				t.Errorf("line %d: %.80v; want code %s and the line's text", line, e, code)
			}
		}
		c.waitEvent("the last line", isMessage("last"))
		if c.stderr() != "" {
			t.Errorf("stderr in -json mode: %s", c.stderr())
		}
	})
}

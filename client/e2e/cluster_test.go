package e2e

import (
	"path/filepath"
	"regexp"
	"syscall"
	"testing"

	"github.com/parley-chat/parley/shared/protocol"
)

// A line-mode client given two chat servers connects to the first. When
// that one is killed, the client moves to the second and says so; a
// message typed after the kill is stored there, once. (The two servers
// share no data, as a cluster's nodes would, so the client registers on
// the second as a new account: its password is still in hand. Nor do
// they share message ids, so the client, which shows each id once,
// does not show its echo from B, whose id A had used already: B's own
// record is what the test checks.)
func TestClientMovesToTheNextServer(t *testing.T) {
	a := startChat(t, "")
	b := startChat(t, "")
	plain := startProc(t, "client", []string{"PARLEY_PASSWORD=pw-alice"}, "-server", a.addr+","+b.addr, "-name", "alice", "-plain")
	plain.waitLine(regexp.MustCompile(`^\* connected as alice to ` + regexp.QuoteMeta(a.addr) + `; `))
	js := startClient(t, a.addr+","+b.addr, "bob", "pw-bob")
	if e := js.waitEvent("connected", func(e event) bool { return e.str("type") == "connected" }); e.str("addr") != a.addr {
		t.Fatalf("bob connected to %q, want %s", e.str("addr"), a.addr)
	}
	plain.send("before the kill")
	plain.waitLine(regexp.MustCompile(`<alice> before the kill \[\d+\]$`))
	// Someone on B, to see what arrives there.
	audit := dialChat(t, b.addr, "auditor")

	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a.wait()
	plain.send("typed after the kill")
	plain.waitLine(regexp.MustCompile(`^\* connection lost \(.*\); reconnecting to ` + regexp.QuoteMeta(b.addr) + ` in `))
	plain.waitLine(regexp.MustCompile(`^\* reconnected; connected to ` + regexp.QuoteMeta(b.addr) + `$`))
	if e := js.waitEvent("reconnected", func(e event) bool { return e.str("type") == "reconnected" }); e.str("addr") != b.addr {
		t.Fatalf("bob reconnected to %q, want %s", e.str("addr"), b.addr)
	}
	for {
		f, err := audit.read()
		if err != nil {
			t.Fatalf("waiting on B for alice's message: %v", err)
		}
		if f.Type == protocol.TypeMessage && f.From == "alice" {
			if f.Text != "typed after the kill" {
				t.Fatalf("B got %q from alice", f.Text)
			}
			break
		}
	}
	var next uint64 = 1
	var texts []string
	for _, f := range audit.history("lobby", &next) {
		texts = append(texts, f.From+": "+f.Text)
	}
	if len(texts) != 1 || texts[0] != "alice: typed after the kill" {
		t.Fatalf("B holds %q; want alice's message typed after the kill, once", texts)
	}

	plain.send("/quit")
	if code := plain.wait(); code != 0 {
		t.Fatalf("client exited with %d; stderr:\n%s", code, plain.stderr())
	}
}

// The full-screen client given two chat servers shows the first in its
// status line; when that one is killed, it moves to the second, shows it
// there, and says so in the conversation.
func TestTUIMovesToTheNextServer(t *testing.T) {
	needTool(t, "tmux")
	a := startChat(t, "")
	b := startChat(t, "")
	home := t.TempDir()
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, "config"), "LANG=C.UTF-8", "PARLEY_PASSWORD=pw-zoe"}
	tm := tuiStartTmux(t, home)
	tm.run(env, "-server", a.addr+","+b.addr, "-name", "zoe")
	tm.waitScreen("zoe @ " + a.addr + " ")
	tm.waitScreen("connected as zoe to " + a.addr + ".")

	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a.wait()
	tm.waitScreen("zoe @ " + b.addr + " ")
	tm.waitScreen("connected to " + b.addr)
	tm.waitScreen("● connected · reconnected")
	tm.keys("C-c")
	tm.waitExit(0)
}

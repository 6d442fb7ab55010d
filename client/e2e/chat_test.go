package e2e

import (
	"strings"
	"syscall"
	"testing"
)

// Three line-mode clients: a room message reaches the two others, and a
// private message between two of them never reaches the third.
func TestThreeClients(t *testing.T) {
	srv := startChat(t, "")
	alice := connected(t, srv.addr, "alice")
	bob := connected(t, srv.addr, "bob")
	carol := connected(t, srv.addr, "carol")
	for _, c := range []*proc{alice, bob, carol} {
		c.do("/join Café")
	}
	alice.send("bonjour :wave:")
	for _, c := range []*proc{alice, bob, carol} {
		e := c.waitEvent("room message", isMessage("bonjour 👋"))
		if e.str("from") != "alice" || e.str("room") != "Café" || e.num("id") == 0 {
			t.Errorf("%s got %v", c.name, e)
		}
	}
	alice.send("/msg bob only for you")
	for _, c := range []*proc{alice, bob} {
		e := c.waitEvent("private message", isMessage("only for you"))
		if e.str("from") != "alice" || e.str("to") != "bob" || e.str("room") != "" {
			t.Errorf("%s got %v", c.name, e)
		}
	}
	// Carol's own message is stored after the private one, so once its
	// echo is back she would have been sent the private one too.
	carol.send("/switch #lobby")
	carol.send("sync")
	carol.waitEvent("own echo", isMessage("sync"))
	for _, l := range carol.lines() {
		if strings.Contains(l, "only for you") || strings.Contains(l, `"to":`) {
			t.Errorf("carol received part of the private message: %s", l)
		}
	}
	for _, c := range []*proc{alice, bob, carol} {
		c.in.Close()
		if code := c.wait(); code != 0 {
			t.Errorf("%s exited with %d", c.name, code)
		}
	}
}

func TestTakeoverWithBinaries(t *testing.T) {
	srv := startChat(t, "")
	first := connected(t, srv.addr, "Alice")

	// The wrong password: refused, reason on stderr, first session intact.
	wrong := startClient(t, srv.addr, "alice", "not-her-password")
	wrong.in.Close()
	if code := wrong.wait(); code == 0 {
		t.Error("a login with the wrong password exited 0")
	}
	if !strings.Contains(wrong.stderr(), "bad_credentials") {
		t.Errorf("stderr of the refused login: %q", wrong.stderr())
	}
	first.send("still mine")
	first.waitEvent("echo", isMessage("still mine"))

	// The right password: the first session is told, exits, and stays out.
	second := startClient(t, srv.addr, "ALICE", "pw-alice")
	second.waitEvent("connected", func(e event) bool { return e.str("type") == "connected" })
	first.waitEvent("replaced", func(e event) bool { return e.str("type") == "replaced" })
	if code := first.wait(); code != 3 {
		t.Errorf("the replaced client exited with %d, want 3", code)
	}
	if !strings.Contains(first.stderr(), "replaced") {
		t.Errorf("the replaced client did not say why: %q", first.stderr())
	}
	for _, l := range first.lines() {
		if strings.Contains(l, `"type":"reconnecting"`) {
			t.Error("the replaced client tried to reconnect")
		}
	}
	second.send("now here")
	second.waitEvent("echo", isMessage("now here"))
}

// At the end of its input a client waits for the replies to what it sent,
// then exits 0; what it sent is stored.
func TestEndOfInput(t *testing.T) {
	srv := startChat(t, "")
	c := startClient(t, srv.addr, "writer", "pw")
	c.send("/join notes")
	for _, l := range []string{"one", "two", "three"} {
		c.send(l)
	}
	c.in.Close()
	if code := c.wait(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	var got []string
	for _, e := range c.events() {
		if e.str("type") == "message" {
			got = append(got, e.str("text"))
		}
	}
	if strings.Join(got, ",") != "one,two,three" {
		t.Errorf("echoes before exit: %v", got)
	}
	reader := connected(t, srv.addr, "reader")
	reader.do("/join notes")
	reader.waitEvent("history", func(e event) bool { return e.str("text") == "three" && e["history"] == true })
}

func TestLoginFailures(t *testing.T) {
	srv := startChat(t, "")
	cases := []struct {
		name, want string
		args       []string
	}{
		{"bad name", "bad_name", nil},
		{"nobody", "connection refused", []string{"-server", "127.0.0.1:1"}},
	}
	for _, c := range cases {
		p := startClient(t, srv.addr, c.name, "pw", c.args...)
		p.in.Close()
		if code := p.wait(); code != 1 {
			t.Errorf("%q: exit code %d, want 1", c.name, code)
		}
		if !strings.Contains(p.stderr(), c.want) {
			t.Errorf("%q: stderr %q does not say %q", c.name, p.stderr(), c.want)
		}
	}
	// No password at all.
	p := startProc(t, "client", []string{"PARLEY_PASSWORD="}, "-server", srv.addr, "-name", "x")
	p.in.Close()
	if code := p.wait(); code != 2 || !strings.Contains(p.stderr(), "PARLEY_PASSWORD") {
		t.Errorf("no password: exit %d, stderr %q", code, p.stderr())
	}
}

// History, rooms and accounts survive a restart of the server.
func TestRestartKeepsEverything(t *testing.T) {
	srv := startChat(t, "")
	a := connected(t, srv.addr, "alice")
	a.do("/join keep")
	a.send("remember me")
	a.waitEvent("echo", isMessage("remember me"))
	a.in.Close()
	a.wait()
	srv.cmd.Process.Signal(syscall.SIGTERM)
	if code := srv.wait(); code != 0 {
		t.Fatalf("chatserver exited with %d after SIGTERM", code)
	}
	srv2 := startChatAt(t, srv.addr, srv.data)
	b := connected(t, srv2.addr, "alice")
	b.waitEvent("history after restart", func(e event) bool {
		return e.str("text") == "remember me" && e.str("room") == "keep"
	})
	wrong := startClient(t, srv2.addr, "alice", "other")
	wrong.in.Close()
	if code := wrong.wait(); code != 1 {
		t.Errorf("the account was forgotten: wrong password exit %d", code)
	}
}

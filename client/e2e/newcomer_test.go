package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// freeLoopbackOn7700 finds an address on the loopback network whose port
// 7700 is free, so that a test can serve the client's default port
// without taking 127.0.0.1:7700 from anyone: on Linux all of 127.0.0.0/8
// is local, and elsewhere 127.0.0.1 is tried last.
func freeLoopbackOn7700(t *testing.T) string {
	t.Helper()
	hosts := make([]string, 0, 51)
	for i := range 50 {
		hosts = append(hosts, fmt.Sprintf("127.77.%d.%d", (os.Getpid()+i)%250+1, i%250+1))
	}
	for _, host := range append(hosts, "127.0.0.1") {
		ln, err := net.Listen("tcp", host+":7700")
		if err != nil {
			continue
		}
		ln.Close()
		return host
	}
	t.Fatal("no loopback address has port 7700 free: this test serves the client's default port")
	return ""
}

// -server with a host and no port reaches the chat server on port 7700,
// in line mode and in the full-screen client's login form.
func TestServerWithoutPort(t *testing.T) {
	host := freeLoopbackOn7700(t)
	srv := startChatAt(t, host+":7700", t.TempDir())
	_ = srv

	lm := startClient(t, host, "bob", "pw-bob")
	lm.waitEvent("connected", func(e event) bool { return e.str("type") == "connected" })
	lm.in.Close()
	if code := lm.wait(); code != 0 {
		t.Fatalf("line mode with -server %s exited %d", host, code)
	}

	needTool(t, "tmux")
	home := t.TempDir()
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, "config"), "LANG=C.UTF-8"}
	tm := tuiStartTmux(t, home)
	// No password: the form comes up. Its server field is typed anew,
	// without a port.
	tm.run(env, "-server", "127.0.0.1:1", "-name", "小明")
	tm.waitScreen("Password")
	tm.keys("BTab", "BTab") // to the server field
	tm.keys("End", "C-u")
	tm.typeText(host)
	tm.keys("Tab", "Tab")
	tm.typeText("pw-小明")
	tm.keys("Enter")
	tm.waitScreen("● connected")
	tm.waitScreen("小明 @ " + host + ":7700")
	tm.keys("C-c")
	tm.waitExit(0)
}

// In the full-screen client, /refresh says that it reconnects and when
// it is back, and a message over the limit is refused with its length,
// not its text, and stays on the input line.
func TestTUIRefreshAndLongText(t *testing.T) {
	needTool(t, "tmux")
	srv := startChat(t, "")
	peer := connected(t, srv.addr, "bob")
	home := t.TempDir()
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, "config"), "LANG=C.UTF-8", "PARLEY_PASSWORD=pw-小明"}
	tm := tuiStartTmux(t, home)
	tm.run(env, "-server", srv.addr, "-name", "小明")
	tm.waitScreen("● connected")

	tm.typeText("/refresh")
	tm.keys("Enter")
	tm.waitScreen("reconnecting to " + srv.addr + " now…")
	tm.waitScreen("reconnected to " + srv.addr)
	tm.waitScreen("● connected · reconnected")

	long := strings.Repeat("abcdefghij", 410)
	tm.paste(long)
	tm.keys("Enter")
	tm.waitScreen("4100 bytes, and the server takes at most 4000")
	// The input line, the last, holds it; nothing above repeats it.
	screen := strings.Split(strings.TrimRight(tm.screen(), "\n "), "\n")
	if input := screen[len(screen)-1]; !strings.Contains(input, "abcdefghijabcdefghij") {
		t.Fatalf("the input line lost the text: %q", input)
	}
	for _, l := range screen[:len(screen)-1] {
		if strings.Contains(l, "abcdefghijabcdefghij") {
			t.Fatalf("the text is repeated on the screen:\n%s", tm.screen())
		}
	}
	// Still on the input line: take ten bytes off the end and a hundred
	// from the start, then it goes.
	for range 10 {
		tm.keys("BSpace")
	}
	tm.keys("Home")
	for range 100 {
		tm.keys("Delete")
	}
	tm.keys("Enter")
	peer.waitEvent("the shortened message", isMessage(long[100:4090]))
	tm.keys("C-c")
	tm.waitExit(0)
}

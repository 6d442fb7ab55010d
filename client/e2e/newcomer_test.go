package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// freeLoopbackOn7700 finds an address on the loopback network
// (127.0.0.0/8, all of it local on Linux) whose port 7700 is free, so
// that a test can serve the client's default port without taking
// 127.0.0.1:7700 from anyone.
func freeLoopbackOn7700(t *testing.T) string {
	t.Helper()
	for i := 0; i < 50; i++ {
		host := fmt.Sprintf("127.77.%d.%d", (os.Getpid()+i)%250+1, i%250+1)
		ln, err := net.Listen("tcp", host+":7700")
		if err != nil {
			continue
		}
		ln.Close()
		return host
	}
	t.Skip("no loopback address with port 7700 free")
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

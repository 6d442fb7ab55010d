package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var ircListening = regexp.MustCompile(`msg="chat server listening" .* irc=(\S+)`)

// TestIrssi drives Debian's irssi in tmux against the chat server's IRC
// door: it connects with the account's password, joins a room, talks
// with a terminal client there both ways, and gets a private message.
func TestIrssi(t *testing.T) {
	irssi := needTool(t, "irssi")
	needTool(t, "tmux")

	data := t.TempDir()
	secret := filepath.Join(data, "secret")
	p := startProc(t, "chatserver", nil, "-addr", "127.0.0.1:0", "-http", "", "-irc", "127.0.0.1:0",
		"-irc-server-name", "parley.test", "-data", data, "-secret-file", secret, "-hash-memory", "64")
	m := p.waitStderr(ircListening)
	addr := p.waitStderr(listening)[1]
	host, port, _ := strings.Cut(m[1], ":")

	carol := connected(t, addr, "carol")
	carol.do("/join kitchen")

	home := t.TempDir()
	// A configuration of irssi's own, so that it asks nothing and
	// writes nothing outside home.
	conf := `settings = {
  core = { real_name = "Ivan Tester"; user_name = "ivan"; nick = "ivan"; };
  "fe-common/core" = { autocreate_own_query = "yes"; };
};
`
	if err := os.WriteFile(filepath.Join(home, "config"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	tm := tuiStartTmux(t, home)
	cmd := strings.Join([]string{"env", "HOME=" + shellQuote(home), "TERM=screen", "LANG=C.UTF-8",
		shellQuote(irssi), "--home=" + shellQuote(home), "-c", host, "-p", port, "-n", "ivan", "-w", "pw-ivan"}, " ")
	tm.tmux("new-session", "-d", "-s", "parley", "-x", "120", "-y", "36", cmd+"; sleep 600")

	tm.waitScreen("Welcome to Parley")
	tm.typeText("/join #kitchen")
	tm.keys("Enter")
	tm.waitScreen("@carol")

	// The terminal client speaks; irssi shows it. irssi speaks; the
	// terminal client gets it from ivan.
	carol.send("soup is ready")
	tm.waitScreen("soup is ready")
	tm.typeText("coming, 谢谢")
	tm.keys("Enter")
	carol.waitEvent("irssi's message", func(e event) bool {
		return e.str("type") == "message" && e.str("text") == "coming, 谢谢" && e.str("from") == "ivan"
	})

	// A private message opens a query window in irssi.
	carol.send("/msg ivan bring bowls")
	tm.typeText("/query carol")
	tm.keys("Enter")
	tm.waitScreen("bring bowls")
	tm.typeText("on my way")
	tm.keys("Enter")
	carol.waitEvent("irssi's private answer", func(e event) bool {
		return e.str("type") == "message" && e.str("text") == "on my way" && e.str("to") == "carol"
	})

	tm.typeText("/quit")
	tm.keys("Enter")
	carol.waitEvent("ivan going offline", func(e event) bool {
		return e.str("type") == "presence" && e.str("name") == "ivan" && e.str("status") == "offline"
	})
}

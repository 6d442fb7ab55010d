package irc_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ergochat/irc-go/ircmsg"
	"go.uber.org/goleak"

	"github.com/parley-chat/parley/chatserver/server"
	"github.com/parley-chat/parley/chatserver/server/servertest"
	"github.com/parley-chat/parley/shared/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// start starts a chat server with its IRC door on 127.0.0.1:0.
func start(t *testing.T, mod func(*server.Config)) *server.Server {
	return servertest.Start(t, func(c *server.Config) {
		c.IRC = "127.0.0.1:0"
		c.IRCServerName = "irc.test"
		if mod != nil {
			mod(c)
		}
	})
}

// client is an IRC client over a real socket.
type client struct {
	t    *testing.T
	name string
	c    net.Conn
	r    *bufio.Reader
}

func dial(t *testing.T, s *server.Server, name string) *client {
	t.Helper()
	c, err := net.Dial("tcp", s.IRCAddr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, name: name, c: c, r: bufio.NewReaderSize(c, 16<<10)}
}

func (c *client) send(lines ...string) {
	c.t.Helper()
	for _, l := range lines {
		if _, err := c.c.Write([]byte(l + "\r\n")); err != nil {
			c.t.Fatalf("%s: write: %v", c.name, err)
		}
	}
}

// read returns the next line, or an error once the server closed.
func (c *client) read() (ircmsg.Message, error) {
	c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := c.r.ReadString('\n')
	if err != nil {
		return ircmsg.Message{}, err
	}
	return ircmsg.ParseLine(strings.TrimRight(l, "\r\n"))
}

// expect reads until a line with command cmd whose parameters contain
// each of want, and returns it; the lines before it are skipped.
func (c *client) expect(cmd string, want ...string) ircmsg.Message {
	c.t.Helper()
	var seen []string
	for {
		m, err := c.read()
		if err != nil {
			c.t.Fatalf("%s: waiting for %s %q: %v; saw %q", c.name, cmd, want, err, seen)
		}
		l, _ := m.Line()
		if len(l) > 120 {
			l = l[:120] + "…"
		}
		if seen = append(seen, l); len(seen) > 8 {
			seen = seen[1:]
		}
		if m.Command != cmd {
			continue
		}
		all := strings.Join(m.Params, " ")
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(all, w)
		}
		if ok {
			return m
		}
	}
}

// sync sends a PING and reads up to its PONG, returning what came
// before: the server answers one line at a time, in order.
func (c *client) sync() []ircmsg.Message {
	c.t.Helper()
	c.send("PING :sync-" + c.name)
	var out []ircmsg.Message
	for {
		m, err := c.read()
		if err != nil {
			c.t.Fatalf("%s: sync: %v", c.name, err)
		}
		if m.Command == "PONG" && len(m.Params) == 2 && m.Params[1] == "sync-"+c.name {
			return out
		}
		out = append(out, m)
	}
}

// register logs in with PASS, NICK and USER and waits for the welcome's
// end.
func (c *client) register(password string) {
	c.t.Helper()
	c.send("PASS "+password, "NICK "+c.name, "USER "+c.name+" 0 * :"+c.name+" Tester")
	c.expect("001")
	c.expect("422")
}

func commands(ms []ircmsg.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Command)
	}
	return out
}

// Two IRC users and one on the chat protocol share a room and private
// messages; the owner shows as @ and is the only one who kicks and sets
// the topic.
func TestRoomsAndMessages(t *testing.T) {
	s := start(t, nil)
	alice, bob := dial(t, s, "alice"), dial(t, s, "bob")
	alice.register("pw-a")
	bob.send("CAP LS 302", "PASS pw-b", "NICK bob", "USER bob 0 * :Bob", "CAP REQ :echo-message server-time message-tags", "CAP END")
	bob.expect("CAP", "ACK")
	bob.expect("001", "bob")

	alice.send("JOIN #Go")
	alice.expect("JOIN", "#Go")
	alice.expect("353", "@alice")
	alice.expect("366")
	bob.send("JOIN #go")
	bob.expect("JOIN", "#Go")
	names := bob.expect("353")
	if got := names.Params[len(names.Params)-1]; got != "@alice bob" {
		t.Errorf("names %q, want @alice bob", got)
	}
	alice.expect("JOIN", "#Go")

	// A peer on the chat protocol, in the same room.
	carol := dialNDJSON(t, s, "carol")
	carol.do(&protocol.Frame{Type: protocol.TypeJoin, Room: "go"})

	bob.send("PRIVMSG #go :hello from IRC")
	echo := bob.expect("PRIVMSG", "hello from IRC")
	if !echo.HasTag("msgid") || !echo.HasTag("time") {
		t.Errorf("echo without msgid and time: %v", echo.AllTags())
	}
	if m := alice.expect("PRIVMSG", "hello from IRC"); m.Nick() != "bob" || m.Params[0] != "#Go" || m.HasTag("msgid") {
		t.Errorf("alice got %+v", m)
	}
	if f := carol.next(protocol.TypeMessage, nil); f.From != "bob" || f.Text != "hello from IRC" {
		t.Errorf("carol got %+v", f)
	}
	carol.do(&protocol.Frame{Type: protocol.TypeSend, Room: "go", Text: "line one\nline two " + strings.Repeat("长", 300)})
	alice.expect("PRIVMSG", "line one")
	long := alice.expect("PRIVMSG", "line two")
	rest := alice.expect("PRIVMSG", "长")
	if l, _ := long.Line(); len(l) > 512 {
		t.Errorf("a line of %d bytes", len(l))
	}
	if !strings.HasPrefix(rest.Params[1], "长") {
		t.Errorf("a split in the middle of a character: %q", rest.Params[1])
	}

	// Private messages, both ways, and to the chat protocol.
	alice.send("PRIVMSG bob :psst")
	if m := bob.expect("PRIVMSG", "psst"); m.Params[0] != "bob" || m.Nick() != "alice" {
		t.Errorf("private message %+v", m)
	}
	alice.send("PRIVMSG carol :to the terminal")
	if f := carol.next(protocol.TypeMessage, func(f *protocol.Frame) bool { return f.To != "" }); f.From != "alice" || f.To != "carol" {
		t.Errorf("carol's private message %+v", f)
	}
	carol.do(&protocol.Frame{Type: protocol.TypeSend, To: "alice", Text: "back to IRC"})
	if m := alice.expect("PRIVMSG", "back to IRC"); m.Params[0] != "alice" || m.Nick() != "carol" {
		t.Errorf("alice's private message %+v", m)
	}
	alice.send("NOTICE #go :a bot's notice")
	bob.expect("NOTICE", "a bot's notice")

	// Only the owner sets the topic; everyone hears it, and joins show it.
	bob.send("TOPIC #go :mine")
	bob.expect("482")
	alice.send("TOPIC #go :Go 1.26 party")
	bob.expect("TOPIC", "Go 1.26 party")
	bob.send("TOPIC #go")
	bob.expect("332", "Go 1.26 party")
	if f := carol.next(protocol.TypeTopic, nil); f.Text != "Go 1.26 party" || f.By != "alice" {
		t.Errorf("carol's topic event %+v", f)
	}

	bob.send("WHO #go")
	bob.expect("352", "alice", "H@")
	bob.expect("315")
	bob.send("WHOIS carol")
	bob.expect("311", "carol")
	bob.expect("318")
	bob.send("LIST")
	bob.expect("322", "#Go", "Go 1.26 party")
	bob.expect("323")
	bob.send("MODE #go")
	bob.expect("324", "#Go")

	// Errors are numerics, and the connection lives.
	bob.send("PRIVMSG #nowhere :hi", "PRIVMSG nobody :hi", "KICK #go alice", "FROB", "JOIN nochannel", "PART #elsewhere")
	for _, want := range []string{"403", "401", "482", "421", "403", "403"} {
		bob.expect(want)
	}

	// The owner kicks, with a reason.
	alice.send("KICK #go bob :enough")
	if m := bob.expect("KICK"); m.Params[1] != "bob" || m.Params[2] != "enough" {
		t.Errorf("kick %+v", m)
	}
	bob.send("PRIVMSG #go :still here?")
	bob.expect("404")
	bob.send("JOIN #go")
	bob.expect("474")

	// QUIT: the others see it with the reason.
	alice.send("JOIN #quiet")
	alice.expect("366")
	carol.do(&protocol.Frame{Type: protocol.TypeJoin, Room: "quiet"})
	if m := alice.expect("JOIN", "#quiet"); m.Nick() != "carol" {
		t.Errorf("join %+v", m)
	}
	bob.send("QUIT :gone fishing")
	bob.expect("ERROR")
	alice.send("PART #quiet :bye now")
	if f := carol.next(protocol.TypeMember, func(f *protocol.Frame) bool { return f.Action == protocol.ActionLeave }); f.Name != "alice" || f.Action != protocol.ActionLeave || f.Text != "bye now" {
		t.Errorf("carol's leave event %+v", f)
	}
}

// A login takes over an older session of the same account, which is
// told why.
func TestTakeover(t *testing.T) {
	s := start(t, nil)
	a1 := dial(t, s, "dana")
	a1.register("pw")
	a2 := dial(t, s, "dana")
	a2.register("pw")
	a1.expect("NOTICE")
	a1.expect("ERROR")
	if _, err := a1.read(); err == nil {
		t.Error("the replaced connection is still open")
	}
	// A wrong password is refused, and the connection closed.
	a3 := dial(t, s, "dana")
	a3.send("PASS wrong", "NICK dana", "USER d 0 * :D")
	a3.expect("464")
	a3.expect("ERROR")
}

// SASL PLAIN logs in (and the first login registers); a wrong password
// gets 904 and the connection may try again.
func TestSASL(t *testing.T) {
	s := start(t, nil)
	plain := func(name, pw string) string {
		return base64.StdEncoding.EncodeToString([]byte("\x00" + name + "\x00" + pw))
	}
	c := dial(t, s, "erin")
	c.send("CAP LS 302", "NICK whatever", "USER e 0 * :E", "CAP REQ sasl", "AUTHENTICATE PLAIN")
	c.expect("CAP", "sasl=PLAIN")
	c.expect("AUTHENTICATE", "+")
	c.send("AUTHENTICATE " + plain("erin", "sesame"))
	c.expect("903")
	c.send("CAP END")
	// The nick it registered with is the account's Parley nick now.
	c.expect("001", "whatever!erin@parley")
	c.send("WHO whatever %na")
	if m := c.expect("354"); strings.Join(m.Params, " ") != "whatever whatever erin" {
		t.Errorf("WHOX: %q", m.Params)
	}
	c.send("QUIT")
	c.expect("ERROR")

	d := dial(t, s, "erin")
	d.send("CAP REQ sasl", "AUTHENTICATE PLAIN", "AUTHENTICATE "+plain("erin", "wrong"))
	d.expect("904")
	// NICK as the login name keeps the nick the account has, which the
	// client is told.
	d.send("AUTHENTICATE PLAIN", "AUTHENTICATE "+plain("erin", "sesame"), "NICK erin", "USER e 0 * :E", "CAP END")
	if m := d.expect("900"); m.Params[1] != "*!erin@parley" || m.Params[2] != "erin" {
		t.Errorf("900: %q", m.Params)
	}
	d.expect("903")
	d.expect("001", "whatever")
	if m := d.expect("NICK"); m.Source != "erin!erin@parley" || m.Params[0] != "whatever" {
		t.Errorf("NICK after the welcome: %s %q", m.Source, m.Params)
	}

	// A nick someone else has is refused, with a notice; the account's
	// own stays.
	watch := dialNDJSON(t, s, "frida")
	watch.do(&protocol.Frame{Type: protocol.TypeNick, Nick: "Freddie"})
	e := dial(t, s, "erin")
	e.send("CAP REQ sasl", "AUTHENTICATE PLAIN", "AUTHENTICATE "+plain("erin", "sesame"), "NICK Freddie", "USER e 0 * :E", "CAP END")
	e.expect("NOTICE", "cannot be Freddie")
	e.expect("001", "whatever")
	if m := e.expect("NICK"); m.Source != "Freddie!erin@parley" || m.Params[0] != "whatever" {
		t.Errorf("NICK after the welcome: %s %q", m.Source, m.Params)
	}
}

// NICK is the Parley nick: others on IRC see NICK lines and messages
// from the nick, the other clients see nick events, and the account
// stays the login name.
func TestNick(t *testing.T) {
	s := start(t, nil)
	alice, bob := dial(t, s, "alice"), dial(t, s, "bob")
	alice.register("pw")
	bob.register("pw")
	carol := dialNDJSON(t, s, "carol")
	alice.send("JOIN #go")
	alice.expect("366")
	bob.send("JOIN #go")
	bob.expect("366")
	carol.do(&protocol.Frame{Type: protocol.TypeJoin, Room: "go"})
	alice.expect("JOIN", "#go")
	bob.expect("JOIN", "#go")

	alice.send("NICK Ally")
	if m := alice.expect("NICK"); m.Source != "alice!alice@parley" || m.Params[0] != "Ally" {
		t.Errorf("alice's NICK: %s %q", m.Source, m.Params)
	}
	if m := bob.expect("NICK"); m.Source != "alice!alice@parley" || m.Params[0] != "Ally" {
		t.Errorf("bob's NICK: %s %q", m.Source, m.Params)
	}
	if f := carol.next(protocol.TypeNick, nil); f.Name != "alice" || f.Nick != "Ally" {
		t.Errorf("carol's nick event %+v", f)
	}
	alice.send("PRIVMSG #go :hi as Ally")
	if m := bob.expect("PRIVMSG", "hi as Ally"); m.Source != "Ally!alice@parley" {
		t.Errorf("PRIVMSG from %s", m.Source)
	}
	if f := carol.next(protocol.TypeMessage, nil); f.From != "alice" || f.Nick != "Ally" {
		t.Errorf("carol's message %+v", f)
	}
	// Replies name the client by its nick; WHOX's account is the login name.
	bob.send("WHO Ally %na")
	if m := bob.expect("354"); strings.Join(m.Params, " ") != "bob Ally alice" {
		t.Errorf("WHOX: %q", m.Params)
	}
	bob.send("WHOIS Ally")
	if m := bob.expect("330"); m.Params[1] != "Ally" || m.Params[2] != "alice" {
		t.Errorf("WHOIS 330: %q", m.Params)
	}
	bob.send("NAMES #go")
	if m := bob.expect("353"); !strings.Contains(m.Params[3], "@Ally") {
		t.Errorf("NAMES: %q", m.Params)
	}
	// A private message to the nick reaches her.
	bob.send("PRIVMSG Ally :psst")
	if m := alice.expect("PRIVMSG", "psst"); m.Params[0] != "Ally" || m.Source != "bob!bob@parley" {
		t.Errorf("private message %s %q", m.Source, m.Params)
	}

	// A nick set on another face shows as NICK.
	carol.do(&protocol.Frame{Type: protocol.TypeNick, Nick: "Caz"})
	if m := alice.expect("NICK"); m.Source != "carol!carol@parley" || m.Params[0] != "Caz" {
		t.Errorf("carol's NICK: %s %q", m.Source, m.Params)
	}
	// Someone else's nick or name is refused.
	bob.send("NICK Caz")
	bob.expect("433", "Caz")
	bob.send("NICK alice")
	bob.expect("433", "alice")
	bob.send("NICK #x")
	bob.expect("432", "#x")
	// The login name goes back to having no nick.
	alice.send("NICK alice")
	if m := bob.expect("NICK"); m.Source != "Ally!alice@parley" || m.Params[0] != "alice" {
		t.Errorf("back to the name: %s %q", m.Source, m.Params)
	}
	if f := carol.next(protocol.TypeNick, func(f *protocol.Frame) bool { return f.Name == "alice" }); f.Nick != "" {
		t.Errorf("carol's nick event %+v", f)
	}
}

// With -irc-guests a connection without a password registers its nick,
// but never takes over one online, nor a name with a password.
func TestGuests(t *testing.T) {
	s := start(t, func(c *server.Config) { c.IRCGuests = true })
	watch := dialNDJSON(t, s, "watcher")
	owner := dial(t, s, "frank")
	owner.register("secret")
	g := dial(t, s, "frank")
	g.send("NICK frank", "USER f 0 * :F")
	g.expect("433")
	g.send("NICK guest1")
	g.expect("001", "guest1")
	g.send("QUIT")
	g.expect("ERROR")
	owner.send("QUIT")
	owner.expect("ERROR")
	// Both are offline once the watcher hears so, in either order.
	offline := map[string]bool{}
	for !offline["guest1"] || !offline["frank"] {
		f := watch.next(protocol.TypePresence, func(f *protocol.Frame) bool { return f.Status == protocol.StatusOffline })
		offline[f.Name] = true
	}
	// The owner is offline now; the name is still theirs.
	g2 := dial(t, s, "frank")
	g2.send("NICK frank", "USER f 0 * :F")
	g2.expect("433", "registered")
	// A guest's nick comes back to a guest.
	g3 := dial(t, s, "guest1")
	g3.send("NICK guest1", "USER f 0 * :F")
	g3.expect("001", "guest1")

	// With a guest password, guests must send it.
	s2 := start(t, func(c *server.Config) { c.IRCGuests, c.IRCGuestPassword = true, "letmein" })
	h := dial(t, s2, "gina")
	h.send("PASS nope", "NICK gina", "USER g 0 * :G")
	h.expect("464")
	h2 := dial(t, s2, "gina")
	h2.send("PASS letmein", "NICK gina", "USER g 0 * :G")
	h2.expect("001", "gina")
}

// Without -irc-guests, a connection needs a password.
func TestNoPassword(t *testing.T) {
	s := start(t, nil)
	c := dial(t, s, "hal")
	c.send("NICK hal", "USER h 0 * :H")
	c.expect("464", "PASS")
	c.expect("ERROR")
}

// Bad input gets a numeric and the connection lives, except a line over
// 8191 bytes, or a flood, which close it with ERROR.
func TestBadInput(t *testing.T) {
	s := start(t, nil)
	c := dial(t, s, "ivy")
	c.register("pw")
	c.send("PRIVMSG", "JOIN", "@"+strings.Repeat("t", 5000)+" PRIVMSG #x :hi", "PRIVMSG #x :"+strings.Repeat("y", 600),
		"PRIVMSG #x", "TOPIC", "KICK #x", "WHOIS", "CAP", "NICK")
	for _, want := range []string{"411", "461", "417", "417", "412", "461", "461", "461", "461", "431"} {
		c.expect(want)
	}
	ms := c.sync()
	if len(ms) != 0 {
		t.Errorf("after a sync: %q", commands(ms))
	}
	c.send(strings.Repeat("x", 8192))
	c.expect("ERROR", "too long")
	if _, err := c.read(); err == nil {
		t.Error("still open after a line over the limit")
	}

	limited := start(t, func(c *server.Config) { c.Limits.RatePerSec, c.Limits.RateBurst = 5, 5 })
	f := dial(t, limited, "jay")
	f.register("pw")
	for i := 0; i < 200; i++ {
		if _, err := f.c.Write([]byte("PING :flood\r\n")); err != nil {
			break
		}
	}
	f.expect("ERROR", "too many requests")
}

// A client that does not read is disconnected as a slow consumer, and
// the room goes on.
func TestSlowConsumer(t *testing.T) {
	s := start(t, func(c *server.Config) { c.MaxQueue = 2 << 20 })
	slow, fast := dial(t, s, "kim"), dial(t, s, "lee")
	slow.register("pw")
	fast.register("pw")
	slow.send("JOIN #busy")
	slow.expect("366")
	fast.send("JOIN #busy")
	fast.expect("366")
	sender := dialNDJSON(t, s, "mo")
	sender.do(&protocol.Frame{Type: protocol.TypeJoin, Room: "busy"})
	// The fast one reads everything; the slow one nothing, until its
	// socket's buffers and then its queue are full.
	got := make(chan int)
	go func() {
		n := 0
		for {
			// Raw lines: the reader must keep up, under -race too.
			fast.c.SetReadDeadline(time.Now().Add(30 * time.Second))
			l, err := fast.r.ReadSlice('\n')
			if err != nil {
				got <- -1
				return
			}
			if bytes.Contains(l, []byte(" PRIVMSG ")) {
				n++
				if bytes.HasSuffix(l, []byte(" :last\r\n")) || bytes.HasSuffix(l, []byte(" last\r\n")) {
					got <- n
					return
				}
			}
		}
	}()
	text := strings.Repeat("z", 3000)
	const many = 3000
	for i := 0; i < many; i++ {
		sender.do(&protocol.Frame{Type: protocol.TypeSend, Room: "busy", Text: text})
	}
	sender.do(&protocol.Frame{Type: protocol.TypeSend, Room: "busy", Text: "last"})
	// Each message is 7 IRC lines of at most 512 bytes, and "last" one.
	if n := <-got; n != 7*many+1 {
		t.Errorf("the reader got %d lines, want %d", n, 7*many+1)
	}
	// The slow one finds, after what fit in its socket, that it was
	// dropped, and why.
	var last ircmsg.Message
	for {
		m, err := slow.read()
		if err != nil {
			break
		}
		last = m
	}
	if last.Command != "ERROR" || !strings.Contains(last.Params[0], "SendQ") {
		t.Errorf("the slow consumer's last line: %+v", last)
	}
}

// A join plays the room's history back (in a chathistory batch with the
// batch capability, with the messages' times); a recall reaches a client
// with draft/message-redaction as REDACT, and REDACT recalls; a file
// message arrives as text with the file's URL.
func TestHistoryRecallAndFiles(t *testing.T) {
	s := start(t, func(c *server.Config) { c.FilesURL = "http://files.test:7780" })
	carol := dialNDJSON(t, s, "carol")
	carol.do(&protocol.Frame{Type: protocol.TypeJoin, Room: "notes"})
	carol.do(&protocol.Frame{Type: protocol.TypeSend, Room: "notes", Text: "first"})
	carol.do(&protocol.Frame{Type: protocol.TypeSend, Room: "notes", Text: "second"})

	c := dial(t, s, "nina")
	c.send("CAP LS 302", "CAP REQ :batch server-time message-tags draft/message-redaction echo-message",
		"PASS pw", "NICK nina", "USER n 0 * :N", "CAP END")
	c.expect("001")
	c.send("JOIN #notes")
	c.expect("366")
	b := c.expect("BATCH")
	if len(b.Params) < 3 || !strings.HasPrefix(b.Params[0], "+") || b.Params[1] != "chathistory" || b.Params[2] != "#notes" {
		t.Fatalf("batch start %+v", b)
	}
	ref := b.Params[0][1:]
	for _, want := range []string{"first", "second"} {
		m := c.expect("PRIVMSG", want)
		if _, v := m.GetTag("batch"); v != ref || !m.HasTag("time") || m.Nick() != "carol" {
			t.Errorf("history line %+v %v", m, m.AllTags())
		}
	}
	if end := c.expect("BATCH"); end.Params[0] != "-"+ref {
		t.Errorf("batch end %+v", end)
	}

	// nina's own message, recalled with REDACT by its msgid.
	c.send("PRIVMSG #notes :oops")
	echo := c.expect("PRIVMSG", "oops")
	_, id := echo.GetTag("msgid")
	c.send("REDACT #notes " + id)
	if r := c.expect("REDACT"); r.Params[1] != id || r.Nick() != "nina" {
		t.Errorf("redact %+v", r)
	}
	if f := carol.next(protocol.TypeRecall, nil); strconv.FormatUint(f.Msg, 10) != id {
		t.Errorf("carol's recall %+v", f)
	}
	c.send("REDACT #notes 999999")
	c.expect("FAIL", "UNKNOWN_MSGID")

	// A file message.
	carol.do(&protocol.Frame{Type: protocol.TypeSend, Room: "notes", Kind: protocol.KindFile, Text: "the menu",
		File: &protocol.File{Name: "menu card.pdf", Size: 2048, Path: "food/menu card.pdf"}})
	c.expect("PRIVMSG", "the menu")
	if m := c.expect("PRIVMSG", "[file]"); !strings.Contains(m.Params[1], "http://files.test:7780/files/food/menu%20card.pdf") ||
		!strings.Contains(m.Params[1], "2.0 KiB") {
		t.Errorf("file line %q", m.Params[1])
	}
}

// Deadlines: a connection that does not register in time is closed; a
// silent one is pinged, kept while it answers, and closed when it stops.
func TestDeadlines(t *testing.T) {
	s := start(t, func(c *server.Config) {
		c.HandshakeTimeout = 300 * time.Millisecond
		c.PingInterval, c.PingTimeout = 300*time.Millisecond, 300*time.Millisecond
	})
	slow := dial(t, s, "sam")
	slow.send("NICK sam")
	slow.expect("ERROR", "no login in time")

	c := dial(t, s, "pat")
	c.register("pw")
	ping := c.expect("PING")
	c.send("PONG :" + ping.Params[0])
	c.expect("PING") // answered, so pinged again after the next silence
	c.expect("ERROR", "no answer to ping")
}

// Someone who shares a channel and goes offline is a QUIT, with the
// reason an IRC user gave; one who comes back is a JOIN again.
func TestQuitAndReturn(t *testing.T) {
	s := start(t, nil)
	a, b := dial(t, s, "quinn"), dial(t, s, "rosa")
	a.register("pw")
	b.register("pw")
	a.send("JOIN #den")
	a.expect("366")
	b.send("JOIN #den")
	b.expect("366")
	a.expect("JOIN", "#den")
	carol := dialNDJSON(t, s, "carol")
	carol.do(&protocol.Frame{Type: protocol.TypeJoin, Room: "den"})
	a.expect("JOIN", "#den")

	b.send("QUIT :off to bed")
	b.expect("ERROR")
	if m := a.expect("QUIT"); m.Nick() != "rosa" || m.Params[0] != "Quit: off to bed" {
		t.Errorf("quit %+v", m)
	}
	carol.c.Close()
	if m := a.expect("QUIT"); m.Nick() != "carol" || m.Params[0] != "Offline" {
		t.Errorf("quit %+v", m)
	}
	// rosa is still a member, offline: her next login shows her joining.
	b2 := dial(t, s, "rosa")
	b2.register("pw")
	if m := a.expect("JOIN", "#den"); m.Nick() != "rosa" {
		t.Errorf("rejoin %+v", m)
	}
	b2.expect("JOIN", "#den") // the rooms she belongs to are shown at login
}

package irc

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ergochat/irc-go/ircmsg"

	"github.com/parley-chat/parley/shared/protocol"
)

// registration is what a connection said before it was welcomed.
type registration struct {
	pass      string
	passGiven bool
	nick      string
	user      bool
	username  string
	realname  string
	capBusy   bool // CAP LS or REQ began a negotiation that CAP END ends
	cap302    bool
	saslMech  string       // AUTHENTICATE's mechanism while an exchange runs
	saslBuf   bytes.Buffer // its payload so far
	saslDone  bool         // logged in with SASL
	guest     bool         // logged in as a guest, without a password
	loggedIn  *protocol.Frame
	welcomed  bool
}

// capList is the capabilities the server offers, in CAP LS's order.
var capList = []string{"away-notify", "batch", "cap-notify", "draft/message-redaction", "echo-message",
	"labeled-response", "message-tags", "multi-prefix", "sasl", "server-time", "userhost-in-names"}

func (c *conn) capEnabled(name string) *bool {
	switch name {
	case "server-time":
		return &c.caps.serverTime
	case "message-tags":
		return &c.caps.messageTags
	case "echo-message":
		return &c.caps.echo
	case "batch":
		return &c.caps.batch
	case "draft/message-redaction":
		return &c.caps.redaction
	case "away-notify":
		return &c.caps.awayNotify
	case "sasl":
		return &c.caps.sasl
	case "cap-notify":
		return &c.caps.capNotify
	case "multi-prefix":
		return &c.caps.multiPrefix
	case "userhost-in-names":
		return &c.caps.userhostInNames
	case "labeled-response":
		return &c.caps.labeledResponse
	}
	return nil
}

// capCmd handles CAP: LS, LIST, REQ and END.
func (c *conn) capCmd(m *ircmsg.Message) bool {
	if len(m.Params) < 1 {
		c.numeric("461", "CAP", "Not enough parameters")
		return true
	}
	nick := c.curNick()
	switch strings.ToUpper(m.Params[0]) {
	case "LS":
		if !c.reg.welcomed {
			c.reg.capBusy = true
		}
		if len(m.Params) > 1 {
			if v, err := strconv.Atoi(m.Params[1]); err == nil && v >= 302 {
				c.reg.cap302 = true
				c.mu.Lock()
				c.caps.capNotify = true
				c.mu.Unlock()
			}
		}
		var l []string
		for _, name := range capList {
			if name == "sasl" && c.reg.cap302 {
				name = "sasl=PLAIN"
			}
			l = append(l, name)
		}
		c.send(c.srv.cfg.ServerName, "CAP", nick, "LS", strings.Join(l, " "))
	case "LIST":
		var l []string
		c.mu.Lock()
		for _, name := range capList {
			if p := c.capEnabled(name); p != nil && *p {
				l = append(l, name)
			}
		}
		c.mu.Unlock()
		c.send(c.srv.cfg.ServerName, "CAP", nick, "LIST", strings.Join(l, " "))
	case "REQ":
		if !c.reg.welcomed {
			c.reg.capBusy = true
		}
		if len(m.Params) < 2 {
			c.numeric("461", "CAP", "Not enough parameters")
			return true
		}
		req := strings.Fields(m.Params[1])
		ok := len(req) > 0
		for _, r := range req {
			if c.capEnabled(strings.TrimPrefix(r, "-")) == nil {
				ok = false
			}
			if r == "-cap-notify" && c.reg.cap302 {
				ok = false // implied by 302, cannot be disabled
			}
		}
		if !ok {
			c.send(c.srv.cfg.ServerName, "CAP", nick, "NAK", m.Params[1])
			return true
		}
		c.mu.Lock()
		for _, r := range req {
			*c.capEnabled(strings.TrimPrefix(r, "-")) = !strings.HasPrefix(r, "-")
		}
		c.mu.Unlock()
		c.send(c.srv.cfg.ServerName, "CAP", nick, "ACK", m.Params[1])
	case "END":
		if !c.reg.welcomed {
			c.reg.capBusy = false
			return c.tryRegister()
		}
	default:
		c.numeric("410", m.Params[0], "Invalid CAP command")
	}
	return true
}

// preWelcome handles a command before the welcome: registration's, or
// ERR_NOTREGISTERED.
func (c *conn) preWelcome(m *ircmsg.Message) bool {
	switch m.Command {
	case "CAP":
		return c.capCmd(m)
	case "PASS":
		if len(m.Params) < 1 {
			c.numeric("461", "PASS", "Not enough parameters")
			return true
		}
		c.reg.pass, c.reg.passGiven = m.Params[0], true
	case "NICK":
		if len(m.Params) < 1 || m.Params[0] == "" {
			c.numeric("431", "No nickname given")
			return true
		}
		if why := badNick(m.Params[0]); why != "" {
			c.numeric("432", m.Params[0], "Erroneous nickname: "+why)
			return true
		}
		c.reg.nick = m.Params[0]
		return c.tryRegister()
	case "USER":
		if len(m.Params) < 4 || m.Params[0] == "" || m.Params[3] == "" {
			c.numeric("461", "USER", "Not enough parameters")
			return true
		}
		c.reg.user = true
		c.reg.username, c.reg.realname = m.Params[0], m.Params[3]
		return c.tryRegister()
	case "AUTHENTICATE":
		return c.authenticate(m)
	case "PING":
		if len(m.Params) < 1 {
			c.numeric("461", "PING", "Not enough parameters")
			return true
		}
		c.send(c.srv.cfg.ServerName, "PONG", c.srv.cfg.ServerName, m.Params[0])
	case "PONG":
	case "QUIT":
		c.Close(protocol.CodeQuit, "Quit: "+quitReason(m))
		return false
	default:
		c.numeric("451", "You have not registered")
	}
	return true
}

func quitReason(m *ircmsg.Message) string {
	if len(m.Params) > 0 && m.Params[0] != "" {
		return m.Params[0]
	}
	return "Client quit"
}

// badNick says why s cannot be an IRC nick, or "".
func badNick(s string) string {
	if strings.ContainsAny(s, " ,*?!@.") || strings.HasPrefix(s, "#") || strings.HasPrefix(s, ":") ||
		strings.HasPrefix(s, "$") || strings.HasPrefix(s, "&") {
		return "a nick has no spaces, commas, * ? ! @ or dots, and does not start with # : $ or &"
	}
	if _, perr := protocol.ParseName(s); perr != nil {
		return perr.Message
	}
	return ""
}

// authenticate runs SASL PLAIN (RFC 4616) over AUTHENTICATE: the
// authentication identity and password are the Parley account's, and the
// first login of a name registers it, as elsewhere.
func (c *conn) authenticate(m *ircmsg.Message) bool {
	nick := c.curNick()
	c.mu.Lock()
	enabled := c.caps.sasl
	c.mu.Unlock()
	switch {
	case len(m.Params) < 1:
		c.numeric("461", "AUTHENTICATE", "Not enough parameters")
		return true
	case !enabled:
		c.numeric("904", "SASL authentication failed: request the sasl capability first")
		return true
	case c.reg.saslDone:
		c.numeric("907", "You have already authenticated using SASL")
		return true
	}
	p := m.Params[0]
	if c.reg.saslMech == "" {
		if p == "*" {
			c.numeric("906", "SASL authentication aborted")
			return true
		}
		if strings.ToUpper(p) != "PLAIN" {
			c.send(c.srv.cfg.ServerName, "908", nick, "PLAIN", "are available SASL mechanisms")
			c.numeric("904", "SASL authentication failed: only PLAIN is offered")
			return true
		}
		c.reg.saslMech = "PLAIN"
		c.reg.saslBuf.Reset()
		c.send("", "AUTHENTICATE", "+")
		return true
	}
	if p == "*" {
		c.reg.saslMech = ""
		c.numeric("906", "SASL authentication aborted")
		return true
	}
	if p != "+" {
		c.reg.saslBuf.WriteString(p)
	}
	if len(p) > 400 {
		c.reg.saslMech = ""
		c.numeric("905", "SASL message too long: send it in chunks of 400 bytes")
		return true
	}
	if c.reg.saslBuf.Len() > 4096 {
		c.reg.saslMech = ""
		c.numeric("904", "SASL authentication failed: the response is too long")
		return true
	}
	if len(p) == 400 {
		return true // more to come
	}
	c.reg.saslMech = ""
	raw, err := base64.StdEncoding.DecodeString(c.reg.saslBuf.String())
	parts := strings.Split(string(raw), "\x00")
	if err != nil || len(parts) != 3 || parts[1] == "" {
		c.numeric("904", "SASL authentication failed: PLAIN wants base64 of authzid NUL name NUL password")
		return true
	}
	if parts[0] != "" && parts[0] != parts[1] {
		c.numeric("904", "SASL authentication failed: you can only log in as yourself")
		return true
	}
	ok, goOn := c.login(parts[1], parts[2], true)
	if !goOn {
		return false
	}
	if ok {
		c.reg.saslDone = true
		acct := c.loginName()
		c.numeric("900", c.curNick()+"!"+acct+userHost, acct, "You are now logged in as "+acct)
		c.numeric("903", "SASL authentication successful")
	}
	return true
}

// login logs in as name with password; sasl says whether SASL asked, which
// decides the numerics of a refusal. It reports whether the login
// succeeded, and whether the connection goes on.
func (c *conn) login(name, password string, sasl bool) (ok, goOn bool) {
	r, goOn := c.loginRequest(name, password, false)
	if !goOn {
		return false, false
	}
	if r.Type == protocol.TypeOK {
		c.reg.loggedIn = r
		c.mu.Lock()
		c.nick = r.Name
		c.mu.Unlock()
		c.srv.noteNick(r.Name, r.Nick)
		return true, true
	}
	switch {
	case sasl:
		c.numeric("904", "SASL authentication failed: "+r.Message)
	case r.Code == protocol.CodeBadName:
		c.numeric("432", name, "Erroneous nickname: "+r.Message)
	case r.Code == protocol.CodeBadCredentials:
		c.numeric("464", "Password incorrect: "+r.Message)
		c.Close(r.Code, "Password incorrect")
		return false, false
	default:
		c.notice(r.Message)
		c.Close(r.Code, r.Message)
		return false, false
	}
	return false, true
}

// loginRequest asks the session to log in. A login the server is too
// busy for just now (a wave of logins waiting for password checks) is
// tried again after the wait the refusal says, a few times: an IRC
// client would not know to.
func (c *conn) loginRequest(name, password string, noTakeover bool) (*protocol.Frame, bool) {
	for attempt := 0; ; attempt++ {
		r, ok := c.request(&protocol.Frame{Type: protocol.TypeLogin, Name: name, Password: password, NoTakeover: noTakeover})
		if !ok || r.Type == protocol.TypeOK || r.Code != protocol.CodeBusy || attempt == 5 {
			return r, ok
		}
		wait := time.Duration(max(r.RetryMS, 50)) * time.Millisecond
		t := time.NewTimer(min(wait, 5*time.Second))
		select {
		case <-t.C:
		case <-c.ended:
			t.Stop()
			return nil, false
		}
	}
}

// tryRegister logs in and welcomes the client once it has said NICK and
// USER and ended any capability negotiation.
func (c *conn) tryRegister() bool {
	g := &c.reg
	if g.welcomed || g.nick == "" || !g.user || g.capBusy {
		return true
	}
	cfg := &c.srv.cfg
	if g.loggedIn == nil {
		switch {
		case cfg.Guests && (cfg.GuestPassword != "" || !g.passGiven):
			if cfg.GuestPassword != "" && g.pass != cfg.GuestPassword {
				c.numeric("464", "Password incorrect: this server wants its guest password with PASS")
				c.Close(protocol.CodeBadCredentials, "Password incorrect")
				return false
			}
			n, _ := protocol.ParseName(g.nick)
			if cfg.Online != nil && cfg.Online(g.nick) {
				c.numeric("433", g.nick, "Nickname is already in use")
				return true
			}
			// A guest never takes a nick over: two connections that
			// register the same nick at once get 001 and 433.
			r, goOn := c.loginRequest(g.nick, c.srv.guestPassword(n.Key), true)
			if !goOn {
				return false
			}
			if r.Type != protocol.TypeOK {
				if r.Code == protocol.CodeNameTaken {
					c.numeric("433", g.nick, "Nickname is already in use")
				} else if r.Code == protocol.CodeBadCredentials {
					c.numeric("433", g.nick, "Nickname is a registered account: log in with SASL or PASS")
				} else {
					c.numeric("432", g.nick, "Cannot use that nick: "+r.Message)
				}
				return true
			}
			g.loggedIn = r
			g.guest = true
			c.mu.Lock()
			c.nick = r.Name
			c.mu.Unlock()
			c.srv.noteNick(r.Name, r.Nick)
		case !g.passGiven:
			c.numeric("464", "Password required: send your Parley password with PASS, or log in with SASL PLAIN; the first login of a name registers it")
			c.Close(protocol.CodeBadCredentials, "Password required")
			return false
		default:
			ok, goOn := c.login(g.nick, g.pass, false)
			if !goOn || !ok {
				return goOn
			}
		}
	}
	if !c.askedNick() {
		return false
	}
	return c.welcome()
}

// askedNick makes the NICK the client registered with the account's
// Parley nick, when it is not the login name: a SASL login as one
// account under another nick. A nick that cannot be had (someone
// else's name or nick) leaves the account's, with a notice saying why;
// the welcome then tells the client its nick. It reports whether the
// connection goes on.
func (c *conn) askedNick() bool {
	g := &c.reg
	want, perr := protocol.ParseName(g.nick)
	acct, _ := protocol.ParseName(c.loginName())
	if perr != nil || want.Key == acct.Key {
		return true
	}
	r, ok := c.request(&protocol.Frame{Type: protocol.TypeNick, Nick: g.nick})
	if !ok {
		return false
	}
	if r.Type == protocol.TypeOK {
		c.srv.noteNick(r.Name, r.Nick)
		return true
	}
	c.notice("You are logged in as " + acct.Display + ", but cannot be " + g.nick + ": " + r.Message)
	return true
}

// welcome sends the registration burst, shows the rooms the account is
// in, and then what came meanwhile.
func (c *conn) welcome() bool {
	g := &c.reg
	g.welcomed = true
	g.pass = ""
	login := c.loginName()
	nick := c.srv.shown(login)
	c.mu.Lock()
	c.told = nick
	c.mu.Unlock()
	c.srv.setIdent(login, ident{user: "~" + g.username, host: "parley", real: g.realname, guest: g.guest, c: c})
	name := c.srv.cfg.ServerName
	c.numeric("001", fmt.Sprintf("Welcome to Parley, %s", c.srv.src(login)))
	c.numeric("002", fmt.Sprintf("Your host is %s, running Parley", name))
	c.numeric("003", "This server speaks Parley's rooms and private messages over IRC")
	c.numeric("004", name, "parley", "io", "ostv")
	for i := 0; i < len(c.srv.isupport); i += 12 {
		toks := c.srv.isupport[i:min(i+12, len(c.srv.isupport))]
		c.numeric("005", append(append([]string{}, toks...), "are supported by this server")...)
	}
	c.motd()
	if g.nick != nick {
		// The account's Parley nick (or its name) is the nick: tell a
		// client that asked for another spelling, or for a nick it
		// could not have.
		c.send(g.nick+"!"+login+userHost, "NICK", nick)
	}
	var rooms []protocol.RoomInfo
	if g.loggedIn != nil {
		rooms = g.loggedIn.Rooms
	}
	c.mu.Lock()
	c.registered = true
	held := c.preReg
	c.preReg = nil
	c.mu.Unlock()
	// Show the rooms the account belongs to (but the lobby, which is
	// everyone's: /join #lobby shows it), then what the login sent.
	for _, r := range rooms {
		if r.Name == protocol.Lobby {
			continue
		}
		if !c.showRoom(r.Name, r.Topic, "", 0, r.Owner) {
			return false
		}
	}
	c.mu.Lock()
	for _, ev := range held {
		c.eventLocked(ev)
	}
	c.flushLocked()
	c.mu.Unlock()
	return true
}

func (c *conn) motd() {
	m := c.srv.cfg.MOTD
	if len(m) == 0 {
		c.numeric("422", "MOTD File is missing")
		return
	}
	c.numeric("375", "- "+c.srv.cfg.ServerName+" Message of the day -")
	for _, l := range m {
		c.numeric("372", "- "+l)
	}
	c.numeric("376", "End of /MOTD command.")
}

// isupport is the RPL_ISUPPORT tokens.
func isupport(l protocol.Limits) []string {
	text := l.Text
	if text == 0 {
		text = protocol.MaxTextBytes
	}
	return []string{
		"AWAYLEN=200",
		"CASEMAPPING=rfc8265", // PRECIS UsernameCaseMapped, Parley's name rule
		"CHANLIMIT=#:",
		"CHANMODES=,,,st", // secret, topic lock; ban lists come from KICK
		"CHANNELLEN=" + strconv.Itoa(protocol.MaxNameRunes*4+1),
		"CHANTYPES=#",
		"KICKLEN=390",
		"MAXTARGETS=4",
		"MODES=4",
		"NETWORK=Parley",
		"NICKLEN=" + strconv.Itoa(protocol.MaxNameRunes*4),
		"PREFIX=(ov)@+", // operators, the owner among them, and voice
		"TARGMAX=JOIN:,KICK:4,NAMES:4,NOTICE:4,PART:,PRIVMSG:4,WHOIS:1",
		"TOPICLEN=" + strconv.Itoa(protocol.MaxTopicBytes),
		"UTF8ONLY",
		"WHOX",
	}
}

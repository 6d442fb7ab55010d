package irc

import (
	"bytes"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ergochat/irc-go/ircfmt"
	"github.com/ergochat/irc-go/ircmsg"

	"github.com/parley-chat/parley/chatserver/event"
	"github.com/parley-chat/parley/shared/protocol"
)

// curNick is the client's nick: the one it was told (the account's
// Parley nick, or its login name) once welcomed, the NICK it asked for
// before, or "*".
func (c *conn) curNick() string {
	if !c.reg.welcomed {
		if c.reg.nick != "" {
			return c.reg.nick
		}
		return "*"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.told
}

// loginName is the account's login name, or "*" before the login.
func (c *conn) loginName() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nick
}

// selfSrcLocked is the client's own source: its nick, with the login
// name as the user part.
func (c *conn) selfSrcLocked() string { return c.told + "!" + c.nick + userHost }

// send queues one line and flushes it.
func (c *conn) send(src, cmd string, params ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.out = appendLine(c.out, src, cmd, params...)
	c.flushLocked()
}

// numeric sends a numeric reply to the client.
func (c *conn) numeric(code string, params ...string) {
	c.send(c.srv.cfg.ServerName, code, append([]string{c.curNick()}, params...)...)
}

func (c *conn) notice(text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.noticeLocked(text)
	c.flushLocked()
}

func (c *conn) noticeLocked(text string) {
	if c.closed {
		return
	}
	c.out = appendLine(c.out, c.srv.cfg.ServerName, "NOTICE", c.told, text)
}

// command handles one parsed line. It reports false when the connection
// is to end.
func (c *conn) command(m *ircmsg.Message) bool {
	m.Command = strings.ToUpper(m.Command)
	if !c.reg.welcomed {
		return c.preWelcome(m)
	}
	need := map[string]int{"JOIN": 1, "PART": 1, "PRIVMSG": 1, "NOTICE": 1, "KICK": 2, "TOPIC": 1, "MODE": 1,
		"WHOIS": 1, "PING": 1, "NICK": 1, "REDACT": 2, "OPER": 2}
	if n, ok := need[m.Command]; ok && len(m.Params) < n {
		if m.Command == "PRIVMSG" || m.Command == "NOTICE" {
			c.numeric("411", "No recipient given ("+m.Command+")")
		} else if m.Command == "NICK" {
			c.numeric("431", "No nickname given")
		} else {
			c.numeric("461", m.Command, "Not enough parameters")
		}
		return true
	}
	switch m.Command {
	case "PING":
		c.send(c.srv.cfg.ServerName, "PONG", c.srv.cfg.ServerName, m.Params[0])
	case "PONG":
	case "QUIT":
		c.srv.noteQuit(c.loginName(), quitReason(m))
		c.request(&protocol.Frame{Type: protocol.TypeQuit})
		c.Close(protocol.CodeQuit, "Quit: "+quitReason(m))
		return false
	case "JOIN":
		if m.Params[0] == "0" {
			return c.partAll()
		}
		for _, t := range strings.Split(m.Params[0], ",") {
			if t == "" {
				continue
			}
			if !c.join(t) {
				return false
			}
		}
	case "PART":
		reason := ""
		if len(m.Params) > 1 {
			reason = ircfmt.Strip(m.Params[1])
		}
		for _, t := range strings.Split(m.Params[0], ",") {
			if t != "" && !c.part(t, reason) {
				return false
			}
		}
	case "PRIVMSG", "NOTICE":
		return c.privmsg(m)
	case "TAGMSG":
		return c.tagmsg(m)
	case "NAMES":
		if len(m.Params) == 0 {
			c.numeric("366", "*", "End of /NAMES list")
			return true
		}
		targets := strings.Split(m.Params[0], ",")
		for _, t := range targets {
			if !c.names(t, len(targets) == 1) {
				return false
			}
		}
		if len(targets) > 1 {
			c.numeric("366", m.Params[0], "End of /NAMES list")
		}
	case "WHO":
		return c.who(m)
	case "WHOIS":
		return c.whois(m)
	case "LIST":
		return c.list(m)
	case "TOPIC":
		return c.topic(m)
	case "KICK":
		return c.kick(m)
	case "AWAY":
		if len(m.Params) == 0 || m.Params[0] == "" {
			c.away = ""
			c.numeric("305", "You are no longer marked as being away")
		} else {
			c.away = ircfmt.Strip(m.Params[0])
			c.numeric("306", "You have been marked as being away")
		}
		c.srv.setAway(c, c.loginName(), c.away)
	case "MOTD":
		c.motd()
	case "MODE":
		return c.mode(m)
	case "OPER":
		return c.operCmd(m)
	case "NICK":
		return c.nickCmd(m.Params[0])
	case "USER", "PASS":
		c.numeric("462", "You may not reregister")
	case "CAP":
		return c.capCmd(m)
	case "AUTHENTICATE":
		// A connection is one Parley session, logged in once: changing
		// accounts means connecting again.
		c.numeric("462", "You may not reregister: this connection is logged in as "+c.curNick()+"; connect again to log in as someone else")
	case "REDACT":
		return c.redact(m)
	case "LUSERS":
		c.numeric("251", "There are users on this server; /who #lobby lists them")
	case "VERSION":
		c.numeric("351", "parley", c.srv.cfg.ServerName, "Parley's IRC door")
	default:
		c.numeric("421", m.Command, "Unknown command")
	}
	return true
}

// errNumeric answers a refused request with the numeric IRC has for it.
func (c *conn) errNumeric(cmd, target string, r *protocol.Frame) {
	switch r.Code {
	case protocol.CodeNoSuchRoom:
		c.numeric("403", target, "No such channel")
	case protocol.CodeNoSuchUser:
		c.numeric("401", target, "No such nick/channel")
	case protocol.CodeNotMember:
		if cmd == "PRIVMSG" || cmd == "NOTICE" {
			c.numeric("404", target, "Cannot send to channel: join it first")
		} else {
			c.numeric("442", target, "You're not on that channel")
		}
	case protocol.CodeNotOwner:
		c.numeric("482", target, "You're not channel operator: "+r.Message)
	case protocol.CodeBanned:
		c.numeric("474", target, "Cannot join channel (+b): "+r.Message)
	case protocol.CodeBadName:
		if strings.HasPrefix(target, "#") {
			c.numeric("479", target, "Illegal channel name: "+r.Message)
		} else {
			c.numeric("401", target, "No such nick/channel: "+r.Message)
		}
	case protocol.CodeRateLimited:
		c.numeric("263", cmd, "Please wait a while and try again: "+r.Message)
	default:
		c.send(c.srv.cfg.ServerName, "FAIL", cmd, strings.ToUpper(r.Code), target, r.Message)
	}
}

// roomOf is the room an IRC channel name means, or "" if it is not a
// channel.
func roomOf(t string) string {
	if len(t) < 2 || t[0] != '#' {
		return ""
	}
	return t[1:]
}

func (c *conn) join(t string) bool {
	room := roomOf(t)
	if room == "" {
		c.numeric("403", t, "No such channel: channels start with #")
		return true
	}
	n, perr := protocol.ParseRoom(room)
	if perr != nil {
		c.numeric("479", t, "Illegal channel name: "+perr.Message)
		return true
	}
	c.mu.Lock()
	for _, ch := range c.channels {
		if roomKey(ch.name) == n.Key {
			c.mu.Unlock()
			return true // already shown: nothing to do, as IRC servers do
		}
	}
	c.joining = n.Key
	c.mu.Unlock()
	r, ok := c.request(&protocol.Frame{Type: protocol.TypeJoin, Room: room})
	if !ok {
		return false
	}
	if r.Type != protocol.TypeOK {
		c.endJoin()
		c.errNumeric("JOIN", t, r)
		return true
	}
	return c.showRoom(r.Room, r.Topic, r.TopicBy, r.TopicTime, r.Owner)
}

// endJoin ends a join that failed, showing what waited for it.
func (c *conn) endJoin() {
	c.mu.Lock()
	held := c.joinHeld
	c.joining, c.joinHeld = "", nil
	for _, ev := range held {
		c.eventLocked(ev)
	}
	c.flushLocked()
	c.mu.Unlock()
}

func roomKey(name string) string {
	n, perr := protocol.ParseRoom(name)
	if perr != nil {
		return name
	}
	return n.Key
}

// showRoom shows the client that it is in room: JOIN, the topic and the
// names, then what happened in the room meanwhile (its history first).
func (c *conn) showRoom(room, topic, topicBy string, topicTime int64, owner string) bool {
	c.mu.Lock()
	if c.joining == "" {
		c.joining = roomKey(room)
	}
	c.mu.Unlock()
	w, ok := c.request(&protocol.Frame{Type: protocol.TypeWho, Room: room})
	if !ok {
		return false
	}
	if w.Type == protocol.TypeOK {
		c.srv.noteMembers(w.Members)
	}
	ch := newChannel(room, w)
	ch.topic, ch.topicBy, ch.topicTime, ch.owner = topic, topicBy, topicTime, owner
	c.mu.Lock()
	ch.members[c.nick] = true
	if c.channels == nil {
		c.channels = map[string]*channel{}
	}
	c.channels[room] = ch
	c.out = appendLine(c.out, c.selfSrcLocked(), "JOIN", "#"+room)
	if topic != "" {
		c.out = appendLine(c.out, c.srv.cfg.ServerName, "332", c.told, "#"+room, topic)
		if topicBy != "" {
			c.out = appendLine(c.out, c.srv.cfg.ServerName, "333", c.told, "#"+room, c.srv.shown(topicBy), strconv.FormatInt(topicTime/1000, 10))
		}
	}
	c.namesLocked(ch, true)
	held := c.joinHeld
	c.joining, c.joinHeld = "", nil
	c.eventsLocked(held, "#"+room)
	c.flushLocked()
	c.mu.Unlock()
	return true
}

// namesLocked appends RPL_NAMREPLY lines for ch's online members,
// operators marked @ and voiced members + (both with multi-prefix), and
// with end RPL_ENDOFNAMES. A secret room's symbol is @, another's =.
func (c *conn) namesLocked(ch *channel, end bool) {
	var names []string
	for name, online := range ch.members {
		if !online {
			continue
		}
		shown := c.srv.shown(name)
		if c.caps.userhostInNames {
			shown = c.srv.src(name)
		}
		names = append(names, ch.prefix(name, c.caps.multiPrefix)+shown)
	}
	sort.Strings(names)
	prefix := len(c.srv.cfg.ServerName) + len(c.told) + len(ch.name) + 20
	symbol := "="
	if ch.secret {
		symbol = "@"
	}
	var line []string
	n := 0
	for _, name := range names {
		if n+len(name)+1+prefix > maxBody && len(line) > 0 {
			c.out = appendLine(c.out, c.srv.cfg.ServerName, "353", c.told, symbol, "#"+ch.name, strings.Join(line, " "))
			line, n = nil, 0
		}
		line = append(line, name)
		n += len(name) + 1
	}
	if len(line) > 0 {
		c.out = appendLine(c.out, c.srv.cfg.ServerName, "353", c.told, symbol, "#"+ch.name, strings.Join(line, " "))
	}
	if end {
		c.out = appendLine(c.out, c.srv.cfg.ServerName, "366", c.told, "#"+ch.name, "End of /NAMES list")
	}
}

// shown returns the channel shown for IRC name t, or nil.
func (c *conn) shownLocked(t string) *channel {
	room := roomOf(t)
	if room == "" {
		return nil
	}
	if ch := c.channels[room]; ch != nil {
		return ch
	}
	k := roomKey(room)
	for _, ch := range c.channels {
		if roomKey(ch.name) == k {
			return ch
		}
	}
	return nil
}

func (c *conn) part(t, reason string) bool {
	c.mu.Lock()
	ch := c.shownLocked(t)
	c.mu.Unlock()
	room := roomOf(t)
	if room == "" {
		c.numeric("403", t, "No such channel")
		return true
	}
	if ch != nil && ch.name == protocol.Lobby {
		// Everyone stays in the lobby; PART only stops showing it.
		c.mu.Lock()
		c.out = appendLine(c.out, c.selfSrcLocked(), "PART", "#"+ch.name, "The lobby stays in your rooms; JOIN #lobby shows it again")
		delete(c.channels, ch.name)
		c.flushLocked()
		c.mu.Unlock()
		return true
	}
	r, ok := c.request(&protocol.Frame{Type: protocol.TypeLeave, Room: room, Text: reason})
	if !ok {
		return false
	}
	if r.Type != protocol.TypeOK {
		c.errNumeric("PART", t, r)
	}
	return true
}

func (c *conn) partAll() bool {
	c.mu.Lock()
	var rooms []string
	for name := range c.channels {
		rooms = append(rooms, "#"+name)
	}
	c.mu.Unlock()
	for _, t := range rooms {
		if !c.part(t, "") {
			return false
		}
	}
	return true
}

func (c *conn) privmsg(m *ircmsg.Message) bool {
	notice := m.Command == "NOTICE"
	if len(m.Params) < 2 || m.Params[1] == "" {
		if !notice {
			c.numeric("412", "No text to send")
		}
		return true
	}
	text := m.Params[1]
	kind := ""
	if notice {
		kind = protocol.KindNotice
	}
	if strings.HasPrefix(text, "\x01") {
		body := strings.TrimSuffix(strings.TrimPrefix(text, "\x01"), "\x01")
		if !strings.HasPrefix(body, "ACTION ") {
			return true // other CTCP queries have nobody to answer them
		}
		text, kind = strings.TrimPrefix(body, "ACTION "), protocol.KindAction
	}
	text = ircfmt.Strip(text)
	// Client-only tags go with the message to IRC clients; +draft/reply
	// is Parley's reply_to.
	tags := m.ClientOnlyTags()
	var replyTo uint64
	if v, ok := tags[tagReply]; ok {
		replyTo, _ = strconv.ParseUint(v, 10, 64)
		delete(tags, tagReply)
	}
	if len(tags) == 0 {
		tags = nil
	}
	targets := strings.Split(m.Params[0], ",")
	if len(targets) > 4 {
		c.numeric("407", m.Params[0], "Too many targets: at most 4")
		return true
	}
	for _, t := range targets {
		if !c.fitsOneLine(m.Command, t, text, kind == protocol.KindAction) {
			// IRCv3 lets a server refuse with ERR_INPUTTOOLONG a line
			// whose last parameter cannot be relayed without truncation
			// once the sender's source is added
			// (https://defs.ircdocs.horse/defs/numerics.html#err-inputtoolong-417).
			// Refused, the sender knows and can send it in pieces;
			// truncated, the end would vanish for every face of Parley,
			// and split, it would reach IRC clients as two messages.
			c.numeric("417", "Input line too long: with your source added, the message to "+t+" would pass IRC's 512 bytes; send it in shorter pieces")
			continue
		}
		f := &protocol.Frame{Type: protocol.TypeSend, Text: text, Kind: kind, ReplyTo: replyTo, ClientTags: tags}
		if strings.HasPrefix(t, "#") {
			f.Room = t[1:]
		} else {
			f.To = t
		}
		r, ok := c.request(f)
		if !ok {
			return false
		}
		if r.Type != protocol.TypeOK && replyTo != 0 && (r.Code == protocol.CodeNoSuchMessage || r.Code == protocol.CodeRecalled) {
			// A reply to a message Parley cannot answer (another
			// conversation's, or gone) is sent as a plain message
			// rather than lost.
			f.ReplyTo = 0
			if r, ok = c.request(f); !ok {
				return false
			}
		}
		if r.Type != protocol.TypeOK && !notice {
			c.errNumeric(m.Command, t, r)
		}
	}
	return true
}

// fitsOneLine reports whether text, sent to target by this client, is
// relayed to IRC in one line of at most 512 bytes without its tags (see
// messageLines, which splits what does not fit).
func (c *conn) fitsOneLine(cmd, target, text string, action bool) bool {
	c.mu.Lock()
	src := c.selfSrcLocked()
	c.mu.Unlock()
	room := maxBody - (1 + len(src) + 1 + len(cmd) + 1 + len(target) + 2 + 2)
	if action {
		room -= len("\x01ACTION \x01")
	}
	return len(text) <= room
}

// names answers NAMES for t; end says whether to end with
// RPL_ENDOFNAMES, which a NAMES of several channels sends once.
func (c *conn) names(t string, end bool) bool {
	c.mu.Lock()
	ch := c.shownLocked(t)
	if ch != nil {
		c.namesLocked(ch, end)
		c.flushLocked()
		c.mu.Unlock()
		return true
	}
	c.mu.Unlock()
	// A room the client is not shown as in: its names, if it exists.
	room := roomOf(t)
	if room != "" {
		w, ok := c.request(&protocol.Frame{Type: protocol.TypeWho, Room: room})
		if !ok {
			return false
		}
		if w.Type == protocol.TypeOK {
			c.srv.noteMembers(w.Members)
			ch := newChannel(w.Room, w)
			c.mu.Lock()
			c.namesLocked(ch, end)
			c.flushLocked()
			c.mu.Unlock()
			return true
		}
	}
	if end {
		c.numeric("366", t, "End of /NAMES list")
	}
	return true
}

// ident is what the server knows of a user for WHO and WHOIS.
func (c *conn) identOf(name string) ident {
	if id, ok := c.srv.ident(name); ok {
		return id
	}
	return ident{user: name, host: "parley", real: name}
}

// whoLine answers WHO for one user: RPL_WHOREPLY, or with WHOX fields
// (IRCv3 WHOX: a % and field letters, then optionally a comma and a
// token) RPL_WHOSPCRPL with those fields in the spec's order. The flags
// are H (here) or G (away), * for a server operator, then the member's
// channel prefix.
func (c *conn) whoLine(channel, name string, serverOp bool, prefix, whox string) {
	id := c.identOf(name)
	flags := "H"
	if id.away != "" {
		flags = "G"
	}
	if serverOp {
		flags += "*"
	}
	flags += prefix
	nick := c.srv.shown(name)
	if whox == "" {
		c.numeric("352", channel, id.user, id.host, c.srv.cfg.ServerName, nick, flags, "0 "+id.real)
		return
	}
	fields, token, _ := strings.Cut(whox, ",")
	account := name
	if id.guest {
		account = "0"
	}
	var params []string
	for _, f := range "tcuihsnfdlaor" {
		if !strings.ContainsRune(fields, f) {
			continue
		}
		switch f {
		case 't':
			params = append(params, token)
		case 'c':
			params = append(params, channel)
		case 'u':
			params = append(params, id.user)
		case 'i':
			params = append(params, "255.255.255.255") // not shown
		case 'h':
			params = append(params, id.host)
		case 's':
			params = append(params, c.srv.cfg.ServerName)
		case 'n':
			params = append(params, nick)
		case 'f':
			params = append(params, flags)
		case 'd':
			params = append(params, "0")
		case 'l':
			params = append(params, "0")
		case 'a':
			params = append(params, account)
		case 'o':
			params = append(params, "n/a")
		case 'r':
			params = append(params, id.real)
		}
	}
	c.numeric("354", params...)
}

func (c *conn) who(m *ircmsg.Message) bool {
	if len(m.Params) == 0 {
		c.numeric("315", "*", "End of WHO list")
		return true
	}
	mask := m.Params[0]
	whox := ""
	if len(m.Params) > 1 {
		if _, x, ok := strings.Cut(m.Params[1], "%"); ok {
			whox = x
			if whox == "" {
				whox = ","
			}
		}
	}
	if room := roomOf(mask); room != "" {
		w, ok := c.request(&protocol.Frame{Type: protocol.TypeWho, Room: room})
		if !ok {
			return false
		}
		if w.Type == protocol.TypeOK {
			c.srv.noteMembers(w.Members)
			ch := newChannel(w.Room, w)
			for _, mb := range w.Members {
				if mb.Online {
					c.whoLine("#"+w.Room, mb.Name, mb.ServerOperator, ch.prefix(mb.Name, c.caps.multiPrefix), whox)
				}
			}
		}
		c.numeric("315", mask, "End of WHO list")
		return true
	}
	// A nick, or a mask with * and ? of nicks, user names, hosts or
	// real names: online users who match.
	w, ok := c.request(&protocol.Frame{Type: protocol.TypeWho, Room: protocol.Lobby})
	if !ok {
		return false
	}
	c.srv.noteMembers(w.Members)
	lmask := strings.ToLower(mask)
	exact := !strings.ContainsAny(mask, "*?")
	for _, mb := range w.Members {
		if !mb.Online {
			continue
		}
		id := c.identOf(mb.Name)
		if id.invisible && !exact && !c.sharesChannel(mb.Name) {
			continue
		}
		for _, s := range []string{c.srv.shown(mb.Name), mb.Name, id.user, id.host, id.real} {
			if glob(lmask, strings.ToLower(s)) {
				c.whoLine("*", mb.Name, mb.ServerOperator, "", whox)
				break
			}
		}
	}
	c.numeric("315", mask, "End of WHO list")
	return true
}

func (c *conn) sharesChannel(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range c.channels {
		if ch.members[name] {
			return true
		}
	}
	return false
}

// glob reports whether s matches pattern, in which * stands for any
// run of characters and ? for one.
func glob(pattern, s string) bool {
	p, t := []rune(pattern), []rune(s)
	pi, ti, star, mark := 0, 0, -1, 0
	for ti < len(t) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == t[ti]):
			pi++
			ti++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, ti
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			ti = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// findUser looks a user up by name in the lobby, which everyone is in.
func (c *conn) findUser(name string) (protocol.MemberInfo, bool, bool) {
	n, perr := protocol.ParseName(name)
	if perr != nil {
		return protocol.MemberInfo{}, false, true
	}
	w, ok := c.request(&protocol.Frame{Type: protocol.TypeWho, Room: protocol.Lobby})
	if !ok {
		return protocol.MemberInfo{}, false, false
	}
	c.srv.noteMembers(w.Members)
	for _, mb := range w.Members {
		if k, _ := protocol.ParseName(mb.Name); k.Key == n.Key {
			return mb, true, true
		}
		if k, perr := protocol.ParseName(mb.Nick); mb.Nick != "" && perr == nil && k.Key == n.Key {
			return mb, true, true
		}
	}
	return protocol.MemberInfo{}, false, true
}

func (c *conn) whois(m *ircmsg.Message) bool {
	nick := m.Params[len(m.Params)-1]
	mb, found, goOn := c.findUser(nick)
	if !goOn {
		return false
	}
	if !found || !mb.Online {
		c.numeric("401", nick, "No such nick/channel")
		c.numeric("318", nick, "End of /WHOIS list")
		return true
	}
	id := c.identOf(mb.Name)
	nick = c.srv.shown(mb.Name)
	c.numeric("311", nick, id.user, id.host, "*", id.real)
	c.mu.Lock()
	var chans []string
	for _, ch := range c.channels {
		if ch.members[mb.Name] {
			// Only channels the asker is in: a secret one stays unknown
			// to others.
			chans = append(chans, ch.prefix(mb.Name, c.caps.multiPrefix)+"#"+ch.name)
		}
	}
	c.mu.Unlock()
	sort.Strings(chans)
	if len(chans) > 0 {
		c.numeric("319", nick, strings.Join(chans, " "))
	}
	c.numeric("312", nick, c.srv.cfg.ServerName, "Parley")
	if id.away != "" {
		c.numeric("301", nick, id.away)
	}
	if mb.ServerOperator {
		c.numeric("313", nick, "is an IRC operator")
	}
	c.numeric("330", nick, mb.Name, "is logged in as")
	c.numeric("318", nick, "End of /WHOIS list")
	return true
}

func (c *conn) list(m *ircmsg.Message) bool {
	r, ok := c.request(&protocol.Frame{Type: protocol.TypeRooms})
	if !ok {
		return false
	}
	var want map[string]bool
	if len(m.Params) > 0 && strings.HasPrefix(m.Params[0], "#") {
		want = map[string]bool{}
		for _, t := range strings.Split(m.Params[0], ",") {
			want[roomKey(strings.TrimPrefix(t, "#"))] = true
		}
	}
	c.numeric("321", "Channel", "Users  Name")
	for _, ri := range r.Rooms {
		if want != nil && !want[roomKey(ri.Name)] {
			continue
		}
		c.numeric("322", "#"+ri.Name, strconv.Itoa(ri.Members), ri.Topic)
	}
	c.numeric("323", "End of /LIST")
	return true
}

func (c *conn) topic(m *ircmsg.Message) bool {
	t := m.Params[0]
	room := roomOf(t)
	if room == "" {
		c.numeric("403", t, "No such channel")
		return true
	}
	if len(m.Params) == 1 {
		c.mu.Lock()
		ch := c.shownLocked(t)
		c.mu.Unlock()
		if ch == nil {
			// Not shown: the room list has the topic, if it exists.
			r, ok := c.request(&protocol.Frame{Type: protocol.TypeRooms})
			if !ok {
				return false
			}
			for _, ri := range r.Rooms {
				if roomKey(ri.Name) == roomKey(room) {
					if ri.Topic == "" {
						c.numeric("331", "#"+ri.Name, "No topic is set")
					} else {
						c.numeric("332", "#"+ri.Name, ri.Topic)
					}
					return true
				}
			}
			c.numeric("403", t, "No such channel")
			return true
		}
		if ch.topic == "" {
			c.numeric("331", "#"+ch.name, "No topic is set")
			return true
		}
		c.numeric("332", "#"+ch.name, ch.topic)
		if ch.topicBy != "" {
			c.numeric("333", "#"+ch.name, c.srv.shown(ch.topicBy), strconv.FormatInt(ch.topicTime/1000, 10))
		}
		return true
	}
	r, ok := c.request(&protocol.Frame{Type: protocol.TypeTopic, Room: room, Text: ircfmt.Strip(m.Params[1])})
	if !ok {
		return false
	}
	if r.Type != protocol.TypeOK {
		c.errNumeric("TOPIC", t, r)
	}
	return true
}

// kick handles KICK: one channel and several nicks, or as many channels
// as nicks, in pairs.
func (c *conn) kick(m *ircmsg.Message) bool {
	chans, nicks := strings.Split(m.Params[0], ","), strings.Split(m.Params[1], ",")
	if len(chans) != 1 && len(chans) != len(nicks) {
		c.numeric("461", "KICK", "Give one channel, or one for each nick")
		return true
	}
	reason := ""
	if len(m.Params) > 2 {
		reason = ircfmt.Strip(m.Params[2])
	}
	for i, nick := range nicks {
		t := chans[0]
		if len(chans) > 1 {
			t = chans[i]
		}
		if !c.kickOne(t, nick, reason) {
			return false
		}
	}
	return true
}

func (c *conn) kickOne(t, nick, reason string) bool {
	room := roomOf(t)
	if room == "" {
		c.numeric("403", t, "No such channel")
		return true
	}
	r, ok := c.request(&protocol.Frame{Type: protocol.TypeKick, Room: room, Name: nick, Text: reason})
	if !ok {
		return false
	}
	if r.Type == protocol.TypeOK {
		return true
	}
	switch r.Code {
	case protocol.CodeNotMember:
		c.mu.Lock()
		in := c.shownLocked(t) != nil
		c.mu.Unlock()
		if in {
			c.numeric("441", nick, t, "They aren't on that channel")
		} else {
			c.numeric("442", t, "You're not on that channel")
		}
	case protocol.CodeLobby:
		c.numeric("482", t, "You're not channel operator: "+r.Message)
	case protocol.CodeBadRequest:
		c.numeric("482", t, r.Message)
	default:
		c.errNumeric("KICK", nick, r)
	}
	return true
}

func (c *conn) mode(m *ircmsg.Message) bool {
	t := m.Params[0]
	if roomOf(t) == "" {
		return c.userMode(m)
	}
	c.mu.Lock()
	ch := c.shownLocked(t)
	var shown *channel
	if ch != nil {
		copied := *ch
		shown = &copied
	}
	c.mu.Unlock()
	if len(m.Params) == 1 {
		if shown == nil {
			w, ok := c.request(&protocol.Frame{Type: protocol.TypeWho, Room: roomOf(t)})
			if !ok {
				return false
			}
			if w.Type != protocol.TypeOK {
				c.errNumeric("MODE", t, w)
				return true
			}
			shown = newChannel(w.Room, w)
		}
		c.numeric("324", "#"+shown.name, shown.modes())
		return true
	}
	return c.setModes(t, m.Params[1], m.Params[2:])
}

// setModes handles MODE #channel with a mode string: s and t are the
// room's settings, o and v members' roles (each taking a nick), and b
// alone asks for the ban list, which KICK fills. Each change is a mode
// request; the room hears what changed in mode events.
func (c *conn) setModes(t, modes string, args []string) bool {
	room := roomOf(t)
	on := true
	settings := &protocol.Frame{Type: protocol.TypeMode, Room: room}
	var roles []*protocol.Frame
	for _, r := range modes {
		v := on
		switch r {
		case '+', '-':
			on = r == '+'
		case 's':
			settings.Secret = &v
		case 't':
			settings.TopicLock = &v
		case 'o', 'v':
			if len(args) == 0 {
				c.numeric("461", "MODE", "Not enough parameters: +"+string(r)+" needs a nick")
				return true
			}
			f := &protocol.Frame{Type: protocol.TypeMode, Room: room, Name: args[0]}
			if r == 'o' {
				f.Operator = &v
			} else {
				f.Voice = &v
			}
			args = args[1:]
			roles = append(roles, f)
		case 'b':
			if len(args) == 0 {
				c.numeric("368", t, "End of channel ban list")
				continue
			}
			c.numeric("472", "b", "is unknown mode char to me: KICK removes and bars a member")
			return true
		default:
			c.numeric("472", string(r), "is unknown mode char to me: Parley's channel modes are s, t, o and v")
			return true
		}
	}
	reqs := roles
	if settings.Secret != nil || settings.TopicLock != nil {
		reqs = append([]*protocol.Frame{settings}, roles...)
	}
	for _, f := range reqs {
		r, ok := c.request(f)
		if !ok {
			return false
		}
		if r.Type == protocol.TypeOK {
			continue
		}
		switch r.Code {
		case protocol.CodeNotMember:
			c.mu.Lock()
			in := c.shownLocked(t) != nil
			c.mu.Unlock()
			if in && f.Name != "" {
				c.numeric("441", f.Name, t, "They aren't on that channel")
			} else {
				c.numeric("442", t, "You're not on that channel")
			}
		case protocol.CodeLobby, protocol.CodeBadRequest:
			c.numeric("482", t, "You're not channel operator: "+r.Message)
		case protocol.CodeNoSuchUser:
			c.numeric("401", f.Name, "No such nick/channel")
		default:
			c.errNumeric("MODE", t, r)
		}
		return true
	}
	return true
}

// userMode handles MODE for the client's own nick: +i (invisible to
// WHO masks), and +o shown for a server operator, which OPER makes.
func (c *conn) userMode(m *ircmsg.Message) bool {
	t := m.Params[0]
	me, _ := protocol.ParseName(c.curNick())
	acct, _ := protocol.ParseName(c.loginName())
	if n, _ := protocol.ParseName(t); n.Key != me.Key && n.Key != acct.Key {
		c.numeric("502", "Can't change mode for other users")
		return true
	}
	if len(m.Params) > 1 {
		switch m.Params[1] {
		case "+i", "-i":
			c.invisible = m.Params[1] == "+i"
			c.srv.setInvisible(c, c.loginName(), c.invisible)
			c.mu.Lock()
			src := c.selfSrcLocked()
			c.mu.Unlock()
			c.send(src, "MODE", c.curNick(), m.Params[1])
		case "+o":
			c.numeric("481", "Permission Denied: OPER makes a server operator")
		default:
			c.numeric("501", "Unknown MODE flag: the user modes are +i (invisible to WHO masks) and +o (server operator, by OPER)")
		}
		return true
	}
	modes := "+"
	if c.invisible {
		modes += "i"
	}
	if c.oper {
		modes += "o"
	}
	c.numeric("221", modes)
	return true
}

// oper handles OPER name password: the session becomes a server
// operator.
func (c *conn) operCmd(m *ircmsg.Message) bool {
	r, ok := c.request(&protocol.Frame{Type: protocol.TypeOper, Name: m.Params[0], Password: m.Params[1]})
	if !ok {
		return false
	}
	if r.Type != protocol.TypeOK {
		c.numeric("464", "Password incorrect")
		return true
	}
	c.oper = true
	c.numeric("381", "You are now an IRC operator")
	c.mu.Lock()
	src := c.selfSrcLocked()
	c.mu.Unlock()
	c.send(src, "MODE", c.curNick(), "+o")
	return true
}

// redact recalls a message: draft/message-redaction's REDACT.
func (c *conn) redact(m *ircmsg.Message) bool {
	id, err := strconv.ParseUint(m.Params[1], 10, 64)
	if err != nil {
		c.send(c.srv.cfg.ServerName, "FAIL", "REDACT", "UNKNOWN_MSGID", m.Params[0], m.Params[1], "No such message")
		return true
	}
	r, ok := c.request(&protocol.Frame{Type: protocol.TypeRecall, Msg: id})
	if !ok {
		return false
	}
	if r.Type != protocol.TypeOK {
		code := "REDACT_FORBIDDEN"
		if r.Code == protocol.CodeNoSuchMessage {
			code = "UNKNOWN_MSGID"
		} else if r.Code == protocol.CodeRecallExpired {
			code = "REDACT_WINDOW_EXPIRED"
		}
		c.send(c.srv.cfg.ServerName, "FAIL", "REDACT", code, m.Params[0], m.Params[1], r.Message)
	}
	return true
}

// eventsLocked shows events that waited for a join; history among them
// goes in a chathistory batch for a client with the batch capability.
func (c *conn) eventsLocked(evs []*event.Event, target string) {
	batch := ""
	for _, ev := range evs {
		if ev.Kind == event.Message && ev.Frame.History && c.caps.batch && batch == "" {
			batch = "h" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
			c.out = appendLine(c.out, c.srv.cfg.ServerName, "BATCH", "+"+batch, "chathistory", target)
		}
		if batch != "" && !(ev.Kind == event.Message && ev.Frame.History) {
			c.out = appendLine(c.out, c.srv.cfg.ServerName, "BATCH", "-"+batch)
			batch = ""
		}
		c.eventInBatch(ev, batch)
	}
	if batch != "" {
		c.out = appendLine(c.out, c.srv.cfg.ServerName, "BATCH", "-"+batch)
	}
}

func (c *conn) eventLocked(ev *event.Event) { c.eventInBatch(ev, "") }

// eventInBatch encodes one event for this connection. What every
// connection gets alike comes from the event's cache; this decides
// whether the client gets it (the channels it is shown, its echoes,
// its capabilities) and tracks the channels' members.
func (c *conn) eventInBatch(ev *event.Event, batch string) {
	f := ev.Frame
	switch ev.Kind {
	case event.Message:
		if f.Room != "" && c.channels[f.Room] == nil || f.Recalled {
			return
		}
		if f.From == c.nick && !f.History {
			if !c.caps.echo {
				return
			}
		}
		c.out = appendFiltered(c.out, ev.Encoded(event.IRC, c.srv.encode), c.caps, batch)
	case event.Edit:
		if f.Room != "" && c.channels[f.Room] == nil {
			return
		}
		c.out = appendFiltered(c.out, ev.Encoded(event.IRC, c.srv.encode), c.caps, batch)
	case event.React:
		if f.Room != "" && c.channels[f.Room] == nil || !c.caps.messageTags {
			return
		}
		if f.From == c.nick && !c.caps.echo {
			return
		}
		c.out = appendFiltered(c.out, ev.Encoded(event.IRC, c.srv.encode), c.caps, batch)
	case event.Recall:
		if f.Room != "" && c.channels[f.Room] == nil || !c.caps.redaction {
			return
		}
		c.out = appendFiltered(c.out, ev.Encoded(event.IRC, c.srv.encode), c.caps, batch)
	case event.Member:
		ch := c.channels[f.Room]
		if ch == nil || f.Action == protocol.ActionJoin && f.Name == c.nick {
			return
		}
		switch f.Action {
		case protocol.ActionJoin:
			ch.members[f.Name] = true
		default:
			delete(ch.members, f.Name)
			delete(ch.ops, f.Name) // roles go with the membership
			delete(ch.voiced, f.Name)
			if f.Name == c.nick {
				delete(c.channels, f.Room)
			}
		}
		c.out = append(c.out, ev.Encoded(event.IRC, c.srv.encode)...)
	case event.Owner:
		ch := c.channels[f.Room]
		if ch == nil || ch.owner == f.Name {
			return // not shown, or shown already (a creator's join)
		}
		ch.owner = f.Name
		c.out = append(c.out, ev.Encoded(event.IRC, c.srv.encode)...)
	case event.Mode:
		ch := c.channels[f.Room]
		if ch == nil {
			return
		}
		if f.Secret != nil {
			ch.secret = *f.Secret
		}
		if f.TopicLock != nil {
			ch.topicLock = *f.TopicLock
		}
		if f.Operator != nil {
			setMember(ch.ops, f.Name, *f.Operator)
		}
		if f.Voice != nil {
			setMember(ch.voiced, f.Name, *f.Voice)
		}
		c.out = append(c.out, ev.Encoded(event.IRC, c.srv.encode)...)
	case event.Topic:
		ch := c.channels[f.Room]
		if ch == nil {
			return
		}
		ch.topic, ch.topicBy, ch.topicTime = f.Text, f.By, f.Time
		c.out = append(c.out, ev.Encoded(event.IRC, c.srv.encode)...)
	case event.Presence:
		var quits []byte // the cached QUIT lines, one per user going offline
		for _, p := range ev.Batch {
			var quit []byte
			if p.Status == protocol.StatusOffline {
				if quits == nil {
					quits = ev.Encoded(event.IRC, c.srv.encode)
				}
				i := bytes.IndexByte(quits, '\n')
				quit, quits = quits[:i+1], quits[i+1:]
			}
			c.presenceLocked(p, quit)
		}
	case event.Ping:
		c.out = append(c.out, ev.Encoded(event.IRC, c.srv.encode)...)
	case event.Nick:
		c.nickLocked(ev)
	case event.Replaced:
		c.noticeLocked(f.Message)
	case event.Welcome, event.Kicked:
		// The handshake's answer means nothing on IRC; a kick is told by
		// the member event, which the kicked user gets too.
	}
}

func setMember(m map[string]bool, name string, on bool) {
	if on {
		m[name] = true
	} else {
		delete(m, name)
	}
}

// presenceLocked turns a user's coming online into JOINs of the
// channels the client shares with them, and their going offline into a
// QUIT: quit, the line encoded once for every connection.
func (c *conn) presenceLocked(p *protocol.Frame, quit []byte) {
	if p.Name == c.nick {
		return
	}
	gone := false
	for _, ch := range c.channels {
		online, member := ch.members[p.Name]
		if !member {
			continue
		}
		switch {
		case p.Status == protocol.StatusOffline && online:
			ch.members[p.Name] = false
			gone = true
		case p.Status == protocol.StatusOnline && !online:
			ch.members[p.Name] = true
			c.out = appendLine(c.out, c.srv.src(p.Name), "JOIN", "#"+ch.name)
		}
	}
	if gone {
		c.out = append(c.out, quit...)
	}
}

// nickCmd handles NICK after the welcome: the nick becomes the account's
// Parley nick, as the other clients show it; the login name itself goes
// back to having none. The nick event that follows tells the client and
// those who share a channel with it.
func (c *conn) nickCmd(want string) bool {
	if why := badNick(want); why != "" {
		c.numeric("432", want, "Erroneous nickname: "+why)
		return true
	}
	if want == c.curNick() {
		return true
	}
	r, ok := c.request(&protocol.Frame{Type: protocol.TypeNick, Nick: want})
	if !ok {
		return false
	}
	if r.Type == protocol.TypeOK {
		return true
	}
	switch r.Code {
	case protocol.CodeNameTaken:
		c.numeric("433", want, "Nickname is already in use: "+r.Message)
	case protocol.CodeBadName:
		c.numeric("432", want, "Erroneous nickname: "+r.Message)
	default:
		c.errNumeric("NICK", want, r)
	}
	return true
}

// nickLocked shows a nick event: to the user it is about as a NICK from
// the nick the client was told, and to the others who share a channel
// with them as the event's cached NICK line.
func (c *conn) nickLocked(ev *event.Event) {
	f := ev.Frame
	line := ev.Encoded(event.IRC, c.srv.encode)
	if f.Name == c.nick {
		shown := f.Nick
		if shown == "" {
			shown = f.Name
		}
		if shown != c.told {
			c.out = appendLine(c.out, c.selfSrcLocked(), "NICK", shown)
			c.told = shown
		}
		return
	}
	if len(line) == 0 {
		return
	}
	for _, ch := range c.channels {
		if _, member := ch.members[f.Name]; member {
			c.out = append(c.out, line...)
			return
		}
	}
}

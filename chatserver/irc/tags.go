package irc

import (
	"strconv"
	"strings"
	"time"

	"github.com/ergochat/irc-go/ircmsg"

	"github.com/parley-chat/parley/chatserver/event"
	"github.com/parley-chat/parley/shared/protocol"
)

// Client-only tags (IRCv3 message-tags: a tag whose name starts with +)
// that mean something in Parley. Sources: the IRCv3 client tag specs
// reply (https://ircv3.net/specs/client-tags/reply), react
// (https://ircv3.net/specs/client-tags/react, with the draft unreact of
// the same family) and typing (https://ircv3.net/specs/client-tags/typing).
const (
	tagReply   = "+draft/reply"   // value: the msgid answered; Parley's reply_to
	tagReact   = "+draft/react"   // on TAGMSG with +draft/reply: a reaction
	tagUnreact = "+draft/unreact" // the reaction taken back
	tagTyping  = "+typing"        // active, paused or done; Parley's typing notice
)

// tagmsg handles TAGMSG: a reaction (+draft/react or +draft/unreact with
// +draft/reply) becomes Parley's react request and a typing notice
// (+typing=active) Parley's typing, which reach every client; any other
// client-only tags are passed on to the IRC clients of the target that
// enabled message-tags, with a msgid of this door's, as IRC servers do:
// Parley's other clients have no use for them.
func (c *conn) tagmsg(m *ircmsg.Message) bool {
	if len(m.Params) < 1 || m.Params[0] == "" {
		c.numeric("411", "No recipient given (TAGMSG)")
		return true
	}
	tags := m.ClientOnlyTags()
	targets := strings.Split(m.Params[0], ",")
	if len(targets) > 4 {
		c.numeric("407", m.Params[0], "Too many targets: at most 4")
		return true
	}
	for _, t := range targets {
		room := roomOf(t)
		emoji, react := tags[tagReact]
		if un, ok := tags[tagUnreact]; ok && !react {
			emoji = un
		}
		switch {
		case emoji != "":
			if !c.reactTag(t, tags[tagReply], emoji, react) {
				return false
			}
		case tags[tagTyping] != "":
			if tags[tagTyping] == "active" {
				// A notice, never answered: the session passes it on.
				f := &protocol.Frame{Type: protocol.TypeTyping, Room: room}
				if room == "" {
					f.To = t
				}
				if !c.s.Request(f) {
					return false
				}
			}
		case len(tags) > 0:
			c.relayTags(t, tags)
		}
	}
	return true
}

// reactTag puts emoji on message msgid (on) or takes it back. Parley's
// react turns a reaction on or off; when the reply says it is not as
// asked (it was already so), the request goes again.
func (c *conn) reactTag(t, msgid, emoji string, on bool) bool {
	id, err := strconv.ParseUint(msgid, 10, 64)
	if err != nil {
		c.send(c.srv.cfg.ServerName, "FAIL", "TAGMSG", "INVALID_REFERENCE", t, "A reaction needs +draft/reply with the msgid of a Parley message")
		return true
	}
	for range 2 {
		r, ok := c.request(&protocol.Frame{Type: protocol.TypeReact, Msg: id, Emoji: emoji})
		if !ok {
			return false
		}
		if r.Type != protocol.TypeOK {
			c.send(c.srv.cfg.ServerName, "FAIL", "TAGMSG", strings.ToUpper(r.Code), t, r.Message)
			return true
		}
		if r.On == on {
			return true
		}
	}
	return true
}

// relayTags passes a TAGMSG's client-only tags to the IRC clients of
// target t (a channel the sender is shown in, or a nick) that enabled
// message-tags, and echoes it to the sender if it asked for echoes.
func (c *conn) relayTags(t string, tags map[string]string) {
	room := roomOf(t)
	c.mu.Lock()
	me, told := c.nick, c.told
	var ch *channel
	if room != "" {
		ch = c.shownLocked(t)
	}
	c.mu.Unlock()
	var want string // the recipient's key, for a nick
	if room != "" {
		if ch == nil {
			c.numeric("404", t, "Cannot send to channel: join it first")
			return
		}
		t = "#" + ch.name
	} else {
		n, perr := protocol.ParseName(t)
		if perr != nil {
			c.numeric("401", t, "No such nick/channel")
			return
		}
		want = n.Key
	}
	all := map[string]string{"msgid": c.srv.tagID(), "time": ircTime(time.Now().UnixMilli())}
	for k, v := range tags {
		all[k] = v
	}
	line := appendTagged(nil, all, told+"!"+me+userHost, "TAGMSG", t)
	for _, o := range c.srv.connList() {
		o.mu.Lock()
		if o.registered && !o.closed && o.caps.messageTags && (o != c || o.caps.echo) {
			to := false
			switch {
			case o == c:
				to = true
			case ch != nil:
				to = o.channels[ch.name] != nil
			default:
				to = nameKey(o.nick) == want || nameKey(o.told) == want
			}
			if to {
				o.out = appendFiltered(o.out, line, o.caps, "")
				o.flushLocked()
			}
		}
		o.mu.Unlock()
	}
}

func nameKey(s string) string {
	n, perr := protocol.ParseName(s)
	if perr != nil {
		return s
	}
	return n.Key
}

// tagID is a msgid for a TAGMSG this door relays: not a Parley message
// id (those are numbers), unique while the server runs.
func (s *Server) tagID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tagSeq++
	return "t" + strconv.FormatUint(s.tagSeq, 10)
}

func (s *Server) connList() []*conn { return s.reg.Conns() }

// Offer queues a typing event if the client keeps up, and drops it
// otherwise: typing is worth nothing late (see hub.Offerer).
func (c *conn) Offer(ev *event.Event) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || !c.registered || !c.caps.messageTags || len(c.out) > 64<<10 {
		return false
	}
	f := ev.Frame
	if f.Room != "" && c.channels[f.Room] == nil {
		return false
	}
	c.out = appendFiltered(c.out, ev.Encoded(event.IRC, c.srv.encode), c.caps, "")
	c.flushLocked()
	return true
}

// encodeTyping is a typing event as TAGMSG +typing=active.
func (s *Server) encodeTyping(f *protocol.Frame) []byte {
	nick := f.Nick
	if nick == "" {
		nick = f.From
	}
	tags := map[string]string{tagTyping: "active", "time": ircTime(time.Now().UnixMilli())}
	return appendTagged(nil, tags, nick+"!"+f.From+userHost, "TAGMSG", s.target(f))
}

// encodeReact is a react event as TAGMSG with +draft/react (or
// +draft/unreact) and +draft/reply naming the message.
func (s *Server) encodeReact(f *protocol.Frame) []byte {
	tags := map[string]string{"time": ircTime(f.Time), "msgid": strconv.FormatUint(f.ID, 10), tagReply: strconv.FormatUint(f.Msg, 10)}
	if f.On {
		tags[tagReact] = f.Emoji
	} else {
		tags[tagUnreact] = f.Emoji
	}
	return appendTagged(nil, tags, s.src(f.From), "TAGMSG", s.target(f))
}

package irc

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ergochat/irc-go/ircmsg"

	"github.com/parley-chat/parley/chatserver/event"
	"github.com/parley-chat/parley/shared/protocol"
)

// maxBody is the most bytes of a line without its tags, CRLF included:
// RFC 1459's 512.
const maxBody = 512

// userHost is the user and host part of every Parley user's source.
const userHost = "@parley"

// appendLine appends one IRC line, serialised by ircmsg, with CRLF.
// Parameters with characters a line cannot hold (CR, LF, NUL) have them
// replaced by spaces: the hub's text never has them, but names of other
// origins are not trusted.
func appendLine(b []byte, src, cmd string, params ...string) []byte {
	return appendTagged(b, nil, src, cmd, params...)
}

func appendTagged(b []byte, tags map[string]string, src, cmd string, params ...string) []byte {
	for i, p := range params {
		if strings.ContainsAny(p, "\r\n\x00") {
			params[i] = strings.Map(func(r rune) rune {
				if r == '\r' || r == '\n' || r == 0 {
					return ' '
				}
				return r
			}, p)
		}
	}
	m := ircmsg.MakeMessage(tags, src, cmd, params...)
	line, err := m.LineBytesStrict(false, 0)
	if err != nil && len(line) == 0 {
		return b // ircmsg refuses only what we never build
	}
	return append(b, line...)
}

// encode is the IRC encoding of an event that is the same for every
// connection that gets it, cached in its IRC slot: messages (with tags
// that each connection cuts to what it enabled, see appendFiltered),
// recalls, membership, ownership and topic changes, and the idle ping.
// Events whose lines depend on the connection return nil.
func (s *Server) encode(ev *event.Event) []byte {
	f := ev.Frame
	switch ev.Kind {
	case event.Message:
		return s.encodeMessage(f)
	case event.Recall:
		tags := map[string]string{"time": ircTime(f.Time), "msgid": strconv.FormatUint(f.ID, 10)}
		return appendTagged(nil, tags, s.src(f.From), "REDACT", s.target(f), strconv.FormatUint(f.Msg, 10))
	case event.Member:
		switch f.Action {
		case protocol.ActionJoin:
			if f.Nick != "" {
				s.noteNick(f.Name, f.Nick)
			}
			return appendLine(nil, s.src(f.Name), "JOIN", "#"+f.Room)
		case protocol.ActionLeave:
			if f.Text == "" {
				return appendLine(nil, s.src(f.Name), "PART", "#"+f.Room)
			}
			return appendLine(nil, s.src(f.Name), "PART", "#"+f.Room, f.Text)
		case protocol.ActionKick:
			reason := f.Text
			if reason == "" {
				reason = s.shown(f.By)
			}
			return appendLine(nil, s.src(f.By), "KICK", "#"+f.Room, s.shown(f.Name), reason)
		}
	case event.Owner:
		return appendLine(nil, s.cfg.ServerName, "MODE", "#"+f.Room, "+o", s.shown(f.Name))
	case event.Topic:
		return appendLine(nil, s.src(f.By), "TOPIC", "#"+f.Room, f.Text)
	case event.Mode:
		return appendLine(nil, s.src(f.By), "MODE", append([]string{"#" + f.Room}, modeParams(f, s.shown(f.Name))...)...)
	case event.Ping:
		return appendLine(nil, "", "PING", s.cfg.ServerName)
	case event.Typing:
		return s.encodeTyping(f)
	case event.React:
		return s.encodeReact(f)
	case event.Edit:
		// An edit arrives as a message with the new text, marked so,
		// with its own msgid and +draft/reply naming the message edited.
		g := *f
		g.ReplyTo, g.ClientTags, g.Kind = f.Msg, nil, ""
		return s.messageLines(&g, "PRIVMSG", "(edited) "+f.Text)
	case event.Nick:
		// Encoded once, when the hub hands the event to the first IRC
		// connection (see conn.Queue): the nick the user had is what
		// the door knew until then.
		old := s.noteNick(f.Name, f.Nick)
		shown := f.Nick
		if shown == "" {
			shown = f.Name
		}
		if old == shown {
			return []byte{}
		}
		return appendLine(nil, old+"!"+f.Name+userHost, "NICK", shown)
	case event.Presence:
		// One QUIT line for each user going offline, in the batch's
		// order; each connection picks those it shares a channel with
		// (see presenceLocked).
		var b []byte
		for _, p := range ev.Batch {
			if p.Status == protocol.StatusOffline {
				b = appendLine(b, s.src(p.Name), "QUIT", s.quitReason(p.Name))
			}
		}
		return b
	}
	return nil
}

// modeParams are the mode string and arguments of a mode event: what it
// changed, in the order s, t, o, v; nick is the member's shown name.
func modeParams(f *protocol.Frame, nick string) []string {
	var b strings.Builder
	var args []string
	sign := byte(0)
	add := func(v *bool, letter byte, arg string) {
		if v == nil {
			return
		}
		want := byte('-')
		if *v {
			want = '+'
		}
		if want != sign {
			b.WriteByte(want)
			sign = want
		}
		b.WriteByte(letter)
		if arg != "" {
			args = append(args, arg)
		}
	}
	add(f.Secret, 's', "")
	add(f.TopicLock, 't', "")
	add(f.Operator, 'o', nick)
	add(f.Voice, 'v', nick)
	return append([]string{b.String()}, args...)
}

// target is a message's IRC target: #room, or the recipient's nick.
func (s *Server) target(f *protocol.Frame) string {
	if f.Room != "" {
		return "#" + f.Room
	}
	return s.shown(f.To)
}

func ircTime(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
}

// encodeMessage encodes a message as PRIVMSG lines: one per line of its
// text, each split on UTF-8 boundaries to fit IRC's 512 bytes. A file
// message is its text, if any, and the file's name, size and URL.
func (s *Server) encodeMessage(f *protocol.Frame) []byte {
	text := f.Text
	if f.Kind == protocol.KindFile && f.File != nil {
		desc := fmt.Sprintf("[file] %s (%s) %s", f.File.Name, size(f.File.Size), s.fileURL(f.File))
		if text != "" {
			text += "\n" + desc
		} else {
			text = desc
		}
	}
	cmd := "PRIVMSG"
	if f.Kind == protocol.KindNotice {
		cmd = "NOTICE"
	}
	return s.messageLines(f, cmd, text)
}

// messageLines encodes a message's text as cmd lines. The tags are the
// time, the msgid, +draft/reply for a reply, and the client-only tags it
// came with from IRC; an action is a CTCP ACTION on each line.
func (s *Server) messageLines(f *protocol.Frame, cmd, text string) []byte {
	tags := map[string]string{"time": ircTime(f.Time), "msgid": strconv.FormatUint(f.ID, 10)}
	for k, v := range f.ClientTags {
		tags[k] = v
	}
	if f.ReplyTo != 0 {
		tags[tagReply] = strconv.FormatUint(f.ReplyTo, 10)
	}
	action := f.Kind == protocol.KindAction
	nick := f.Nick
	if nick == "" {
		nick = f.From
	}
	src, tgt := nick+"!"+f.From+userHost, s.target(f)
	// ":" src " " cmd " " tgt " :" text CRLF
	room := maxBody - (1 + len(src) + 1 + len(cmd) + 1 + len(tgt) + 2 + 2)
	if action {
		room -= len("\x01ACTION \x01")
	}
	var b []byte
	for _, l := range splitText(text, room) {
		if action {
			l = "\x01ACTION " + l + "\x01"
		}
		n := len(b)
		if b = appendTagged(b, tags, src, cmd, tgt, l); len(b) == n && len(f.ClientTags) > 0 {
			// Client-only tags over the 4094 bytes IRC allows them
			// (with +draft/reply): the message goes without them.
			tags = map[string]string{"time": tags["time"], "msgid": tags["msgid"]}
			if f.ReplyTo != 0 {
				tags[tagReply] = strconv.FormatUint(f.ReplyTo, 10)
			}
			b = appendTagged(b, tags, src, cmd, tgt, l)
		}
	}
	return b
}

// splitText splits text into lines (at LF, CRLF or CR) of at most max
// bytes, cutting long ones on UTF-8 boundaries; an empty line becomes
// one space, which IRC can carry.
func splitText(text string, max int) []string {
	max = maxInt(max, utf8.UTFMax)
	var out []string
	for _, l := range strings.FieldsFunc(strings.ReplaceAll(text, "\r\n", "\n"), func(r rune) bool { return r == '\n' || r == '\r' }) {
		for len(l) > max {
			cut := max
			for cut > 0 && !utf8.RuneStart(l[cut]) {
				cut--
			}
			out = append(out, l[:cut])
			l = l[cut:]
		}
		if l != "" {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		out = append(out, " ")
	}
	return out
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// fileURL is where a file message's file can be fetched.
func (s *Server) fileURL(f *protocol.File) string {
	p := strings.TrimPrefix(f.Path, "/")
	var esc []string
	for _, seg := range strings.Split(p, "/") {
		esc = append(esc, pathEscape(seg))
	}
	base := strings.TrimSuffix(s.cfg.FilesURL, "/")
	if base == "" {
		return "/files/" + strings.Join(esc, "/")
	}
	return base + "/files/" + strings.Join(esc, "/")
}

func pathEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0 || c >= 0x80 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// appendFiltered appends encoded lines, cutting each line's tags to what
// the connection enabled: time with server-time, the rest (msgid) with
// message-tags; batch, if not empty, adds the batch tag. The cached
// bytes are shared and are only copied.
func appendFiltered(out, lines []byte, cp caps, batch string) []byte {
	for len(lines) > 0 {
		i := bytes.IndexByte(lines, '\n')
		line := lines[:i+1]
		lines = lines[i+1:]
		n := 0
		if batch != "" {
			out = append(out, "@batch="...)
			out = append(out, batch...)
			n++
		}
		if line[0] != '@' {
			if n > 0 {
				out = append(out, ' ')
			}
			out = append(out, line...)
			continue
		}
		sp := bytes.IndexByte(line, ' ')
		tags, rest := line[1:sp], line[sp+1:]
		for len(tags) > 0 {
			var tag []byte
			if j := bytes.IndexByte(tags, ';'); j >= 0 {
				tag, tags = tags[:j], tags[j+1:]
			} else {
				tag, tags = tags, nil
			}
			isTime := bytes.HasPrefix(tag, []byte("time="))
			if isTime && !cp.serverTime || !isTime && !cp.messageTags {
				continue
			}
			if n == 0 {
				out = append(out, '@')
			} else {
				out = append(out, ';')
			}
			out = append(out, tag...)
			n++
		}
		if n > 0 {
			out = append(out, ' ')
		}
		out = append(out, rest...)
	}
	return out
}

// appendLabeled appends resp, the lines answering a command that had
// the label tag, labeled as IRCv3 labeled-response says: no line is an
// ACK with the label, one line gets the label tag, and more go in a
// batch of type labeled-response whose start has the label, each line
// that is in no batch yet joining it (a chathistory batch inside it
// keeps its lines). With batch empty (the client has no batch
// capability), the lines go as they are, the first one labeled.
func appendLabeled(out, resp []byte, label, server, batch string) []byte {
	tags := map[string]string{"label": label}
	if len(resp) == 0 {
		return appendTagged(out, tags, server, "ACK")
	}
	n := bytes.Count(resp, []byte{'\n'})
	if n == 1 || batch == "" {
		i := bytes.IndexByte(resp, '\n')
		out = appendTag(out, resp[:i+1], "label", label)
		return append(out, resp[i+1:]...)
	}
	out = appendTagged(out, tags, server, "BATCH", "+"+batch, "labeled-response")
	for len(resp) > 0 {
		i := bytes.IndexByte(resp, '\n')
		line := resp[:i+1]
		resp = resp[i+1:]
		if hasTag(line, "batch") {
			out = append(out, line...)
		} else {
			out = appendTag(out, line, "batch", batch)
		}
	}
	return appendLine(out, server, "BATCH", "-"+batch)
}

// hasTag reports whether the encoded line has the tag name.
func hasTag(line []byte, name string) bool {
	if len(line) == 0 || line[0] != '@' {
		return false
	}
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return false
	}
	for _, t := range bytes.Split(line[1:sp], []byte{';'}) {
		k, _, _ := bytes.Cut(t, []byte{'='})
		if string(k) == name {
			return true
		}
	}
	return false
}

// appendTag appends the encoded line with the tag name=value added
// first among its tags.
func appendTag(out, line []byte, name, value string) []byte {
	out = append(out, '@')
	out = append(out, name...)
	out = append(out, '=')
	out = append(out, ircmsg.EscapeTagValue(value)...)
	if len(line) > 0 && line[0] == '@' {
		out = append(out, ';')
		return append(out, line[1:]...)
	}
	out = append(out, ' ')
	return append(out, line...)
}

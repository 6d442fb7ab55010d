package irc

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ergochat/irc-go/ircmsg"

	"github.com/parley-chat/parley/shared/protocol"
)

// FuzzParse feeds arbitrary lines to the parser as the reader does: it
// must never panic, must refuse lines over the limits without parsing
// them, and what it parses must survive being written back out by
// appendLine and parsed again.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"NICK alice", "USER a 0 * :Alice Liddell", "PRIVMSG #go :hello, world",
		"@+typing=active;label=x TAGMSG #go", ":alice PRIVMSG bob :hi", "CAP REQ :server-time echo-message",
		"AUTHENTICATE AGFsaWNlAHNlc2FtZQ==", "PING :12345", "JOIN #a,#b,#c", "PRIVMSG #go :\x01ACTION waves\x01",
		"@" + strings.Repeat("a", 5000) + " PRIVMSG #x hi", "PRIVMSG #x :" + strings.Repeat("é", 300),
		"", " ", ":", "@", "@ ", "PRIVMSG #go :\x00", "TOPIC #go :", "KICK #go bob :spam and eggs",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		msg, refusal, err := parse(line)
		if refusal != "" {
			return
		}
		if err != nil {
			return
		}
		if msg.Command == "" {
			t.Fatalf("parsed %q with no command", line)
		}
		for _, r := range msg.Command {
			if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
				return // no command of IRC's: the reader answers 421
			}
		}
		out := appendTagged(nil, msg.AllTags(), msg.Source, msg.Command, append([]string(nil), msg.Params...)...)
		if len(out) == 0 {
			return // ircmsg would not write it (a tag it cannot carry)
		}
		again, err := ircmsg.ParseLine(strings.TrimSuffix(string(out), "\r\n"))
		if err != nil {
			t.Fatalf("%q written as %q does not parse: %v", line, out, err)
		}
		if again.Command != msg.Command || len(again.Params) != len(msg.Params) {
			t.Fatalf("%q written as %q parses as %q %q", line, out, again.Command, again.Params)
		}
	})
}

// FuzzSplitText checks the splitting of a message into IRC lines: each
// piece fits, is valid UTF-8 if the text was, has no line break, and
// together they hold the text without its line breaks.
func FuzzSplitText(f *testing.F) {
	f.Add("hello", 20)
	f.Add("line one\nline two\r\nline three\rfour", 8)
	f.Add(strings.Repeat("你好", 200), 10)
	f.Add("", 5)
	f.Add("\n\n", 5)
	f.Fuzz(func(t *testing.T, text string, max int) {
		if max < 1 || max > 4096 {
			return
		}
		pieces := splitText(text, max)
		if len(pieces) == 0 {
			t.Fatal("no pieces")
		}
		var joined strings.Builder
		for _, p := range pieces {
			if len(p) > max && len(p) > utf8.UTFMax {
				t.Fatalf("piece %q is over %d bytes", p, max)
			}
			if strings.ContainsAny(p, "\r\n") {
				t.Fatalf("piece %q has a line break", p)
			}
			if utf8.ValidString(text) && !utf8.ValidString(p) {
				t.Fatalf("piece %q of valid text is not valid UTF-8", p)
			}
			joined.WriteString(p)
		}
		want := strings.NewReplacer("\r", "", "\n", "").Replace(text)
		if got := joined.String(); got != want && !(want == "" && got == " ") {
			t.Fatalf("pieces of %q join to %q", text, got)
		}
	})
}

// The tags a connection gets are those its capabilities allow.
func TestAppendFiltered(t *testing.T) {
	line := []byte("@time=2026-01-01T00:00:00.000Z;msgid=7 :a!a@parley PRIVMSG #go :hi\r\n")
	for _, c := range []struct {
		caps  caps
		batch string
		want  string
	}{
		{caps{}, "", ":a!a@parley PRIVMSG #go :hi\r\n"},
		{caps{serverTime: true}, "", "@time=2026-01-01T00:00:00.000Z :a!a@parley PRIVMSG #go :hi\r\n"},
		{caps{messageTags: true}, "", "@msgid=7 :a!a@parley PRIVMSG #go :hi\r\n"},
		{caps{serverTime: true, messageTags: true}, "b1", "@batch=b1;time=2026-01-01T00:00:00.000Z;msgid=7 :a!a@parley PRIVMSG #go :hi\r\n"},
	} {
		if got := string(appendFiltered(nil, line, c.caps, c.batch)); got != c.want {
			t.Errorf("%+v: got %q, want %q", c.caps, got, c.want)
		}
	}
	if got := string(appendFiltered(nil, []byte(":s PING s\r\n"), caps{}, "b")); got != "@batch=b :s PING s\r\n" {
		t.Errorf("untagged line in a batch: %q", got)
	}
}

// FuzzMessageLines encodes messages with client-only tags, replies and
// actions as the door sends them: every line must parse, keep its body
// within 512 bytes, carry the tags, and an action's every line must be
// a whole CTCP ACTION; the text must come back whole.
func FuzzMessageLines(f *testing.F) {
	f.Add("hi", "+baz", "bat", uint64(0), false, "alice")
	f.Add(strings.Repeat("b", 496), "+baz", strings.Repeat("a", 4081), uint64(7), false, "alice")
	f.Add("waves\nand nods", "+x", "y;z \\ ok", uint64(3), true, "李雷")
	f.Add(strings.Repeat("你好", 300), "+draft/x", "", uint64(0), true, "bob")
	f.Fuzz(func(t *testing.T, text, tag, value string, replyTo uint64, action bool, from string) {
		if !utf8.ValidString(text) || !utf8.ValidString(value) || badNick(from) != "" || strings.ContainsAny(text, "\x00\x01") {
			return
		}
		tags := map[string]string{tag: value}
		if probe := appendTagged(nil, tags, "a", "TAGMSG", "#go"); len(probe) == 0 || !strings.HasPrefix(tag, "+") {
			return // ircmsg cannot write that tag; a parsed line never has it
		}
		s := &Server{nicks: map[string]string{}}
		fr := &protocol.Frame{ID: 1, From: from, Room: "go", Text: text, ReplyTo: replyTo, ClientTags: tags, Time: 1}
		if action {
			fr.Kind = protocol.KindAction
		}
		out := s.encodeMessage(fr)
		var got strings.Builder
		for _, l := range strings.SplitAfter(string(out), "\r\n") {
			if l == "" {
				continue
			}
			m, err := ircmsg.ParseLine(strings.TrimSuffix(l, "\r\n"))
			if err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			if body := l[strings.IndexByte(l, ' ')+1:]; len(body) > maxBody {
				t.Fatalf("body of %d bytes: %q", len(body), body)
			}
			fits := len(ircmsg.EscapeTagValue(value))+len(tag)+len(";+draft/reply=18446744073709551615=") <= 4094
			if ok, v := m.GetTag(tag); fits && (!ok || v != value) {
				t.Fatalf("tag %s=%q lost: %v", tag, value, m.AllTags())
			}
			if ok, _ := m.GetTag(tagReply); ok != (replyTo != 0) {
				t.Fatalf("reply tag %v for reply_to %d", m.AllTags(), replyTo)
			}
			p := m.Params[1]
			if action {
				if !strings.HasPrefix(p, "\x01ACTION ") || !strings.HasSuffix(p, "\x01") {
					t.Fatalf("action line %q", p)
				}
				p = strings.TrimSuffix(strings.TrimPrefix(p, "\x01ACTION "), "\x01")
			}
			got.WriteString(p)
		}
		want := strings.NewReplacer("\r", "", "\n", "").Replace(text)
		if g := got.String(); g != want && !(strings.TrimSpace(want) == "" && strings.TrimSpace(g) == "") {
			t.Fatalf("text %q came back as %q", want, g)
		}
	})
}

// FuzzLabeled wraps responses of up to three lines, some with tags of
// their own and a batch of their own, in their label: every line must
// parse, the label must come back as sent, and every line of a batch
// must be in it unless it is in a batch already.
func FuzzLabeled(f *testing.F) {
	f.Add("xyz", "PRIVMSG", "hi there", uint8(1), false, true)
	f.Add("a;b c\\d", "353", "@alice bob", uint8(3), true, true)
	f.Add("", "NOTICE", "", uint8(0), false, false)
	f.Add("l", "JOIN", "#go", uint8(2), true, false)
	f.Fuzz(func(t *testing.T, label, cmd, param string, lines uint8, tagged, batch bool) {
		// A label comes from a parsed line, which never holds NUL, CR or LF.
		if !utf8.ValidString(label) || label == "" || len(label) > 64 || strings.ContainsAny(label, "\x00\r\n") || !isCommand(cmd) || strings.ContainsAny(param, "\x00\r\n") {
			return
		}
		var resp []byte
		for i := range int(lines % 4) {
			tags := map[string]string(nil)
			if tagged && i == 0 {
				tags = map[string]string{"batch": "inner", "msgid": "7"}
			}
			resp = appendTagged(resp, tags, "irc.test", cmd, "me", param)
		}
		id := ""
		if batch {
			id = "l1"
		}
		out := appendLabeled(nil, resp, label, "irc.test", id)
		var got []ircmsg.Message
		for _, l := range strings.SplitAfter(string(out), "\r\n") {
			if l == "" {
				continue
			}
			m, err := ircmsg.ParseLine(strings.TrimSuffix(l, "\r\n"))
			if err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			got = append(got, m)
		}
		n := strings.Count(string(resp), "\n")
		if len(got) == 0 {
			t.Fatal("no lines")
		}
		if ok, v := got[0].GetTag("label"); !ok || v != label {
			t.Fatalf("first line %q has label %q, want %q", out, v, label)
		}
		switch {
		case n == 0:
			if len(got) != 1 || got[0].Command != "ACK" {
				t.Fatalf("no response became %q", out)
			}
		case n == 1 || !batch:
			if len(got) != n {
				t.Fatalf("%d lines became %d: %q", n, len(got), out)
			}
		default:
			if len(got) != n+2 || got[0].Command != "BATCH" || got[n+1].Command != "BATCH" || got[n+1].Params[0] != "-"+id {
				t.Fatalf("batch %q", out)
			}
			for _, m := range got[1 : n+1] {
				_, b := m.GetTag("batch")
				if b != id && b != "inner" {
					t.Fatalf("line outside the batch: %q", out)
				}
			}
		}
	})
}

// isCommand reports whether s is a command or numeric as a server
// writes them: letters and digits.
func isCommand(s string) bool {
	for _, r := range s {
		if !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9') {
			return false
		}
	}
	return s != ""
}

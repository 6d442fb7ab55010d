package tcp_test

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley/chatserver/auth"
	"github.com/parley-chat/parley/chatserver/server"
	"github.com/parley-chat/parley/shared/protocol"
)

// Bad input of every kind: each must get a clear refusal, leave the
// server running, and leave nothing half-done. Every test ends by
// checking that a fresh client is still served normally.

var aliveSeq atomic.Uint64

// assertAlive logs a new user in, joins a room, sends a message and waits
// for its echo and reply: the server still serves a fresh client.
func assertAlive(t *testing.T, addr string) {
	t.Helper()
	n := aliveSeq.Add(1)
	c := login(t, addr, fmt.Sprintf("fresh%d", n))
	id := c.send(&protocol.Frame{Type: protocol.TypeJoin, Room: "after"})
	if r := c.reply(id); r.Type != protocol.TypeOK {
		t.Fatalf("a fresh client could not join: %s", js(r))
	}
	text := fmt.Sprintf("still here %d", n)
	id = c.send(&protocol.Frame{Type: protocol.TypeSend, Room: "after", Text: text})
	echo := c.until(func(f *protocol.Frame) bool {
		return f.Type == protocol.TypeMessage && f.Text == text || f.Re == id
	})
	if echo.Type != protocol.TypeMessage {
		t.Fatalf("a fresh client's message got no echo: %s", js(echo))
	}
	if r := c.reply(id); r.Type != protocol.TypeOK || r.Msg != echo.ID {
		t.Fatalf("a fresh client's message: reply %s, echo id %d", js(r), echo.ID)
	}
	c.nc.Close()
}

// nextReply reads until the next ok or error, whatever it answers.
func (c *client) nextReply() *protocol.Frame {
	c.t.Helper()
	return c.until(func(f *protocol.Frame) bool {
		return f.Type == protocol.TypeOK || f.Type == protocol.TypeError
	})
}

// settle sends a message of its own to the lobby and returns every frame
// received before its reply. Entries are published in the order they
// were accepted, so every reply and event caused by the requests sent
// before has arrived by then (replies to sends come only after their
// message is on disk, so a ping would not do).
func (c *client) settle() []*protocol.Frame {
	c.t.Helper()
	text := fmt.Sprintf("settle %d", aliveSeq.Add(1))
	id := c.send(&protocol.Frame{Type: protocol.TypeSend, Text: text})
	var before []*protocol.Frame
	for {
		f := c.read()
		switch {
		case f.Re == id:
			if f.Type != protocol.TypeOK {
				c.t.Fatalf("settling message refused: %s", js(f))
			}
			return before
		case f.Type == protocol.TypeMessage && f.Text == text:
		default:
			before = append(before, f)
		}
	}
}

// sendText sends text to room and returns the reply and, on success, the
// echo.
func (c *client) sendText(room, text string) (reply, echo *protocol.Frame) {
	c.t.Helper()
	id := c.send(&protocol.Frame{Type: protocol.TypeSend, Room: room, Text: text})
	for {
		f := c.read()
		switch {
		case f.Type == protocol.TypeMessage && f.From != "" && f.Text == text && !f.History:
			echo = f
		case (f.Type == protocol.TypeOK || f.Type == protocol.TypeError) && f.Re == id:
			return f, echo
		}
	}
}

// A frame cut at every possible byte, including inside multi-byte UTF-8
// characters and escapes, is read as one frame; so is a frame written one
// byte at a time, and a frame whose end shares a write with the next
// frame's start.
func TestBadInputSplitAtEveryByte(t *testing.T) {
	s := start(t, nil)
	c := login(t, s.Addr(), "splitter")
	text := "split 分割 ✂ \"quoted\" \\ tab\there"
	frame := string(protocol.Encode(&protocol.Frame{Type: protocol.TypeSend, ID: 1000, Text: text}))
	for i := 1; i < len(frame); i++ {
		id := uint64(1000 + i)
		f := string(protocol.Encode(&protocol.Frame{Type: protocol.TypeSend, ID: id, Text: text}))
		c.raw(f[:i])
		c.raw(f[i:])
		r, echo := c.waitSend(id, text)
		if r.Type != protocol.TypeOK || echo == nil {
			t.Fatalf("frame split at byte %d: reply %s, echo %s", i, js(r), js(echo))
		}
	}
	// One byte per write.
	f := protocol.Encode(&protocol.Frame{Type: protocol.TypeSend, ID: 5000, Text: text})
	for i := range f {
		c.raw(string(f[i : i+1]))
	}
	if r, echo := c.waitSend(5000, text); r.Type != protocol.TypeOK || echo == nil {
		t.Fatalf("frame sent byte by byte: reply %s, echo %s", js(r), js(echo))
	}
	// The end of one frame and the start of the next in one write, with
	// CRLF and blank lines between.
	a := string(protocol.Encode(&protocol.Frame{Type: protocol.TypePing, ID: 5001}))
	b := string(protocol.Encode(&protocol.Frame{Type: protocol.TypePing, ID: 5002}))
	a = strings.TrimSuffix(a, "\n") + "\r\n"
	c.raw(a[:7])
	c.raw(a[7:] + "\n\r\n  \n" + b[:9])
	c.raw(b[9:])
	if r := c.reply(5001); r.Type != protocol.TypeOK {
		t.Errorf("first of two joined frames: %s", js(r))
	}
	if r := c.reply(5002); r.Type != protocol.TypeOK {
		t.Errorf("second of two joined frames: %s", js(r))
	}
	assertAlive(t, s.Addr())
}

// waitSend waits for the reply to send request id and the echo of text.
func (c *client) waitSend(id uint64, text string) (reply, echo *protocol.Frame) {
	c.t.Helper()
	for {
		f := c.read()
		switch {
		case f.Type == protocol.TypeMessage && f.Text == text && !f.History:
			echo = f
		case (f.Type == protocol.TypeOK || f.Type == protocol.TypeError) && f.Re == id:
			return f, echo
		}
	}
}

// Many frames in one write are all read, in order, and each gets exactly
// one reply.
func TestBadInputManyFramesInOneWrite(t *testing.T) {
	s := start(t, nil)
	c := login(t, s.Addr(), "batcher")
	const n = 1000
	var buf bytes.Buffer
	for i := 1; i <= n; i++ {
		f := &protocol.Frame{Type: protocol.TypeSend, ID: uint64(i), Text: fmt.Sprintf("batch %d", i)}
		if i%2 == 0 {
			f = &protocol.Frame{Type: protocol.TypePing, ID: uint64(i)}
		}
		buf.Write(protocol.Encode(f))
	}
	c.raw(buf.String())
	replies := map[uint64]int{}
	var echoes []*protocol.Frame
	for len(replies) < n {
		f := c.read()
		switch f.Type {
		case protocol.TypeOK:
			replies[f.Re]++
		case protocol.TypeError:
			t.Fatalf("a frame of the batch was refused: %s", js(f))
		case protocol.TypeMessage:
			echoes = append(echoes, f)
		}
	}
	for _, f := range c.settle() {
		if f.Type == protocol.TypeOK || f.Type == protocol.TypeError {
			t.Errorf("an extra reply: %s", js(f))
		}
	}
	for id, k := range replies {
		if k != 1 || id == 0 || id > n {
			t.Errorf("request %d got %d replies", id, k)
		}
	}
	if len(echoes) != n/2 {
		t.Fatalf("%d echoes, want %d", len(echoes), n/2)
	}
	for i, e := range echoes {
		if want := fmt.Sprintf("batch %d", 2*i+1); e.Text != want {
			t.Fatalf("echo %d is %q, want %q: frames were reordered", i, e.Text, want)
		}
		if i > 0 && e.ID <= echoes[i-1].ID {
			t.Fatalf("message ids do not increase: %d after %d", e.ID, echoes[i-1].ID)
		}
	}
	assertAlive(t, s.Addr())
}

// Invalid UTF-8 inside a JSON string must be refused as the protocol says
// (bad_text for message text, bad_name for names), not silently replaced
// by U+FFFD and stored.
func TestBadInputInvalidUTF8(t *testing.T) {
	s := start(t, nil)
	c := login(t, s.Addr(), "utf8")
	cases := []struct {
		name, frame string
		codes       []string // acceptable error codes
	}{
		// BUG: encoding/json replaces invalid bytes with U+FFFD, so the
		// server stores "ab\uFFFDcd" and answers ok; PROTOCOL.md says
		// text that is not UTF-8 gets bad_text.
		{"text with a stray byte", `{"type":"send","id":%d,"text":"ab` + "\xff" + `cd"}`, []string{protocol.CodeBadText, protocol.CodeBadFrame}},
		{"text with a truncated sequence", `{"type":"send","id":%d,"text":"ab` + "\xe4\xbd" + `"}`, []string{protocol.CodeBadText, protocol.CodeBadFrame}},
		{"text with an overlong slash", `{"type":"send","id":%d,"text":"a` + "\xc0\xaf" + `b"}`, []string{protocol.CodeBadText, protocol.CodeBadFrame}},
		{"text with an encoded surrogate", `{"type":"send","id":%d,"text":"a` + "\xed\xa0\x80" + `b"}`, []string{protocol.CodeBadText, protocol.CodeBadFrame}},
		{"room name", `{"type":"join","id":%d,"room":"r` + "\xff" + `"}`, []string{protocol.CodeBadName, protocol.CodeBadFrame}},
		{"room name with an overlong slash", `{"type":"join","id":%d,"room":"` + "\xc0\xaf" + `x"}`, []string{protocol.CodeBadName, protocol.CodeBadFrame}},
		{"recipient", `{"type":"send","id":%d,"to":"bo` + "\xff" + `b","text":"hi"}`, []string{protocol.CodeBadName, protocol.CodeBadFrame}},
		{"type", `{"type":"pi` + "\xff" + `ng","id":%d}`, []string{protocol.CodeUnknownType, protocol.CodeBadFrame}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.t = t
			id := uint64(100 + i)
			c.raw(fmt.Sprintf(tc.frame, id) + "\n")
			r := c.nextReply()
			if r.Type != protocol.TypeError || !contains(tc.codes, r.Code) {
				t.Errorf("%q: got %s, want an error with code %v", fmt.Sprintf(tc.frame, id), js(r), tc.codes)
			}
			// Whatever the reply, nothing with a replacement character was
			// stored and delivered.
			for _, f := range c.settle() {
				if strings.ContainsRune(f.Text, '\uFFFD') || strings.ContainsRune(f.Room, '\uFFFD') {
					t.Errorf("the server stored mangled input: %s", js(f))
				}
			}
		})
	}
	c.t = t
	// A login name with invalid UTF-8.
	d := dialRaw(t, s.Addr())
	d.hello()
	d.raw(`{"type":"login","id":1,"name":"al` + "\xff" + `ice","password":"pw"}` + "\n")
	if r := d.reply(1); r.Code != protocol.CodeBadName && r.Code != protocol.CodeBadFrame {
		t.Errorf("login with an invalid UTF-8 name: %s", js(r))
	}
	assertAlive(t, s.Addr())
}

// js shows a frame as the JSON it travels as.
func js(f *protocol.Frame) string {
	if f == nil {
		return "none"
	}
	return strings.TrimSuffix(string(protocol.Encode(f)), "\n")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Deeply nested JSON, within the frame limit, is refused as a bad frame
// without exhausting the stack, and the connection lives.
func TestBadInputDeeplyNested(t *testing.T) {
	s := start(t, nil)
	c := login(t, s.Addr(), "nester")
	depth := 30000
	frames := []string{
		`{"type":"ping","id":1,"x":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`,
		`{"type":"ping","id":2,"x":` + strings.Repeat(`{"a":`, 10000) + `1` + strings.Repeat("}", 10000) + `}`,
		// Unclosed: the nesting never ends within the frame.
		`{"type":"ping","id":3,"x":` + strings.Repeat("[", 60000),
		// Nested where the frame expects an object.
		`{"type":"send","id":4,"kind":"file","file":` + strings.Repeat(`{"name":`, 5000) + `"x"` + strings.Repeat("}", 5000) + `}`,
	}
	for _, f := range frames {
		if len(f) > protocol.DefaultMaxFrame {
			t.Fatalf("test frame of %d bytes is over the limit", len(f))
		}
		c.raw(f + "\n")
		r := c.nextReply()
		if r.Type != protocol.TypeError || (r.Code != protocol.CodeBadFrame && r.Code != protocol.CodeBadRequest) {
			t.Errorf("nested frame of %d bytes: %s", len(f), js(r))
		}
	}
	c.settle()
	assertAlive(t, s.Addr())
}

// Numbers at and beyond the edges of their types.
func TestBadInputHugeNumbers(t *testing.T) {
	for _, store := range []string{"memory", "sqlite"} {
		t.Run(store, func(t *testing.T) {
			s := start(t, func(c *server.Config) {
				if store == "sqlite" {
					c.DataDir = t.TempDir()
				}
			})
			c := login(t, s.Addr(), "numbers")
			_, echo := c.sendText("", "a message to page over")

			// Numbers no integer field can hold: refused, no reply can
			// name a request whose id is unreadable.
			for _, f := range []string{
				`{"type":"ping","id":1e400}`,
				`{"type":"ping","id":18446744073709551616}`,
				`{"type":"ping","id":-1}`,
				`{"type":"ping","id":1.5}`,
				`{"type":"ping","id":99999999999999999999999999999999999999999999}`,
			} {
				c.raw(f + "\n")
				if r := c.nextReply(); r.Type != protocol.TypeError || r.Code != protocol.CodeBadFrame || r.Re != 0 {
					t.Errorf("%s: %s", f, js(r))
				}
			}
			// The largest id is an id like any other.
			c.raw(`{"type":"ping","id":18446744073709551615}` + "\n")
			if r := c.nextReply(); r.Type != protocol.TypeOK || r.Re != 1<<64-1 {
				t.Errorf("ping with the largest id: %s", js(r))
			}
			// Absurd but well-formed values: clamped or refused with a code.
			cases := []struct {
				frame string
				ok    bool
				code  string
			}{
				{`{"type":"history","id":%d,"before":18446744073709551615,"limit":9223372036854775807}`, true, ""},
				{`{"type":"history","id":%d,"before":9223372036854775808}`, true, ""},
				{`{"type":"history","id":%d,"before":1,"limit":-9223372036854775808}`, true, ""},
				{`{"type":"history","id":%d,"limit":-1}`, true, ""},
				{`{"type":"recall","id":%d,"msg":18446744073709551615}`, false, protocol.CodeNoSuchMessage},
				{`{"type":"recall","id":%d,"msg":9223372036854775808}`, false, protocol.CodeNoSuchMessage},
				{`{"type":"send","id":%d,"kind":"file","file":{"name":"f","path":"f","size":-9223372036854775808}}`, false, protocol.CodeBadRequest},
				{`{"type":"send","id":%d,"kind":"file","file":{"name":"f","path":"f","size":9223372036854775807}}`, true, ""},
			}
			for i, tc := range cases {
				id := uint64(10 + i)
				frame := fmt.Sprintf(tc.frame, id)
				c.raw(frame + "\n")
				var hist int
				r := c.until(func(f *protocol.Frame) bool {
					if f.Type == protocol.TypeMessage && f.History {
						hist++
					}
					return f.Re == id && (f.Type == protocol.TypeOK || f.Type == protocol.TypeError)
				})
				if tc.ok && r.Type != protocol.TypeOK || !tc.ok && r.Code != tc.code {
					t.Errorf("%s: %s", frame, js(r))
				}
				if hist > protocol.MaxHistory {
					t.Errorf("%s: %d history messages, more than %d", frame, hist, protocol.MaxHistory)
				}
			}
			// A resume from the largest id has nothing to catch up, and live
			// messages still arrive.
			d := dialRaw(t, s.Addr())
			d.hello()
			id := d.send(&protocol.Frame{Type: protocol.TypeLogin, Name: "numbers2", Password: "pw"})
			d.reply(id)
			d.nc.Close()
			d = dialRaw(t, s.Addr())
			d.hello()
			d.raw(`{"type":"login","id":1,"name":"numbers2","password":"pw","resume":true,"since":18446744073709551615}` + "\n")
			var caught []*protocol.Frame
			r := d.until(func(f *protocol.Frame) bool {
				if f.Type == protocol.TypeMessage {
					caught = append(caught, f)
				}
				return f.Re == 1
			})
			if r.Type != protocol.TypeOK {
				t.Fatalf("resume from the largest id: %s", js(r))
			}
			for _, f := range append(caught, d.settle()...) {
				if f.Type == protocol.TypeMessage && f.ID <= echo.ID {
					t.Errorf("a resume from the largest id was sent old message %d", f.ID)
				}
			}
			assertAlive(t, s.Addr())
		})
	}
}

// A member of the wrong JSON type is the request's fault, and the request
// has a readable id: PROTOCOL.md promises every request exactly one reply
// with "re", and lists a member of the wrong form as bad_request.
func TestBadInputWrongFieldTypes(t *testing.T) {
	s := start(t, nil)
	c := login(t, s.Addr(), "typist")
	frames := []string{
		`{"type":"send","id":%d,"text":123}`,
		`{"type":"send","id":%d,"text":["a"]}`,
		`{"type":"send","id":%d,"text":{"a":1}}`,
		`{"type":"send","id":%d,"text":true}`,
		`{"type":"join","id":%d,"room":{"name":"x"}}`,
		`{"type":"history","id":%d,"limit":"10"}`,
		`{"type":"history","id":%d,"limit":1.5}`,
		`{"type":"history","id":%d,"before":-1}`,
		`{"type":"send","id":%d,"kind":"file","file":"x.txt"}`,
		`{"type":"send","id":%d,"kind":"file","file":{"name":1,"path":"x","size":1}}`,
		`{"type":"send","id":%d,"kind":"file","file":{"name":"x","path":"x","size":"1"}}`,
		`{"type":"recall","id":%d,"msg":"12"}`,
		`{"type":"kick","id":%d,"room":"r","name":7}`,
		`{"type":"send","id":%d,"text":"x","history":"yes"}`,
		`{"type":"send","id":%d,"text":"x","key":42}`,
	}
	for i, frame := range frames {
		id := uint64(200 + i)
		f := fmt.Sprintf(frame, id)
		t.Run(f, func(t *testing.T) {
			c.t = t
			c.raw(f + "\n")
			r := c.nextReply()
			// BUG: the frame is refused as bad_frame with no "re", so the
			// request never gets its reply and a client waiting for it
			// waits forever.
			if r.Type != protocol.TypeError || r.Re != id || r.Code != protocol.CodeBadRequest {
				t.Errorf("got %s; want error bad_request with re %d", js(r), id)
			}
			for _, g := range c.settle() {
				if g.Type == protocol.TypeMessage {
					t.Errorf("a frame with a wrong member was carried out: %s", js(g))
				}
			}
		})
	}
	c.t = t
	// Nulls mean absent: the request is checked as if the member were not
	// there, and answered.
	for i, frame := range []string{
		`{"type":"send","id":%d,"text":null}`,
		`{"type":"join","id":%d,"room":null}`,
		`{"type":"recall","id":%d,"msg":null}`,
	} {
		id := uint64(300 + i)
		c.raw(fmt.Sprintf(frame, id) + "\n")
		if r := c.nextReply(); r.Re != id {
			t.Errorf("%s: reply %s", fmt.Sprintf(frame, id), js(r))
		}
	}
	// A type that is not a string, or is missing, cannot be answered by id.
	for _, f := range []string{`{"type":null,"id":5}`, `{"type":["ping"],"id":5}`, `{"id":5}`, `"ping"`, `null`, `{"type":""}`} {
		c.raw(f + "\n")
		if r := c.nextReply(); r.Type != protocol.TypeError || r.Code != protocol.CodeBadFrame {
			t.Errorf("%s: %s", f, js(r))
		}
	}
	c.settle()
	assertAlive(t, s.Addr())
}

// Duplicate members: the server answers exactly one reply and carries out
// at most one request.
func TestBadInputDuplicateKeys(t *testing.T) {
	s := start(t, nil)
	c := login(t, s.Addr(), "duper")
	frames := []string{
		`{"type":"send","id":1001,"text":"first","text":"second"}`,
		`{"type":"send","id":1002,"id":1003,"text":"two ids"}`,
		`{"type":"ping","type":"send","id":1004,"text":"two types"}`,
		`{"type":"send","id":1005,"room":"lobby","to":"duper","room":"lobby","text":"room and to"}`,
	}
	for _, f := range frames {
		c.raw(f + "\n")
		got := c.settle()
		var replies, messages int
		for _, g := range got {
			switch g.Type {
			case protocol.TypeOK, protocol.TypeError:
				replies++
			case protocol.TypeMessage:
				messages++
			}
		}
		if replies != 1 || messages > 1 {
			var shown []string
			for _, g := range got {
				shown = append(shown, js(g))
			}
			t.Errorf("%s: %d replies and %d messages: %s", f, replies, messages, strings.Join(shown, " "))
		}
	}
	assertAlive(t, s.Addr())
}

// NUL bytes, raw and escaped, in every place they can go.
func TestBadInputNUL(t *testing.T) {
	s := start(t, nil)
	c := login(t, s.Addr(), "nuller")
	login(t, s.Addr(), "friend")
	// Raw NULs make the line not JSON.
	for _, f := range []string{
		"\x00",
		`{"type":"ping","id":1}` + "\x00",
		"\x00" + `{"type":"ping","id":1}`,
		`{"type":"send","id":1,"text":"a` + "\x00" + `b"}`,
		`{"type":"pi` + "\x00" + `ng","id":1}`,
	} {
		c.raw(f + "\n")
		if r := c.nextReply(); r.Type != protocol.TypeError || r.Code != protocol.CodeBadFrame {
			t.Errorf("%q: %s", f, js(r))
		}
	}
	// Escaped NULs reach the checks and are refused there.
	cases := []struct{ frame, code string }{
		{`{"type":"send","id":%d,"text":"a\u0000b"}`, protocol.CodeBadText},
		{`{"type":"send","id":%d,"text":"\u0000"}`, protocol.CodeBadText},
		{`{"type":"join","id":%d,"room":"a\u0000b"}`, protocol.CodeBadName},
		{`{"type":"send","id":%d,"to":"friend\u0000","text":"hi"}`, protocol.CodeBadName},
		{`{"type":"history","id":%d,"to":"\u0000friend"}`, protocol.CodeBadName},
		{`{"type":"who","id":%d,"room":"\u0000"}`, protocol.CodeBadName},
		{`{"type":"send","id":%d,"kind":"file","file":{"name":"a\u0000b","path":"ab","size":1}}`, protocol.CodeBadRequest},
		{`{"type":"send","id":%d,"kind":"file","file":{"name":"ab","path":"a\u0000b","size":1}}`, protocol.CodeBadRequest},
		// BUG: the sha256 of a file reference is only length-checked, so
		// NULs and escape sequences in it are stored and relayed to every
		// member; a line-mode client prints it in its checksum error.
		{`{"type":"send","id":%d,"kind":"file","file":{"name":"ab","path":"ab","size":1,"sha256":"\u0000"}}`, protocol.CodeBadRequest},
	}
	for i, tc := range cases {
		id := uint64(10 + i)
		f := fmt.Sprintf(tc.frame, id)
		c.raw(f + "\n")
		if r := c.reply(id); r.Type != protocol.TypeError || r.Code != tc.code {
			t.Errorf("%s: %s, want %s", f, js(r), tc.code)
		}
	}
	// A NUL in a login name.
	d := dialRaw(t, s.Addr())
	d.hello()
	d.raw(`{"type":"login","id":1,"name":"nul\u0000ler","password":"pw"}` + "\n")
	if r := d.reply(1); r.Code != protocol.CodeBadName {
		t.Errorf("login name with a NUL: %s", js(r))
	}
	assertAlive(t, s.Addr())
}

// padTo returns a ping frame of exactly n bytes, without its terminator.
func padTo(t *testing.T, id uint64, n int) string {
	t.Helper()
	head := fmt.Sprintf(`{"type":"ping","id":%d,"pad":"`, id)
	tail := `"}`
	if n < len(head)+len(tail) {
		t.Fatalf("cannot pad to %d", n)
	}
	f := head + strings.Repeat("x", n-len(head)-len(tail)) + tail
	if len(f) != n {
		t.Fatalf("padded to %d, want %d", len(f), n)
	}
	return f
}

// A frame of exactly the limit is served, with either line terminator; one
// byte more closes the connection with frame_too_large. Both before and
// after login, with the default limit and a small one.
func TestBadInputFrameAtLimit(t *testing.T) {
	for _, limit := range []int{protocol.DefaultMaxFrame, 1024} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			s := start(t, func(c *server.Config) {
				c.Limits.Frame = limit
				if limit < 2*protocol.MaxTextBytes {
					c.Limits.Text = limit / 2
				}
			})
			for _, term := range []string{"\n", "\r\n"} {
				for _, loggedIn := range []bool{false, true} {
					var c *client
					if loggedIn {
						c = login(t, s.Addr(), fmt.Sprintf("limit%d", aliveSeq.Add(1)))
					} else {
						c = dialRaw(t, s.Addr())
						c.hello()
					}
					c.raw(padTo(t, 7, limit) + term)
					if r := c.reply(7); r.Type != protocol.TypeOK {
						t.Fatalf("frame of exactly %d bytes + %q: %s", limit, term, js(r))
					}
					c.raw(padTo(t, 8, limit+1) + term)
					if bye := c.eof(); bye == nil || bye.Code != protocol.CodeFrameTooLarge {
						t.Errorf("frame of %d bytes + %q: bye %s", limit+1, term, js(bye))
					}
				}
			}
			// A line that never ends is cut off at the limit, however much
			// more follows.
			endless := dialRaw(t, s.Addr())
			endless.hello()
			wrote := make(chan struct{})
			go func() {
				defer close(wrote)
				chunk := []byte(strings.Repeat("y", 64<<10))
				for range 64 { // 4 MiB
					if _, err := endless.nc.Write(chunk); err != nil {
						return
					}
				}
			}()
			if bye := endless.eof(); bye == nil || bye.Code != protocol.CodeFrameTooLarge {
				t.Errorf("endless line: bye %s", js(bye))
			}
			endless.nc.Close()
			<-wrote
			// Before hello, too.
			c := dialRaw(t, s.Addr())
			c.raw(padTo(t, 9, limit+1) + "\n")
			if bye := c.eof(); bye == nil || bye.Code != protocol.CodeFrameTooLarge {
				t.Errorf("oversize frame before hello: bye %s", js(bye))
			}
			assertAlive(t, s.Addr())
		})
	}
}

// Names that break the rules: control characters, bidi overrides,
// zero-width characters, and names that are too long. Each is refused
// with bad_name at login, and the same strings as recipients.
func TestBadInputNames(t *testing.T) {
	s := start(t, nil)
	bad := map[string]string{
		"NUL":                    "a\x00b",
		"tab":                    "a\tb",
		"newline":                "a\nb",
		"escape":                 "\x1b[31mred",
		"DEL":                    "a\x7fb",
		"C1 CSI":                 "a\u009b31mb",
		"NEL":                    "a\u0085b",
		"right-to-left override": "\u202Eecila",
		"left-to-right override": "a\u202Db",
		"right-to-left isolate":  "a\u2067b",
		"pop directional":        "ab\u202C",
		"right-to-left mark":     "a\u200Fb",
		"zero-width space":       "a\u200Bb",
		"zero-width joiner":      "a\u200Db",
		"zero-width non-joiner":  "a\u200Cb",
		"word joiner":            "a\u2060b",
		"byte order mark":        "\uFEFFbob",
		"soft hyphen":            "a\u00ADb",
		"line separator":         "a\u2028b",
		"space":                  "a b",
		"no-break space":         "a\u00A0b",
		"ideographic space":      "a\u3000b",
		"hangul filler":          "a\u3164b",
		"replacement character":  "a\uFFFDb",
		"private use":            "a\uE000b",
		"emoji":                  "a😀b",
		"33 characters":          strings.Repeat("a", 33),
		"33 CJK characters":      strings.Repeat("名", 33),
		"long":                   strings.Repeat("n", 60000),
		"long combining":         "e" + strings.Repeat("\u0301", 4000),
		"long zero-width":        "a" + strings.Repeat("\u200B", 21000),
		"long emoji":             strings.Repeat("😀", 16000),
		"leading #":              "#alice",
		"leading @":              "@alice",
		"leading /":              "/alice",
		"empty":                  "",
	}
	for what, name := range bad {
		t.Run(what, func(t *testing.T) {
			c := dialRaw(t, s.Addr())
			c.hello()
			id := c.send(&protocol.Frame{Type: protocol.TypeLogin, Name: name, Password: "pw"})
			r := c.reply(id)
			if r.Type != protocol.TypeError || r.Code != protocol.CodeBadName {
				t.Fatalf("login as %q: %s", name, js(r))
			}
			if strings.ContainsAny(r.Message, "\x00\x1b\u009b\u202e") {
				t.Errorf("the refusal repeats the raw control characters: %q", r.Message)
			}
			// BUG: a name refused by PRECIS is quoted whole in the
			// message, with invisible characters as \uXXXX escapes, so
			// the refusal can be several times larger than the request
			// and over the frame limit that the client reads with.
			if n := len(protocol.Encode(r)) - 1; n > protocol.DefaultMaxFrame {
				t.Errorf("the refusal is a frame of %d bytes, over the limit of %d", n, protocol.DefaultMaxFrame)
			}
		})
	}
	// The same strings as a recipient, from a logged-in client.
	c := login(t, s.Addr(), "sender")
	for what, name := range bad {
		if name == "" {
			continue // no recipient: the message goes to the lobby
		}
		id := c.send(&protocol.Frame{Type: protocol.TypeSend, To: name, Text: "hi"})
		if r := c.reply(id); r.Type != protocol.TypeError || r.Code != protocol.CodeBadName {
			t.Errorf("message to %s %q: %s", what, name, js(r))
		}
	}
	// Names at the limit, in any script, are fine; width and case variants
	// are the same person.
	for _, name := range []string{strings.Repeat("a", 32), strings.Repeat("名", 32), strings.Repeat("𠀀", 32), "Zoë", "李雷", "Алиса"} {
		login(t, s.Addr(), name)
	}
	login(t, s.Addr(), "Wide")
	for _, variant := range []string{"wide", "WIDE", "ｗｉｄｅ"} {
		c := dialRaw(t, s.Addr())
		c.hello()
		id := c.send(&protocol.Frame{Type: protocol.TypeLogin, Name: variant, Password: "wrong"})
		if r := c.reply(id); r.Code != protocol.CodeBadCredentials {
			t.Errorf("login as %q with the wrong password: %s", variant, js(r))
		}
		id = c.send(&protocol.Frame{Type: protocol.TypeLogin, Name: variant, Password: "pw"})
		if r := c.reply(id); r.Type != protocol.TypeOK || r.Name != "Wide" {
			t.Errorf("login as %q: %s", variant, js(r))
		}
	}
	assertAlive(t, s.Addr())
}

// Room names likewise; the lobby cannot be created twice under another
// spelling.
func TestBadInputRoomNames(t *testing.T) {
	s := start(t, nil)
	c := login(t, s.Addr(), "roomer")
	bad := []string{
		"a\x00b", "a\tb", "\x1b[2Jroom", "a\u009bb", "\u202Emoor", "a\u2066b", "a\u200Bb", "\uFEFFroom",
		"a\u00ADb", "a b", "a\u3000b", "#", "##room", "@room", "/room", "#@room",
		strings.Repeat("r", 33), strings.Repeat("房", 33), strings.Repeat("r", 60000), "r😀",
	}
	for _, name := range bad {
		for _, typ := range []string{protocol.TypeJoin, protocol.TypeLeave, protocol.TypeWho, protocol.TypeHistory} {
			id := c.send(&protocol.Frame{Type: typ, Room: name})
			if r := c.reply(id); r.Type != protocol.TypeError || r.Code != protocol.CodeBadName {
				t.Errorf("%s %q: %s", typ, name, js(r))
			}
		}
		id := c.send(&protocol.Frame{Type: protocol.TypeSend, Room: name, Text: "hi"})
		if r := c.reply(id); r.Type != protocol.TypeError || r.Code != protocol.CodeBadName {
			t.Errorf("send to %q: %s", name, js(r))
		}
	}
	// Spellings of the lobby are the lobby.
	for _, name := range []string{"lobby", "LOBBY", "#Lobby", "ｌｏｂｂｙ"} {
		id := c.send(&protocol.Frame{Type: protocol.TypeJoin, Room: name})
		if r := c.reply(id); r.Type != protocol.TypeOK || r.Room != protocol.Lobby {
			t.Errorf("join %q: %s", name, js(r))
		}
		id = c.send(&protocol.Frame{Type: protocol.TypeLeave, Room: name})
		if r := c.reply(id); r.Code != protocol.CodeLobby {
			t.Errorf("leave %q: %s", name, js(r))
		}
	}
	id := c.send(&protocol.Frame{Type: protocol.TypeRooms})
	r := c.reply(id)
	if len(r.Rooms) != 1 || r.Rooms[0].Name != protocol.Lobby {
		t.Errorf("rooms after refused names: %+v", r.Rooms)
	}
	assertAlive(t, s.Addr())
}

// Text that would drive a terminal is refused; text that is merely
// unusual is delivered unchanged.
func TestBadInputTerminalEscapes(t *testing.T) {
	s := start(t, nil)
	c := login(t, s.Addr(), "ansi")
	for _, text := range []string{
		"\x1b[2J\x1b[H", "red \x1b[31mred", "\x1b]0;title\x07", "\x1b]52;c;cGFzc3dvcmQ=\x07", "\u009b2J",
		"over\rwrite", "bell\x07", "back\x08space", "del\x7f", "form\x0cfeed", "vertical\x0btab", "\x1bc",
		"nul\x00", "\x1b", "esc at end\x1b",
	} {
		r, echo := c.sendText("", text)
		if r.Type != protocol.TypeError || r.Code != protocol.CodeBadText || echo != nil {
			t.Errorf("%q: %s echo %s", text, js(r), js(echo))
		}
	}
	for _, text := range []string{"tab\tand\nnewline", "Ω≈ç√∫ 你好 مرحبا 👋🏽", "<script>&amp;</script>", `"quoted" \back\slash`} {
		r, echo := c.sendText("", text)
		if r.Type != protocol.TypeOK || echo == nil || echo.Text != text {
			t.Errorf("%q: %s echo %s", text, js(r), js(echo))
		}
	}
	// The same checks hold for the parts of a file message that other
	// clients print.
	for _, file := range []protocol.File{
		{Name: "a\x1b[31m.txt", Path: "a.txt", Size: 1},
		{Name: "a.txt", Path: "a\x1b]0;x\x07.txt", Size: 1},
		// BUG: sha256 is not checked for control characters (or for
		// being hex), so escape sequences in it reach every member.
		{Name: "a.txt", Path: "a.txt", Size: 1, SHA256: "\x1b[2J\x1b[31mpwned"},
	} {
		id := c.send(&protocol.Frame{Type: protocol.TypeSend, Kind: protocol.KindFile, File: &file})
		if r := c.reply(id); r.Type != protocol.TypeError || r.Code != protocol.CodeBadRequest {
			t.Errorf("file %+v: %s", file, js(r))
		}
	}
	for _, f := range c.settle() {
		if f.Type == protocol.TypeMessage {
			t.Errorf("a refused message was delivered: %s", js(f))
		}
	}
	assertAlive(t, s.Addr())
}

// Recall of ids that do not exist, of other people's messages, of
// recalls, twice; kicks of oneself and other impossible kicks.
func TestBadInputRecallAndKick(t *testing.T) {
	s := start(t, nil)
	alice := login(t, s.Addr(), "alice")
	bob := login(t, s.Addr(), "bob")
	carol := login(t, s.Addr(), "carol")

	id := carol.send(&protocol.Frame{Type: protocol.TypeRecall})
	if r := carol.reply(id); r.Code != protocol.CodeNoSuchMessage {
		t.Errorf("recall with nothing sent: %s", js(r))
	}
	_, pub := alice.sendText("", "public")
	pmID := alice.send(&protocol.Frame{Type: protocol.TypeSend, To: "bob", Text: "private to bob"})
	pm := alice.reply(pmID)
	for _, tc := range []struct {
		msg  uint64
		code string
	}{
		{pub.ID + 1000, protocol.CodeNoSuchMessage},
		{1<<64 - 1, protocol.CodeNoSuchMessage},
		{pub.ID, protocol.CodeNotYours},
	} {
		id := carol.send(&protocol.Frame{Type: protocol.TypeRecall, Msg: tc.msg})
		if r := carol.reply(id); r.Code != tc.code {
			t.Errorf("carol recalls %d: %s, want %s", tc.msg, js(r), tc.code)
		}
	}
	// A private message between two others: carol is refused, and the
	// refusal does not tell her who wrote it.
	id = carol.send(&protocol.Frame{Type: protocol.TypeRecall, Msg: pm.Msg})
	r := carol.reply(id)
	if r.Type != protocol.TypeError || (r.Code != protocol.CodeNotYours && r.Code != protocol.CodeNoSuchMessage) {
		t.Errorf("carol recalls alice's private message: %s", js(r))
	}
	// BUG: the message is "message N was sent by alice": anyone can learn
	// who sent any private message by trying ids.
	if strings.Contains(r.Message, "alice") {
		t.Errorf("the refusal names the sender of a private message carol is not part of: %q", r.Message)
	}
	// The recall of a recall, and a recall twice.
	id = alice.send(&protocol.Frame{Type: protocol.TypeRecall, Msg: pub.ID})
	var recallID uint64
	if r := alice.until(func(f *protocol.Frame) bool {
		if f.Type == protocol.TypeRecall && f.Msg == pub.ID {
			recallID = f.ID
		}
		return f.Re == id
	}); r.Type != protocol.TypeOK || recallID == 0 {
		t.Fatalf("alice recalls her message: %s, recall event %d", js(r), recallID)
	}
	for _, m := range []uint64{pub.ID, recallID} {
		id = alice.send(&protocol.Frame{Type: protocol.TypeRecall, Msg: m})
		if r := alice.reply(id); r.Code != protocol.CodeNoSuchMessage {
			t.Errorf("recall of %d again: %s", m, js(r))
		}
	}

	// Kicks.
	id = alice.send(&protocol.Frame{Type: protocol.TypeJoin, Room: "den"})
	alice.reply(id)
	id = bob.send(&protocol.Frame{Type: protocol.TypeJoin, Room: "den"})
	bob.reply(id)
	for _, tc := range []struct {
		who  *client
		room string
		name string
		code string
	}{
		{alice, "den", "alice", protocol.CodeBadRequest},
		{alice, "den", "ALICE", protocol.CodeBadRequest},
		{alice, "den", "ａｌｉｃｅ", protocol.CodeBadRequest},
		{bob, "den", "bob", protocol.CodeNotOwner},
		{bob, "den", "alice", protocol.CodeNotOwner},
		{alice, "lobby", "bob", protocol.CodeLobby},
		{alice, "", "bob", protocol.CodeLobby},
		{alice, "nowhere", "bob", protocol.CodeNoSuchRoom},
		{alice, "den", "nobody", protocol.CodeNoSuchUser},
		{alice, "den", "carol", protocol.CodeNotMember},
		{alice, "den", "", protocol.CodeBadName},
		{alice, "den", "b\x1bob", protocol.CodeBadName},
	} {
		id := tc.who.send(&protocol.Frame{Type: protocol.TypeKick, Room: tc.room, Name: tc.name})
		if r := tc.who.reply(id); r.Code != tc.code {
			t.Errorf("kick %q from %q: %s, want %s", tc.name, tc.room, js(r), tc.code)
		}
	}
	// Alice still owns den and is still in it.
	id = carol.send(&protocol.Frame{Type: protocol.TypeWho, Room: "den"})
	w := carol.reply(id)
	if len(w.Members) != 2 || w.Members[0].Name != "alice" || !w.Members[0].Owner {
		t.Errorf("den after refused kicks: %+v", w.Members)
	}
	assertAlive(t, s.Addr())
}

// History with absurd limits and positions, and of conversations the
// requester has no part in.
func TestBadInputHistory(t *testing.T) {
	s := start(t, nil)
	c := login(t, s.Addr(), "pager")
	other := login(t, s.Addr(), "other")
	// More messages than one page may hold.
	const total = protocol.MaxHistory + 10
	var buf bytes.Buffer
	for i := range total {
		c.id++
		buf.Write(protocol.Encode(&protocol.Frame{Type: protocol.TypeSend, ID: c.id, Text: fmt.Sprintf("h%d", i)}))
	}
	c.raw(buf.String())
	lastReq := c.id
	last := c.until(func(f *protocol.Frame) bool { return f.Re == lastReq }).Msg
	id := other.send(&protocol.Frame{Type: protocol.TypeJoin, Room: "closed"})
	other.reply(id)
	other.sendText("closed", "members only")

	count := func(f *protocol.Frame) (*protocol.Frame, []*protocol.Frame) {
		id := c.send(f)
		var msgs []*protocol.Frame
		r := c.until(func(g *protocol.Frame) bool {
			if g.Type == protocol.TypeMessage && g.History {
				msgs = append(msgs, g)
			}
			return g.Re == id && (g.Type == protocol.TypeOK || g.Type == protocol.TypeError)
		})
		return r, msgs
	}
	for _, tc := range []struct {
		f    protocol.Frame
		want int
	}{
		{protocol.Frame{Limit: -1}, 50},
		{protocol.Frame{Limit: 1 << 62}, protocol.MaxHistory},
		{protocol.Frame{Limit: protocol.MaxHistory + 1}, protocol.MaxHistory},
		{protocol.Frame{Limit: 2}, 2},
		{protocol.Frame{Before: 1}, 0},
		{protocol.Frame{Before: last + 1000, Limit: 5}, 5},
		{protocol.Frame{Before: 1<<64 - 1, Limit: 5}, 5},
		{protocol.Frame{Before: 1 << 63, Limit: 5}, 5},
		{protocol.Frame{Before: last, Limit: 1}, 1},
	} {
		f := tc.f
		f.Type = protocol.TypeHistory
		r, msgs := count(&f)
		if r.Type != protocol.TypeOK || len(msgs) != tc.want || r.Limit != len(msgs) {
			t.Errorf("history before %d limit %d: %s with %d messages, want %d", tc.f.Before, tc.f.Limit, js(r), len(msgs), tc.want)
		}
		for i := 1; i < len(msgs); i++ {
			if msgs[i].ID <= msgs[i-1].ID {
				t.Errorf("history not oldest first: %d after %d", msgs[i].ID, msgs[i-1].ID)
			}
		}
		if tc.f.Before != 0 {
			for _, m := range msgs {
				if m.ID >= tc.f.Before {
					t.Errorf("history before %d sent %d", tc.f.Before, m.ID)
				}
			}
		}
	}
	for _, tc := range []struct {
		f    protocol.Frame
		code string
	}{
		{protocol.Frame{Room: "closed"}, protocol.CodeNotMember},
		{protocol.Frame{Room: "nowhere"}, protocol.CodeNoSuchRoom},
		{protocol.Frame{To: "nobody"}, protocol.CodeNoSuchUser},
	} {
		f := tc.f
		f.Type = protocol.TypeHistory
		r, msgs := count(&f)
		if r.Code != tc.code || len(msgs) != 0 {
			t.Errorf("history %+v: %s with %d messages", tc.f, js(r), len(msgs))
		}
	}
	// A private conversation with oneself, or with someone never written
	// to, is empty, not someone else's.
	for _, to := range []string{"pager", "other"} {
		r, msgs := count(&protocol.Frame{Type: protocol.TypeHistory, To: to})
		if r.Type != protocol.TypeOK || len(msgs) != 0 {
			t.Errorf("history with %s: %s, %d messages", to, js(r), len(msgs))
		}
	}
	assertAlive(t, s.Addr())
}

// One user joins thousands of rooms. The server survives, and every frame
// it sends still fits within the frame limit it announced, or the client
// (which reads with that limit) can never read its login reply again.
func TestBadInputThousandsOfJoins(t *testing.T) {
	s := start(t, nil)
	c := dialRaw(t, s.Addr())
	w := c.hello()
	limit := w.Limits.Frame
	id := c.send(&protocol.Frame{Type: protocol.TypeLogin, Name: "joiner", Password: "pw"})
	c.reply(id)
	const n = 2000
	var buf bytes.Buffer
	for i := 1; i <= n; i++ {
		buf.Write(protocol.Encode(&protocol.Frame{Type: protocol.TypeJoin, ID: uint64(i), Room: fmt.Sprintf("room-%05d", i)}))
	}
	c.raw(buf.String())
	ok := 0
	for ok < n {
		f := c.read()
		if f.Type == protocol.TypeError {
			t.Fatalf("join refused: %s", js(f))
		}
		if f.Type == protocol.TypeOK && f.Re >= 1 && f.Re <= n {
			ok++
		}
	}
	// Joining the same rooms again is harmless.
	for i := 1; i <= 20; i++ {
		id := c.send(&protocol.Frame{Type: protocol.TypeJoin, Room: fmt.Sprintf("ROOM-%05d", i)})
		if r := c.reply(id); r.Type != protocol.TypeOK || r.Room != fmt.Sprintf("room-%05d", i) {
			t.Fatalf("join again: %s", js(r))
		}
	}

	sizeOf := func(what string, f *protocol.Frame) {
		t.Helper()
		if n := len(protocol.Encode(f)) - 1; n > limit {
			// BUG: rooms lists every room, and the login reply every
			// room of the user, with no bound: past ~1000 rooms they
			// exceed the frame limit, /rooms breaks every client's
			// connection, and this user can never log in again.
			t.Errorf("%s is a frame of %d bytes, over the announced limit of %d", what, n, limit)
		}
	}
	id = c.send(&protocol.Frame{Type: protocol.TypeRooms})
	r := c.reply(id)
	if r.Type != protocol.TypeOK {
		t.Fatalf("rooms: %s", js(r))
	}
	if len(r.Rooms)+r.More != n+1 {
		t.Errorf("rooms lists %d rooms and %d more, want %d", len(r.Rooms), r.More, n+1)
	}
	sizeOf("the rooms reply", r)
	c.nc.Close()

	// A new login of the same user lists its rooms.
	d := dialRaw(t, s.Addr())
	d.hello()
	id = d.send(&protocol.Frame{Type: protocol.TypeLogin, Name: "joiner", Password: "pw"})
	r = d.reply(id)
	if r.Type != protocol.TypeOK {
		t.Fatalf("login after %d joins: %s", n, js(r))
	}
	sizeOf("the login reply", r)

	// Someone else asking for the rooms.
	e := login(t, s.Addr(), "onlooker")
	id = e.send(&protocol.Frame{Type: protocol.TypeRooms})
	sizeOf("another user's rooms reply", e.reply(id))
	assertAlive(t, s.Addr())
}

// A client that goes away during login, at every stage, leaves no session
// behind: a watcher sees each one go offline again, and the name can log
// in normally afterwards.
func TestBadInputDisconnectMidLogin(t *testing.T) {
	s := start(t, nil)
	watcher := login(t, s.Addr(), "watcher")
	stages := []func(c *client, name string){
		func(c *client, name string) {}, // connect and leave
		func(c *client, name string) { c.raw(`{"type":"hel`) },
		func(c *client, name string) { c.hello() },
		func(c *client, name string) {
			c.hello()
			c.raw(`{"type":"login","id":1,"name":"` + name + `","pass`)
		},
	}
	for i, stage := range stages {
		c := dialRaw(t, s.Addr())
		stage(c, fmt.Sprintf("ghost%d", i))
		c.nc.Close()
	}
	// The whole login is sent, and the connection closed before the reply
	// can be read: the login goes through, then the session ends.
	const n = 20
	for i := range n {
		c := dialRaw(t, s.Addr())
		c.hello()
		c.send(&protocol.Frame{Type: protocol.TypeLogin, Name: fmt.Sprintf("gone%d", i), Password: "pw"})
		c.nc.Close()
	}
	offline := map[string]bool{}
	for len(offline) < n {
		f := watcher.read()
		if f.Type == protocol.TypePresence && f.Status == protocol.StatusOffline {
			offline[f.Name] = true
		}
	}
	id := watcher.send(&protocol.Frame{Type: protocol.TypeWho})
	for _, m := range watcher.reply(id).Members {
		if m.Online && m.Name != "watcher" {
			t.Errorf("%s is still online", m.Name)
		}
		if strings.HasPrefix(m.Name, "ghost") {
			t.Errorf("%s was registered by a login that never arrived", m.Name)
		}
	}
	// The names were registered and work.
	for i := range n {
		login(t, s.Addr(), fmt.Sprintf("gone%d", i)).nc.Close()
	}
	// The names whose login never arrived were not taken: they register
	// now like any new name.
	for i := range 4 {
		login(t, s.Addr(), fmt.Sprintf("ghost%d", i))
	}
	assertAlive(t, s.Addr())
}

// A flood of concurrent password logins is answered, each with exactly
// one reply: ok or server_busy. Hashing runs under its bound (one at a
// time here), so the rest wait in a bounded queue or are turned away; the
// server survives and serves a fresh client afterwards.
func TestBadInputLoginFlood(t *testing.T) {
	s := start(t, func(c *server.Config) {
		// Costly enough that the flood arrives while the first hashes run.
		c.HashParams = auth.Params{Time: 2, MemoryKiB: 2 << 10, Threads: 1}
		c.HashParallel = 1
	})
	const n = 400 // more than the hasher's queue of 256
	conns := make([]*client, n)
	for i := range conns {
		conns[i] = dialRaw(t, s.Addr())
		conns[i].hello()
	}
	// All logins are written before any reply is read.
	for i, c := range conns {
		c.send(&protocol.Frame{Type: protocol.TypeLogin, Name: fmt.Sprintf("flood%d", i), Password: "pw"})
	}
	var mu sync.Mutex
	codes := map[string]int{}
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.nc.Close()
			c.nc.SetReadDeadline(time.Now().Add(2 * time.Minute))
			var got []string
			for {
				line, err := c.r.ReadFrame()
				if err != nil {
					got = append(got, "read: "+err.Error())
					break
				}
				f, err := protocol.Decode(line)
				if err != nil {
					continue
				}
				if f.Re == 2 {
					break // the ping's reply: the login's came before it
				}
				if f.Re != 1 {
					continue
				}
				got = append(got, f.Type+"/"+f.Code)
				if len(got) == 1 {
					c.nc.Write(protocol.Encode(&protocol.Frame{Type: protocol.TypePing, ID: 2}))
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) != 1 {
				codes[fmt.Sprint(got)]++
				return
			}
			codes[got[0]]++
		}()
	}
	wg.Wait()
	t.Logf("replies: %v", codes)
	for k, v := range codes {
		if k != "ok/" && k != "error/"+protocol.CodeBusy {
			t.Errorf("%d logins got %s", v, k)
		}
	}
	if codes["error/"+protocol.CodeBusy] == 0 {
		t.Errorf("no login of %d was refused with server_busy", n)
	}
	if codes["ok/"] == 0 {
		t.Errorf("no login of %d succeeded", n)
	}
	assertAlive(t, s.Addr())
}

// Half-open connections: one that sends half a frame and then nothing,
// and one that shuts its sending side. Neither holds the server up, and a
// client that shuts its sending side still gets the replies to what it
// sent before.
func TestBadInputHalfOpen(t *testing.T) {
	s := start(t, func(c *server.Config) {
		c.PingInterval = 300 * time.Millisecond
		c.PingTimeout = 300 * time.Millisecond
		c.HandshakeTimeout = 2 * time.Second
	})
	// Half a frame before login: cut off by the handshake deadline.
	pre := dialRaw(t, s.Addr())
	pre.hello()
	pre.raw(`{"type":"login","id":1,"name":"half`)
	// Half a frame after login: pinged, then cut off. The half frame is
	// not a pong.
	post := login(t, s.Addr(), "halfway")
	post.raw(`{"type":"pong"`)
	// Meanwhile others are served.
	assertAlive(t, s.Addr())
	if bye := pre.eof(); bye == nil || bye.Code != protocol.CodeHandshakeTimeout {
		t.Errorf("half frame before login: bye %s", js(bye))
	}
	if bye := post.eof(); bye == nil || bye.Code != protocol.CodePingTimeout {
		t.Errorf("half frame after login: bye %s", js(bye))
	}

	// Shutting the sending side after a request: the replies to what was
	// sent still arrive before the server closes.
	for _, typ := range []string{protocol.TypePing, protocol.TypeRooms, protocol.TypeSend} {
		t.Run(typ, func(t *testing.T) {
			c := login(t, s.Addr(), "closer-"+typ)
			id := c.send(&protocol.Frame{Type: typ, Text: "last words"})
			c.nc.(*net.TCPConn).CloseWrite()
			var reply *protocol.Frame
			c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			for {
				line, err := c.r.ReadFrame()
				if err != nil {
					break
				}
				if f, err := protocol.Decode(line); err == nil && f.Re == id {
					reply = f
				}
			}
			// BUG: the server closes the connection as soon as it reads
			// the end of the stream; replies that come from the hub (send
			// after its disk write, rooms, even ping once logged in) are
			// queued after that and dropped, so the last requests of a
			// client that shuts its sending side get no reply.
			if reply == nil || reply.Type != protocol.TypeOK {
				t.Errorf("%s before shutting the sending side: reply %s", typ, js(reply))
			}
		})
	}
	assertAlive(t, s.Addr())
}

// The frames the server writes never exceed the limit it announced, for
// the replies whose size depends on what other users did: who with many
// members with long names.
func TestBadInputLargeReplies(t *testing.T) {
	s := start(t, nil)
	// 500 users with the longest names in four-byte characters, all in
	// one room.
	var names []string
	for i := range 500 {
		names = append(names, strings.Repeat("𠀀", 28)+fmt.Sprintf("%04d", i))
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	errs := make(chan string, len(names))
	for _, name := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			nc, err := net.Dial("tcp", s.Addr())
			if err != nil {
				errs <- err.Error()
				return
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(time.Minute))
			r := protocol.NewReader(nc, 1<<20)
			nc.Write(protocol.Encode(&protocol.Frame{Type: protocol.TypeHello, Version: protocol.Version}))
			nc.Write(protocol.Encode(&protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: name, Password: "pw"}))
			nc.Write(protocol.Encode(&protocol.Frame{Type: protocol.TypeJoin, ID: 2, Room: strings.Repeat("房", 32)}))
			for {
				line, err := r.ReadFrame()
				if err != nil {
					errs <- name + ": " + err.Error()
					return
				}
				f, _ := protocol.Decode(line)
				if f != nil && f.Re == 2 {
					if f.Type != protocol.TypeOK {
						errs <- fmt.Sprintf("%s: join: %s", name, js(f))
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	c := dialRaw(t, s.Addr())
	w := c.hello()
	id := c.send(&protocol.Frame{Type: protocol.TypeLogin, Name: "asker", Password: "pw"})
	c.reply(id)
	for _, room := range []string{"", strings.Repeat("房", 32)} {
		id := c.send(&protocol.Frame{Type: protocol.TypeWho, Room: room})
		r := c.reply(id)
		if r.Type != protocol.TypeOK {
			t.Fatalf("who %q: %s", room, js(r))
		}
		if n := len(protocol.Encode(r)) - 1; n > w.Limits.Frame {
			t.Errorf("who %q is a frame of %d bytes, over the limit of %d", room, n, w.Limits.Frame)
		}
		if len(r.Members)+r.More < len(names) {
			t.Errorf("who %q: %d members and %d more", room, len(r.Members), r.More)
		}
	}
	assertAlive(t, s.Addr())
}

// Legitimate requests whose answers are large: a page of history of the
// longest messages, a fresh login into busy rooms with private messages
// waiting, and a resume after a busy absence. A client that reads as fast
// as it can must get them all, not be cut off as a slow consumer by the
// burst its own request caused; and if it is cut off, reconnecting as
// PROTOCOL.md says (since = the larger of the last id seen and the last
// login's since) must still bring every message.
func TestBadInputLargeAnswersAreNotSlowConsumers(t *testing.T) {
	s := start(t, nil)
	writer := login(t, s.Addr(), "writer")
	// The longest text, of characters JSON escapes: about 8 KB a frame.
	long := func(i int) string {
		p := fmt.Sprintf("%d ", i)
		return p + strings.Repeat(`"`, protocol.MaxTextBytes-len(p))
	}
	rooms := []string{"lobby"}
	for i := range 9 {
		rooms = append(rooms, fmt.Sprintf("busy%d", i))
	}
	for _, r := range rooms[1:] {
		id := writer.send(&protocol.Frame{Type: protocol.TypeJoin, Room: r})
		writer.reply(id)
	}
	reader := login(t, s.Addr(), "reader")
	for _, r := range rooms[1:] {
		id := reader.send(&protocol.Frame{Type: protocol.TypeJoin, Room: r})
		reader.reply(id)
	}
	reader.nc.Close()

	// burst sends n long messages to a room or to reader, and returns
	// their ids.
	burst := func(room, to string, n int) []uint64 {
		var buf bytes.Buffer
		first := writer.id + 1
		for i := range n {
			writer.id++
			buf.Write(protocol.Encode(&protocol.Frame{Type: protocol.TypeSend, ID: writer.id, Room: room, To: to, Text: long(i)}))
		}
		writer.raw(buf.String())
		var ids []uint64
		for len(ids) < n {
			f := writer.read()
			if f.Re >= first && f.Re <= writer.id {
				if f.Type != protocol.TypeOK {
					t.Fatalf("send: %s", js(f))
				}
				ids = append(ids, f.Msg)
			}
		}
		return ids
	}
	// The lobby gets a full page of history; the other rooms as much as
	// a fresh login shows.
	burst("", "", protocol.MaxHistory)
	for _, r := range rooms[1:] {
		burst(r, "", 50)
	}
	pms := burst("", "reader", 20)

	// session logs reader in and reads as fast as it can until the
	// catch-up is complete: the login reply, or, if the login reply says
	// more, the reply to the last sync (see PROTOCOL.md), or the end of
	// the connection. It returns the ids of live (not history) messages,
	// the login reply and the bye, if any.
	type result struct {
		live []uint64
		ok   *protocol.Frame
		bye  *protocol.Frame
	}
	session := func(since uint64, resume bool) result {
		c := dialRaw(t, s.Addr())
		defer c.nc.Close()
		c.hello()
		c.raw(string(protocol.Encode(&protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: "reader", Password: "pw", Since: since, Resume: resume})))
		var res result
		last := since
		waiting := uint64(1) // the request whose reply ends or continues the catch-up
		c.nc.SetReadDeadline(time.Now().Add(time.Minute))
		for {
			line, err := c.r.ReadFrame()
			if err != nil {
				return res
			}
			f, err := protocol.Decode(line)
			if err != nil {
				continue
			}
			switch {
			case f.Type == protocol.TypeBye:
				res.bye = f
			case f.Type == protocol.TypeMessage && !f.History:
				res.live = append(res.live, f.ID)
				last = max(last, f.ID)
			case f.Re == waiting:
				if f.Re == 1 {
					res.ok = f
				}
				if f.More == 0 {
					return res
				}
				waiting++
				c.raw(string(protocol.Encode(&protocol.Frame{Type: protocol.TypeSync, ID: waiting, Since: last})))
			}
		}
	}

	// A page of history of the longest messages, on a login with nothing
	// to catch up.
	c := dialRaw(t, s.Addr())
	c.hello()
	c.send(&protocol.Frame{Type: protocol.TypeLogin, Name: "reader", Password: "pw", Resume: true, Since: pms[len(pms)-1]})
	c.reply(1)
	id := c.send(&protocol.Frame{Type: protocol.TypeHistory, Limit: protocol.MaxHistory})
	n := 0
	var bye *protocol.Frame
	c.nc.SetReadDeadline(time.Now().Add(time.Minute))
	for {
		line, err := c.r.ReadFrame()
		if err != nil {
			break
		}
		f, _ := protocol.Decode(line)
		if f != nil && f.Type == protocol.TypeBye {
			bye = f
		}
		if f != nil && f.Type == protocol.TypeMessage {
			n++
		}
		if f != nil && f.Re == id {
			break
		}
	}
	c.nc.Close()
	if bye != nil || n != protocol.MaxHistory {
		t.Errorf("a history page of %d long messages: %d messages, bye %s", protocol.MaxHistory, n, js(bye))
	}

	// follow logs in as a client does after each cut, and returns every
	// live message id it received.
	follow := func(what string, since uint64, resume bool) map[uint64]bool {
		got := map[uint64]bool{}
		seen := since
		for attempt := range 5 {
			res := session(since, resume)
			for _, id := range res.live {
				got[id] = true
				seen = max(seen, id)
			}
			if res.bye == nil {
				return got
			}
			t.Errorf("%s, attempt %d: cut off with %s after %d live messages", what, attempt+1, res.bye.Code, len(res.live))
			if res.ok == nil {
				return got
			}
			since, resume = max(seen, res.ok.Since), true
		}
		return got
	}

	// A fresh login: the recent history of ten rooms (about 4 MB), then
	// the private messages that waited for reader.
	got := follow("fresh login", 0, false)
	var lost []uint64
	for _, id := range pms {
		if !got[id] {
			lost = append(lost, id)
		}
	}
	if len(lost) > 0 {
		// BUG: the private messages were marked delivered and the
		// login reply's since covered them, but the queue overflowed
		// and they were discarded: they are never delivered again.
		t.Errorf("%d of %d private messages sent while reader was away never arrived: %v", len(lost), len(pms), lost)
	}

	// A resume from before all of them gets every message since.
	got = follow("resume", 1, true)
	var missing int
	for id := uint64(2); id <= pms[len(pms)-1]; id++ {
		if !got[id] {
			missing++
		}
	}
	if missing > 0 {
		// BUG: the catch-up (up to 5000 entries of up to 8 KB) is
		// queued at once against a 1 MiB queue, so the client is cut
		// off as a slow consumer; the login reply's since already
		// claimed the whole catch-up, so the rest is never sent.
		t.Errorf("a resume after %d messages missed %d of them", pms[len(pms)-1]-1, missing)
	}
	assertAlive(t, s.Addr())
}

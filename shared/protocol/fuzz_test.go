package protocol_test

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/parley-chat/parley/shared/protocol"
)

// chunkReader hands out data in pieces whose sizes come from sizes, in
// turn. A size of 0 is a read that fails with errStall and returns
// nothing, as a read deadline does; the read after it returns one byte,
// so that the stream always moves on.
type chunkReader struct {
	data    []byte
	sizes   []byte
	next    int
	stalled bool
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := len(p)
	if len(c.sizes) > 0 {
		n = int(c.sizes[c.next%len(c.sizes)])
		c.next++
	}
	if n == 0 && !c.stalled {
		c.stalled = true
		return 0, errStall
	}
	c.stalled = false
	n = max(1, min(n, len(p), len(c.data)))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// readFrames reads every frame from r, retrying after errStall, and
// returns copies of the frames and the error that ended the stream.
func readFrames(r *protocol.Reader) ([]string, error) {
	var frames []string
	for {
		f, err := r.ReadFrame()
		if err == errStall {
			continue
		}
		if err != nil {
			return frames, err
		}
		frames = append(frames, string(f))
	}
}

// modelFrames is the framing rule written out plainly: lines end at "\n",
// one "\r" before it is dropped, a line longer than max ends the stream,
// and blank lines are skipped.
func modelFrames(data []byte, max int) ([]string, error) {
	var frames []string
	for _, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > max {
			return frames, protocol.ErrFrameTooLarge
		}
		if len(bytes.TrimSpace(line)) > 0 {
			frames = append(frames, string(line))
		}
	}
	return frames, io.EOF
}

func FuzzReader(f *testing.F) {
	f.Add([]byte("{\"type\":\"hello\",\"version\":1}\n{\"type\":\"login\",\"id\":1,\"name\":\"李雷\"}\n"), []byte{1, 7, 0, 3}, uint16(4999))
	f.Add([]byte("a\r\nbb\r\n\r\n  \nccc\r"), []byte{2}, uint16(3))
	f.Add([]byte("0123456789abcdef0123\r\nx"), []byte{16, 0, 0, 5}, uint16(20))
	f.Add([]byte("0123456789abcdef0123\r\n"), []byte{}, uint16(19))
	f.Add([]byte(strings.Repeat("y", 5000)+"\n"+strings.Repeat("z", 4097)+"\r\n"), []byte{255, 0, 200}, uint16(4097))
	f.Fuzz(func(t *testing.T, data, sizes []byte, maxSeed uint16) {
		max := int(maxSeed) % 5000
		want, wantErr := modelFrames(data, max)

		whole, wholeErr := readFrames(protocol.NewReader(bytes.NewReader(data), max))
		if !slices.Equal(whole, want) || wholeErr != wantErr {
			t.Fatalf("max %d, read whole: %d frames and %v; want %d frames and %v\nframes %q\nwant   %q",
				max, len(whole), wholeErr, len(want), wantErr, whole, want)
		}

		split, splitErr := readFrames(protocol.NewReader(&chunkReader{data: data, sizes: sizes}, max))
		if !slices.Equal(split, whole) || splitErr != wholeErr {
			t.Fatalf("max %d, chunks %v: %d frames and %v; read whole: %d frames and %v\nframes %q\nwhole  %q",
				max, sizes, len(split), splitErr, len(whole), wholeErr, split, whole)
		}

		for _, fr := range split {
			if len(fr) > max {
				t.Fatalf("frame of %d bytes passed a limit of %d", len(fr), max)
			}
			if strings.Contains(fr, "\n") || len(strings.TrimSpace(fr)) == 0 {
				t.Fatalf("frame %q holds a newline or is blank", fr)
			}
		}
	})
}

// normalize makes empty lists nil, since an empty list and no list are
// the same on the wire.
func normalize(f protocol.Frame) protocol.Frame {
	if len(f.Rooms) == 0 {
		f.Rooms = nil
	}
	if len(f.Members) == 0 {
		f.Members = nil
	}
	if len(f.Banned) == 0 {
		f.Banned = nil
	}
	if len(f.Reactions) == 0 {
		f.Reactions = nil
	}
	if len(f.Private) == 0 {
		f.Private = nil
	}
	return f
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"type":"hello","version":1,"client":"parley-client/1"}`))
	f.Add([]byte(`{"type":"send","id":6,"room":"Go","text":"你好\n👋","key":"k","kind":"file","file":{"name":"a","size":1,"path":"p"}}`))
	f.Add([]byte(`{"type":"ok","re":4,"rooms":[],"members":[{"name":"x","online":true}],"more":1}`))
	f.Add([]byte(`{"type":"welcome","limits":{"frame":65536},"TYPE":"x","future":[1,{"a":null}]}`))
	f.Add([]byte(`{"type":"message","text":"\ud800 \u2028 <&>","time":-1}`))
	f.Add([]byte(`{"type":""}`))
	f.Add([]byte(`[{"type":"ping"}]`))
	for _, ex := range loadSpec(f).examples {
		f.Add([]byte(ex.text))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := protocol.Decode(data)
		if err != nil {
			var perr *protocol.Error
			if !errors.As(err, &perr) || (perr.Code != protocol.CodeBadFrame && perr.Code != protocol.CodeBadRequest) {
				t.Fatalf("Decode(%q) failed with %v; want code %s or %s", data, err, protocol.CodeBadFrame, protocol.CodeBadRequest)
			}
			// A refused frame comes back only to name the request in
			// the refusal: it has a type.
			if fr != nil && fr.Type == "" {
				t.Fatalf("Decode(%q) failed and returned a frame without a type", data)
			}
			if perr.Code == protocol.CodeBadRequest && fr == nil {
				t.Fatalf("Decode(%q) refused a request without returning it", data)
			}
			return
		}
		if fr.Type == "" {
			t.Fatalf("Decode(%q) returned a frame without a type", data)
		}

		enc := protocol.Encode(fr)
		if !bytes.HasSuffix(enc, []byte("\n")) || bytes.Count(enc, []byte("\n")) != 1 {
			t.Fatalf("Encode gave %q: not one line", enc)
		}
		again, err := protocol.Decode(enc)
		if err != nil {
			t.Fatalf("Decode(Encode(Decode(%q))): %v\nencoded %s", data, err, enc)
		}
		if !reflect.DeepEqual(normalize(*fr), normalize(*again)) {
			t.Fatalf("frame changed on re-encoding:\nfirst  %+v\nsecond %+v\nencoded %s", *fr, *again, enc)
		}
		if enc2 := protocol.Encode(again); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable:\n%s%s", enc, enc2)
		}

		// What Encode writes, a Reader reads back as one frame.
		r := protocol.NewReader(bytes.NewReader(enc), len(enc))
		line, err := r.ReadFrame()
		if err != nil || !bytes.Equal(line, bytes.TrimSuffix(enc, []byte("\n"))) {
			t.Fatalf("reading back %q gave %q, %v", enc, line, err)
		}
		if _, err := r.ReadFrame(); err != io.EOF {
			t.Fatalf("reading back %q: a second frame or %v", enc, err)
		}
	})
}

func FuzzParseName(f *testing.F) {
	for _, s := range []string{
		"Alice", "alice", "ＡＬＩＣＥ", "李雷", "Алиса", "ΣΑΣ", "σας", "İstanbul", "ß", "ẞ", "\u212a", "مرحبا",
		"a\u0301", "ｶ", "#room", "＃room", "@x", "/x", "a b", "a\u3000b", "a\u200db", "😀", "\xff",
		strings.Repeat("é", 33), "1abc", "!x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := protocol.ParseName(s)
		if err != nil {
			if c := code(err); c != protocol.CodeBadName {
				t.Fatalf("ParseName(%q): %v; want code %s", s, err, protocol.CodeBadName)
			}
			return
		}
		checkName(t, s, n)
		again, err := protocol.ParseName(n.Display)
		if err != nil {
			t.Fatalf("ParseName(%q) displays %q, which does not parse: %v", s, n.Display, err)
		}
		if again != n {
			t.Fatalf("ParseName(%q) = %+v, but its display parses as %+v", s, n, again)
		}
		if k, err := protocol.ParseName(n.Key); err == nil && k.Key != n.Key {
			t.Fatalf("ParseName(%q) has key %q, which parses to key %q", s, n.Key, k.Key)
		}

		room, err := protocol.ParseRoom(s)
		if err != nil || room != n {
			t.Fatalf("ParseRoom(%q) = %+v, %v; ParseName gave %+v", s, room, err, n)
		}
		hashed, err := protocol.ParseRoom("#" + s)
		if err != nil || hashed != n {
			t.Fatalf("ParseRoom(%q) = %+v, %v; want %+v", "#"+s, hashed, err, n)
		}
	})
}

// checkName checks the rules every parsed name keeps.
func checkName(t *testing.T, in string, n protocol.Name) {
	t.Helper()
	if n.Key == "" || n.Display == "" {
		t.Fatalf("ParseName(%q) = %+v: an empty form", in, n)
	}
	if !utf8.ValidString(n.Key) || !utf8.ValidString(n.Display) {
		t.Fatalf("ParseName(%q) = %+v: not UTF-8", in, n)
	}
	if c := utf8.RuneCountInString(n.Display); c > protocol.MaxNameRunes {
		t.Fatalf("ParseName(%q) displays %d characters", in, c)
	}
	if strings.ContainsAny(n.Display[:1], "#@/") {
		t.Fatalf("ParseName(%q) displays %q, which starts with a marker", in, n.Display)
	}
	for _, r := range n.Display + n.Key {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			t.Fatalf("ParseName(%q) = %+v: holds %U", in, n, r)
		}
	}
}

func FuzzCheckEmoji(f *testing.F) {
	for _, s := range []string{"👍", "👍\ufe0f", "👍🏽", "👨‍👩‍👧", "🇫🇷", "❤️", "❤", "a", "👍👍", ":+1:", "", " ", "\xff", "1\ufe0f\u20e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := protocol.CheckEmoji(s)
		if err != nil {
			if c := code(err); c != protocol.CodeBadEmoji {
				t.Fatalf("CheckEmoji(%q): %v; want code %s", s, err, protocol.CodeBadEmoji)
			}
			return
		}
		if e == "" || strings.ContainsAny(e, "\ufe0e\ufe0f") || !utf8.ValidString(e) {
			t.Fatalf("CheckEmoji(%q) = %q", s, e)
		}
		if again, err := protocol.CheckEmoji(e); err != nil || again != e {
			t.Fatalf("CheckEmoji(%q) = %q, which checks as %q, %v", s, e, again, err)
		}
	})
}

func FuzzFirstLine(f *testing.F) {
	for _, s := range []string{"hi", "a\nb", "\n\n  x  \ny", strings.Repeat("长", 100), "", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := protocol.FirstLine(s)
		if len(q) > protocol.MaxQuoteBytes+len("…") || strings.Contains(q, "\n") {
			t.Fatalf("FirstLine(%q) = %q: too long or more than a line", s, q)
		}
		if utf8.ValidString(s) && !utf8.ValidString(q) {
			t.Fatalf("FirstLine(%q) = %q: not UTF-8", s, q)
		}
	})
}

package protocol_test

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/parley-chat/parley/shared/protocol"
)

// readAll reads frames until an error and returns them (copied) with the
// error that ended the stream.
func readAll(r *protocol.Reader) ([]string, error) {
	var frames []string
	for {
		f, err := r.ReadFrame()
		if err != nil {
			return frames, err
		}
		frames = append(frames, string(f))
	}
}

func TestReaderFrames(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"one", "{\"type\":\"ping\"}\n", []string{`{"type":"ping"}`}},
		{"several in one read", "a\nb\nc\n", []string{"a", "b", "c"}},
		{"crlf", "a\r\nb\r\n", []string{"a", "b"}},
		{"only the last cr goes", "a\r\r\n", []string{"a\r"}},
		{"blank lines skipped", "\n\r\n  \n\t\na\n\n", []string{"a"}},
		{"inner spaces kept", "  a b  \n", []string{"  a b  "}},
		{"last frame without newline", "a\nb", []string{"a", "b"}},
		{"last frame without newline, with cr", "a\nb\r", []string{"a", "b"}},
		{"blank tail without newline", "a\n   ", []string{"a"}},
		{"empty", "", nil},
		{"utf-8", "{\"text\":\"你好\"}\n", []string{`{"text":"你好"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, rd := range []struct {
				name string
				r    io.Reader
			}{
				{"whole", strings.NewReader(tt.in)},
				{"byte by byte", iotest.OneByteReader(strings.NewReader(tt.in))},
				{"half", iotest.HalfReader(strings.NewReader(tt.in))},
			} {
				got, err := readAll(protocol.NewReader(rd.r, 64))
				if err != io.EOF {
					t.Errorf("%s: stream ended with %v, want EOF", rd.name, err)
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("%s: frames %q, want %q", rd.name, got, tt.want)
				}
			}
		})
	}
}

func TestReaderLimit(t *testing.T) {
	for _, max := range []int{1, 16, 100, 4095, 4096, 4097, 10000, protocol.DefaultMaxFrame} {
		exact := strings.Repeat("x", max)
		tests := []struct {
			name string
			in   string
			want []string
			err  error
		}{
			{"exactly the limit", exact + "\nk\n", []string{exact, "k"}, io.EOF},
			{"exactly the limit with crlf", exact + "\r\nk\n", []string{exact, "k"}, io.EOF},
			{"exactly the limit at the end", "k\n" + exact, []string{"k", exact}, io.EOF},
			{"one over", "k\n" + exact + "y\nlater\n", []string{"k"}, protocol.ErrFrameTooLarge},
			{"one over, cr inside", "k\n" + exact + "\ry\n", []string{"k"}, protocol.ErrFrameTooLarge},
			{"one over at the end", exact + "y", nil, protocol.ErrFrameTooLarge},
			{"blank but too long", strings.Repeat(" ", max+1) + "\nk\n", nil, protocol.ErrFrameTooLarge},
			{"far over", strings.Repeat("z", 3*max+5000) + "\n", nil, protocol.ErrFrameTooLarge},
		}
		for _, tt := range tests {
			for _, split := range []bool{false, true} {
				var r io.Reader = strings.NewReader(tt.in)
				if split {
					r = iotest.OneByteReader(r)
				}
				got, err := readAll(protocol.NewReader(r, max))
				if err != tt.err || !slices.Equal(got, tt.want) {
					t.Errorf("max %d, %s (byte by byte: %v): got %d frames and %v; want %d frames and %v",
						max, tt.name, split, len(got), err, len(tt.want), tt.err)
				}
			}
		}
	}
}

// stallReader returns its parts one per Read, with errStall after each
// part, as a connection with a read deadline does when data stops coming
// in the middle of a frame.
type stallReader struct {
	parts []string
	stall bool
}

var errStall = errors.New("read deadline exceeded")

func (s *stallReader) Read(p []byte) (int, error) {
	if s.stall {
		s.stall = false
		return 0, errStall
	}
	if len(s.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.parts[0])
	s.parts[0] = s.parts[0][n:]
	if s.parts[0] == "" {
		s.parts = s.parts[1:]
		s.stall = true
	}
	return n, nil
}

func TestReaderResumesAfterReadError(t *testing.T) {
	long := strings.Repeat("L", 9000) // longer than the reader's buffer
	src := &stallReader{parts: []string{`{"type":`, `"ping"}` + "\n" + long[:5000], long[5000:] + "\r", "\nlast"}}
	r := protocol.NewReader(src, 10000)
	var got []string
	stalls := 0
	for {
		f, err := r.ReadFrame()
		if err == errStall {
			stalls++
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("ReadFrame: %v", err)
		}
		got = append(got, string(f))
	}
	want := []string{`{"type":"ping"}`, long, "last"}
	if !slices.Equal(got, want) {
		t.Errorf("frames %.40q, want %.40q", got, want)
	}
	if stalls != 4 {
		t.Errorf("saw %d read errors, want 4", stalls)
	}
}

func TestDecodeRefusesWhatIsNotAFrame(t *testing.T) {
	for _, in := range []string{
		``,
		`   `,
		`hello`,
		`[]`,
		`[{"type":"ping"}]`,
		`"ping"`,
		`42`,
		`null`,
		`{}`,
		`{"type":""}`,
		`{"type":null}`,
		`{"type":1}`,
		`{"type":"ping"`,
		`{"type":"ping"} {"type":"pong"}`,
		`{"type":"send","id":-1}`,
		`{"type":"send","id":1.5}`,
		`{"type":"send","id":"1"}`,
		`{"type":"ping","type":""}`,
	} {
		f, err := protocol.Decode([]byte(in))
		var perr *protocol.Error
		if !errors.As(err, &perr) || perr.Code != protocol.CodeBadFrame {
			t.Errorf("Decode(%q) = %+v, %v; want an error with code %s", in, f, err, protocol.CodeBadFrame)
		}
	}
}

// A well-formed request with a member of the wrong type is refused as
// bad_request, with the frame as far as it was read, so that the refusal
// answers the request's id.
func TestDecodeWrongMemberType(t *testing.T) {
	for _, in := range []string{
		`{"type":"welcome","limits":[]}`,
		`{"type":"who","members":{}}`,
		`{"type":"send","id":7,"text":123}`,
		`{"type":"history","id":7,"limit":"10"}`,
	} {
		f, err := protocol.Decode([]byte(in))
		var perr *protocol.Error
		if !errors.As(err, &perr) || perr.Code != protocol.CodeBadRequest || f == nil {
			t.Errorf("Decode(%q) = %+v, %v; want the frame and an error with code %s", in, f, err, protocol.CodeBadRequest)
			continue
		}
		if f.Type == "send" || f.Type == "history" {
			if f.ID != 7 {
				t.Errorf("Decode(%q) kept id %d, want 7", in, f.ID)
			}
		}
	}
	f, err := protocol.Decode([]byte("{\"type\":\"send\",\"id\":8,\"text\":\"a\xffb\"}"))
	var perr *protocol.Error
	if !errors.As(err, &perr) || perr.Code != protocol.CodeBadFrame || f == nil || f.ID != 8 {
		t.Errorf("invalid UTF-8: %+v, %v; want the frame with id 8 and bad_frame", f, err)
	}
}

func TestDecode(t *testing.T) {
	f, err := protocol.Decode([]byte(`{"type":"send","id":18446744073709551615,"room":"Go","text":"a\nb \u2028 \ud83d\ude00","future":{"x":[1,2]}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := protocol.Frame{Type: protocol.TypeSend, ID: 1<<64 - 1, Room: "Go", Text: "a\nb \u2028 😀"}
	if !reflect.DeepEqual(*f, want) {
		t.Errorf("decoded %+v, want %+v", *f, want)
	}
}

func TestEncode(t *testing.T) {
	f := &protocol.Frame{Type: protocol.TypeMessage, ID: 7, Room: "Go", From: "李雷", Text: "<b>a & b</b>\nline\r\u2028", Time: 1777888800000}
	b := protocol.Encode(f)
	if !bytes.HasSuffix(b, []byte("\n")) || bytes.Count(b, []byte("\n")) != 1 || bytes.ContainsRune(b, '\r') {
		t.Fatalf("Encode = %q; want one line ending in a newline", b)
	}
	if !bytes.Contains(b, []byte("<b>a & b</b>")) {
		t.Errorf("Encode = %q; want markup left unescaped", b)
	}
	want := `{"type":"message","id":7,"room":"Go","from":"李雷","text":"<b>a & b</b>\nline\r\u2028","time":1777888800000}` + "\n"
	if string(b) != want {
		t.Errorf("Encode = %s, want %s", b, want)
	}
	back, err := protocol.Decode(b)
	if err != nil || !reflect.DeepEqual(back, f) {
		t.Errorf("Decode(Encode(f)) = %+v, %v; want %+v", back, err, *f)
	}
}

func TestErrorFrame(t *testing.T) {
	e := protocol.Errorf(protocol.CodeNotMember, "you are not in %s", "Go")
	if got, want := e.Error(), "not_member: you are not in Go"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	f := e.Frame(9)
	want := protocol.Frame{Type: protocol.TypeError, Re: 9, Code: protocol.CodeNotMember, Message: "you are not in Go"}
	if !reflect.DeepEqual(*f, want) {
		t.Errorf("Frame(9) = %+v, want %+v", *f, want)
	}
	if got := string(protocol.Encode(e.Frame(0))); strings.Contains(got, `"re"`) {
		t.Errorf("an error frame for no request has re: %s", got)
	}
}

func TestIsRequest(t *testing.T) {
	requests := []string{
		protocol.TypeLogin, protocol.TypeJoin, protocol.TypeLeave, protocol.TypeRooms, protocol.TypeWho,
		protocol.TypeSend, protocol.TypeHistory, protocol.TypeRecall, protocol.TypeKick,
		protocol.TypeFilesToken, protocol.TypePing, protocol.TypeQuit,
	}
	others := []string{
		protocol.TypeHello, protocol.TypeWelcome, protocol.TypePong, protocol.TypeOK, protocol.TypeError,
		protocol.TypeMessage, protocol.TypePresence, protocol.TypeMember, protocol.TypeOwner,
		protocol.TypeKicked, protocol.TypeReplaced, protocol.TypeBye, "", "LOGIN", "unknown",
	}
	for _, typ := range requests {
		if !protocol.IsRequest(typ) {
			t.Errorf("IsRequest(%q) = false, want true", typ)
		}
	}
	for _, typ := range others {
		if protocol.IsRequest(typ) {
			t.Errorf("IsRequest(%q) = true, want false", typ)
		}
	}
}

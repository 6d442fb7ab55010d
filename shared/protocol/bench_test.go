package protocol_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/parley-chat/parley/shared/protocol"
)

var benchMessage = []byte(`{"type":"send","id":42,"room":"Go","text":"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789","key":"4f1c2a9e0b7d3c5a8e6f1b2d"}`)

func BenchmarkDecode(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchMessage)))
	for b.Loop() {
		if _, err := protocol.Decode(benchMessage); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	f := &protocol.Frame{Type: protocol.TypeMessage, ID: 1043, Room: "Go", From: "alice", Time: 1777888800000,
		Text: "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"}
	b.ReportAllocs()
	for b.Loop() {
		protocol.Encode(f)
	}
}

// BenchmarkReadFrame reads frames from a stream that delivers them in
// pieces, as a network does.
func BenchmarkReadFrame(b *testing.B) {
	stream := bytes.Repeat(append(append([]byte(nil), benchMessage...), '\n'), 1000)
	b.ReportAllocs()
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		r := protocol.NewReader(&chunky{data: stream, n: 1500}, protocol.DefaultMaxFrame)
		for {
			if _, err := r.ReadFrame(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// chunky returns its data n bytes at a time.
type chunky struct {
	data []byte
	n    int
}

func (c *chunky) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	k := min(len(p), c.n, len(c.data))
	copy(p, c.data[:k])
	c.data = c.data[k:]
	return k, nil
}

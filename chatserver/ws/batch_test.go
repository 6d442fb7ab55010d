package ws

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// nextMessage joins frames in order into messages of at most MaxMessage
// bytes, gives a larger frame a message of its own, and loses nothing.
func TestNextMessage(t *testing.T) {
	frame := func(n int, c byte) []byte { return bytes.Repeat([]byte{c}, n) }
	for _, tc := range []struct {
		name   string
		frames [][]byte
		want   []int // frames in each message
	}{
		{"one", [][]byte{frame(10, 'a')}, []int{1}},
		{"small ones", [][]byte{frame(10, 'a'), frame(20, 'b'), frame(30, 'c')}, []int{3}},
		{"exactly full", [][]byte{frame(MaxMessage/2, 'a'), frame(MaxMessage-MaxMessage/2-1, 'b'), frame(1, 'c')}, []int{2, 1}},
		{"one byte over", [][]byte{frame(MaxMessage/2, 'a'), frame(MaxMessage-MaxMessage/2, 'b')}, []int{1, 1}},
		{"a large frame alone", [][]byte{frame(5, 'a'), frame(MaxMessage+100, 'b'), frame(5, 'c'), frame(5, 'd')}, []int{1, 1, 2}},
		{"many", func() [][]byte {
			f := make([][]byte, 300)
			for i := range f {
				f[i] = frame(255, byte('a'+i%26)) // 256 with its newline: 128 to a message
			}
			return f
		}(), []int{128, 128, 44}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			batch := tc.frames
			var got []int
			var all []string
			for len(batch) > 0 {
				before := len(batch)
				msg, rest := nextMessage(batch)
				if len(rest) >= before {
					t.Fatal("no progress")
				}
				parts := strings.Split(string(msg), "\n")
				if len(parts) > 1 && len(msg) > MaxMessage {
					t.Errorf("a message of %d frames has %d bytes", len(parts), len(msg))
				}
				got = append(got, len(parts))
				all = append(all, parts...)
				batch = rest
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("frames per message %v, want %v", got, tc.want)
			}
			if len(all) != len(tc.frames) {
				t.Fatalf("%d frames out of %d", len(all), len(tc.frames))
			}
			for i, f := range tc.frames {
				if all[i] != string(f) {
					t.Errorf("frame %d changed or moved", i)
				}
			}
		})
	}
}

package files

import (
	"fmt"
	"testing"
)

func TestParseContentRange(t *testing.T) {
	for in, want := range map[string][3]int64{
		"bytes 0-9/10":       {0, 10, 1},
		"bytes 100-199/1000": {100, 1000, 1},
		"bytes */1000":       {0, 1000, 1},
		"bytes 5-4/10":       {0, 0, 0},
		"bytes 0-10/10":      {0, 0, 0},
		"bytes -1-2/10":      {0, 0, 0},
		"items 0-9/10":       {0, 0, 0},
		"bytes 0-9/*":        {0, 0, 0},
		"":                   {0, 0, 0},
	} {
		s, total, ok := parseContentRange(in)
		if ok != (want[2] == 1) || (ok && (s != want[0] || total != want[1])) {
			t.Errorf("parseContentRange(%q) = %d, %d, %v", in, s, total, ok)
		}
	}
}

func FuzzParseContentRange(f *testing.F) {
	f.Add("bytes 0-9/10")
	f.Add("bytes */5")
	f.Fuzz(func(t *testing.T, in string) {
		start, total, ok := parseContentRange(in)
		if ok && (start < 0 || total < 0 || (start >= total && total > 0 && in != fmt.Sprintf("bytes */%d", total))) {
			t.Fatalf("%q: start %d, total %d", in, start, total)
		}
	})
}

func FuzzParseReprDigest(f *testing.F) {
	f.Add("sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:")
	f.Add("md5=:x:, sha-256=:AA==:")
	f.Fuzz(func(t *testing.T, in string) {
		sum, ok, err := parseReprDigest(in)
		if ok && (err != nil || len(sum) != 32) {
			t.Fatalf("%q: %d bytes, %v", in, len(sum), err)
		}
	})
}

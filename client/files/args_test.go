package files_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/parley-chat/parley/client/files"
)

func TestSplitArgs(t *testing.T) {
	for in, want := range map[string][]string{
		"":                              nil,
		"a":                             {"a"},
		"  a   b  ":                     {"a", "b"},
		`"my file.txt" dest`:            {"my file.txt", "dest"},
		`'it''s'`:                       {"its"},
		`"it's here"`:                   {"it's here"},
		`C:\Users\zoë\a.txt`:            {`C:\Users\zoë\a.txt`},
		`""`:                            {""},
		`a"b c"d`:                       {"ab cd"},
		"照片 '我的 文件'":                    {"照片", "我的 文件"},
		"-f ~/big.iso \"on share.iso\"": {"-f", "~/big.iso", "on share.iso"},
	} {
		got, err := files.SplitArgs(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("SplitArgs(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{`"open`, `a 'b`} {
		if _, err := files.SplitArgs(in); err == nil {
			t.Errorf("SplitArgs(%q) accepted an unclosed quote", in)
		}
	}
}

// Splitting never invents characters: every rune of every argument is in
// the input, and arguments without quotes in the input have no spaces.
func FuzzSplitArgs(f *testing.F) {
	for _, s := range []string{"a b", `"a b" c`, `'x'`, `"`, "\t\n", `a"b"c`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		args, err := files.SplitArgs(in)
		if err != nil {
			return
		}
		total := 0
		for _, a := range args {
			total += len(a)
			if !strings.ContainsAny(in, `"'`) && (a == "" || strings.ContainsAny(a, " \t\n")) {
				t.Fatalf("%q: argument %q", in, a)
			}
		}
		if total > len(in) {
			t.Fatalf("%q: %d bytes of arguments from %d of input", in, total, len(in))
		}
	})
}

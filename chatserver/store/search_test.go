package store_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/parley-chat/parley/chatserver/store"
)

func FuzzSearchWords(f *testing.F) {
	for _, s := range []string{"deploy done", `"OR" NEAR(x y) *`, "部署完成", " \" * ", "Zoë", "a\x00b", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		for _, w := range store.SearchWords(q) {
			if w == "" || strings.ContainsAny(w, " \t\n") && !strings.ContainsFunc(w, isSpaceless) {
				t.Fatalf("SearchWords(%q) has the word %q", q, w)
			}
			if utf8.ValidString(q) && !utf8.ValidString(w) {
				t.Fatalf("SearchWords(%q) has %q, not UTF-8", q, w)
			}
		}
	})
}

func isSpaceless(r rune) bool { return store.SearchForm(string(r)) != string(r) }

package store

import (
	"strings"
	"unicode"
)

// SearchWords splits what a user typed to search for into words: at
// white space, with each character of a script written without spaces
// (Chinese, Japanese, Korean, Thai) standing alone inside its word, as
// SearchForm writes text for the index. Nothing of the input is syntax,
// and a word without a letter or a digit, which the index never holds,
// is left out.
func SearchWords(q string) []string {
	var out []string
	for _, w := range strings.Fields(q) {
		if strings.IndexFunc(w, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) >= 0 {
			out = append(out, strings.TrimSpace(SearchForm(w)))
		}
	}
	return out
}

// SearchForm is text as a full-text index keeps it: each character of a
// script written without spaces stands apart, so that a search for 你好
// finds 你好世界 (as the phrase 你 好).
func SearchForm(text string) string {
	var b strings.Builder
	for _, r := range text {
		if unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul, unicode.Thai) {
			b.WriteByte(' ')
			b.WriteRune(r)
			b.WriteByte(' ')
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

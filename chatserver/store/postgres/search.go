package postgres

import (
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// The search index is a tsvector per message that this package makes
// itself, rather than PostgreSQL's to_tsvector, whose word splitting
// depends on the database's locale (under the C locale it drops every
// letter outside ASCII). The rules follow the SQLite store's index
// (FTS5's unicode61 tokenizer with diacritics removed): a word is a run
// of letters and digits, compared without case or diacritics, and each
// character of a script written without spaces (Chinese, Japanese,
// Korean, Thai) is a word of its own, so that a search for 部署 is the
// phrase 部 署.

// maxPosition is the highest word position a tsvector keeps.
const maxPosition = 16383

// tokens splits text into the index's words.
func tokens(text string) []string {
	var out []string
	var word strings.Builder
	end := func() {
		if word.Len() > 0 {
			out = append(out, word.String())
			word.Reset()
		}
	}
	for _, r := range norm.NFD.String(text) {
		switch {
		case unicode.Is(unicode.Mn, r):
			// a diacritic, taken off its letter
		case unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul, unicode.Thai):
			end()
			out = append(out, string(r))
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			word.WriteRune(unicode.ToLower(r))
		default:
			end()
		}
	}
	end()
	return out
}

// lexeme quotes a word for a tsvector or tsquery literal. Words hold only
// letters and digits, but quotes and backslashes are doubled all the same.
func lexeme(w string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(w) + "'"
}

// document is the tsvector literal of a message's text.
func document(text string) string {
	var b strings.Builder
	for i, w := range tokens(text) {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(lexeme(w))
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(min(i+1, maxPosition)))
	}
	return b.String()
}

// query is the tsquery literal that matches every one of words, each as
// the phrase of its own tokens, or "" if a word has none, when nothing
// can match.
func query(words []string) string {
	var parts []string
	for _, w := range words {
		ts := tokens(w)
		if len(ts) == 0 {
			return ""
		}
		for i := range ts {
			ts[i] = lexeme(ts[i])
		}
		parts = append(parts, "("+strings.Join(ts, " <-> ")+")")
	}
	return strings.Join(parts, " & ")
}

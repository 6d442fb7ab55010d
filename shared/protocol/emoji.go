package protocol

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/kyokomi/emoji/v2"
	"github.com/rivo/uniseg"
)

// knownEmoji is every emoji of the shortcode list clients expand
// (kyokomi/emoji's, from GitHub's and Unicode's lists), without
// variation selectors, built on first use and never changed after.
var knownEmoji = sync.OnceValue(func() map[string]bool {
	set := map[string]bool{}
	for _, e := range emoji.CodeMap() {
		if e = bareEmoji(strings.TrimSpace(e)); e != "" {
			set[e] = true
		}
	}
	return set
})

// bareEmoji drops the variation selectors U+FE0E and U+FE0F, which
// choose how an emoji is drawn but not which one it is.
func bareEmoji(s string) string {
	return strings.NewReplacer("\ufe0f", "", "\ufe0e", "").Replace(s)
}

// CheckEmoji reports whether s may be a reaction: one emoji (one
// grapheme cluster, skin tone and joined sequences included) that is in
// the shortcode list clients know, with or without variation selector.
// It returns the emoji as it is kept: with the selectors dropped, so
// that 👍 and 👍︎ count as one reaction.
func CheckEmoji(s string) (string, *Error) {
	switch {
	case s == "":
		return "", Errorf(CodeBadEmoji, "a reaction needs an emoji, such as :thumbsup: or 👍")
	case len(s) > 64 || !utf8.ValidString(s):
		return "", Errorf(CodeBadEmoji, "a reaction is one emoji, such as :thumbsup: or 👍")
	case uniseg.GraphemeClusterCount(s) != 1:
		return "", Errorf(CodeBadEmoji, "%q is not one emoji; a reaction is one emoji, such as :thumbsup: or 👍", s)
	}
	bare := bareEmoji(s)
	if !knownEmoji()[bare] {
		return "", Errorf(CodeBadEmoji, "%q is not an emoji; a reaction is one emoji, such as :thumbsup: or 👍", s)
	}
	return bare, nil
}

// FirstLine is what a quote shows of text: its first line that is not
// blank, cut to at most MaxQuoteBytes on a character boundary, with "…"
// when something was left out.
func FirstLine(text string) string {
	lines := strings.Split(text, "\n")
	line, more := "", false
	for i, l := range lines {
		if strings.TrimSpace(l) != "" {
			line, more = strings.TrimSpace(l), i < len(lines)-1
			break
		}
	}
	if len(line) > MaxQuoteBytes {
		cut := MaxQuoteBytes
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		line, more = line[:cut], true
	}
	if more {
		line += "…"
	}
	return line
}

// Mentions reports whether text names name as a whole word, in any
// case, with or without a leading '@': "@Alice", "alice:" and "ALICE"
// mention Alice; "malice" does not. Letters, digits, '_' and '-' make a
// word.
func Mentions(text, name string) bool {
	if name == "" {
		return false
	}
	lt, ln := strings.ToLower(text), strings.ToLower(name)
	for i := 0; i <= len(lt); {
		j := strings.Index(lt[i:], ln)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(ln)
		before, _ := utf8.DecodeLastRuneInString(lt[:j])
		after, _ := utf8.DecodeRuneInString(lt[end:])
		if (j == 0 || !isWordRune(before)) && (end == len(lt) || !isWordRune(after)) {
			return true
		}
		i = j + 1
	}
	return false
}

// isWordRune reports whether r joins the name next to it into a longer
// word. Scripts written without spaces between words (Chinese, Japanese,
// Thai) have no such boundary: 李雷 is mentioned in 李雷你好.
func isWordRune(r rune) bool {
	if unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Thai, unicode.Hangul) {
		return false
	}
	return r == '_' || r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

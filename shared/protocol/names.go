package protocol

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
)

// Name is a user or room name in its two forms.
type Name struct {
	// Key is the comparison form: PRECIS UsernameCaseMapped (RFC 8265), so
	// "Alice" and "alice" have the same key.
	Key string
	// Display is the form to show: PRECIS UsernameCasePreserved, as typed.
	Display string
}

// ParseName checks a user name and returns its forms. Names may use any
// script; they may not contain spaces or control characters, may not start
// with '#', '@' or '/' (which the client uses for rooms, people and
// commands), and may have at most MaxNameRunes characters.
func ParseName(s string) (Name, *Error) {
	return parse(s, "name")
}

// ParseRoom is ParseName for room names. One leading '#' is dropped, so
// "#Go" and "go" name the same room.
func ParseRoom(s string) (Name, *Error) {
	return parse(strings.TrimPrefix(s, "#"), "room name")
}

func parse(s, what string) (Name, *Error) {
	if s == "" {
		return Name{}, Errorf(CodeBadName, "%s is empty", what)
	}
	if !utf8.ValidString(s) {
		return Name{}, Errorf(CodeBadName, "%s is not valid UTF-8", what)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return Name{}, Errorf(CodeBadName, "%s contains a control character (%U)", what, r)
		}
		if unicode.IsSpace(r) {
			return Name{}, Errorf(CodeBadName, "%s contains a space", what)
		}
	}
	switch s[0] {
	case '#', '@', '/':
		return Name{}, Errorf(CodeBadName, "%s may not start with %q", what, s[0])
	}
	display, err := precis.UsernameCasePreserved.String(s)
	if err != nil {
		return Name{}, Errorf(CodeBadName, "%s %q %s", what, clip(s), whyRefused(s))
	}
	key, err := precis.UsernameCaseMapped.String(s)
	if err != nil {
		return Name{}, Errorf(CodeBadName, "%s %q %s", what, clip(s), whyRefused(s))
	}
	if n := utf8.RuneCountInString(display); n > MaxNameRunes {
		return Name{}, Errorf(CodeBadName, "%s has %d characters; the limit is %d", what, n, MaxNameRunes)
	}
	return Name{Key: key, Display: display}, nil
}

// whyRefused says in words why PRECIS refused s, whose own errors
// ("bidirule: failed Bidi Rule" for an emoji) name the rule, not the
// character. A character that is refused on its own is named; otherwise
// the refusal is about how characters go together.
func whyRefused(s string) string {
	for _, r := range s {
		if unicode.Is(unicode.M, r) || r == zwj || r == zwnj {
			continue // judged with what they follow
		}
		if _, err := precis.UsernameCasePreserved.String(string(r)); err == nil {
			continue
		}
		switch {
		case unicode.In(r, unicode.So, unicode.Sk, unicode.Sm, unicode.Sc):
			return fmt.Sprintf("contains the symbol %c (%U); names may use letters, digits and punctuation, not emoji or other symbols", r, r)
		case unicode.Is(unicode.Cf, r):
			return fmt.Sprintf("contains an invisible formatting character (%U)", r)
		case unicode.Is(unicode.Nl, r) || unicode.Is(unicode.No, r):
			return fmt.Sprintf("contains %c (%U), a number sign that looks like other characters; use ordinary digits", r, r)
		default:
			return fmt.Sprintf("contains %c (%U), which names may not use", r, r)
		}
	}
	for _, r := range s {
		if r == zwj || r == zwnj {
			return fmt.Sprintf("has an invisible joiner (%U) where it changes nothing; remove it", r)
		}
	}
	for _, r := range s {
		if unicode.In(r, unicode.Arabic, unicode.Hebrew, unicode.Syriac, unicode.Thaana, unicode.Nko) {
			return "mixes right-to-left letters with others in a way that can display in a misleading order; " +
				"start and end it with a right-to-left letter, or use one direction only"
		}
	}
	if unicode.Is(unicode.M, []rune(s)[0]) {
		return "starts with a combining mark, which needs a letter before it"
	}
	return "is not allowed under the name rules (PRECIS, RFC 8265)"
}

const (
	zwj  = '\u200d' // zero-width joiner
	zwnj = '\u200c' // zero-width non-joiner
)

// clip shortens a refused name for quoting in an error, so that the error
// stays small whatever was sent.
func clip(s string) string {
	const most = 40
	if utf8.RuneCountInString(s) <= most {
		return s
	}
	return string([]rune(s)[:most]) + "…"
}

// CheckText reports whether s may be sent as message text: non-empty,
// valid UTF-8, at most max bytes, and free of control characters other
// than tab and newline, so that no message can move a reader's cursor or
// change their terminal's colours.
func CheckText(s string, max int) *Error {
	if strings.TrimSpace(s) == "" {
		return Errorf(CodeBadText, "message is empty")
	}
	if len(s) > max {
		return Errorf(CodeTooLong, "message has %d bytes; the limit is %d", len(s), max)
	}
	if !utf8.ValidString(s) {
		return Errorf(CodeBadText, "message is not valid UTF-8")
	}
	for _, r := range s {
		if r != '\n' && r != '\t' && unicode.IsControl(r) {
			return Errorf(CodeBadText, "message contains a control character (%U)", r)
		}
	}
	return nil
}

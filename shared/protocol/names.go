package protocol

import (
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
func ParseName(s string) (Name, error) {
	return parse(s, "name")
}

// ParseRoom is ParseName for room names. One leading '#' is dropped, so
// "#Go" and "go" name the same room.
func ParseRoom(s string) (Name, error) {
	return parse(strings.TrimPrefix(s, "#"), "room name")
}

func parse(s, what string) (Name, error) {
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
		return Name{}, Errorf(CodeBadName, "%s %q is not allowed: %v", what, clip(s), err)
	}
	key, err := precis.UsernameCaseMapped.String(s)
	if err != nil {
		return Name{}, Errorf(CodeBadName, "%s %q is not allowed: %v", what, clip(s), err)
	}
	if n := utf8.RuneCountInString(display); n > MaxNameRunes {
		return Name{}, Errorf(CodeBadName, "%s has %d characters; the limit is %d", what, n, MaxNameRunes)
	}
	return Name{Key: key, Display: display}, nil
}

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
func CheckText(s string, max int) error {
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

package files

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// SplitArgs splits a command's arguments at spaces. An argument with
// spaces can be put in double or single quotes; backslashes are kept as
// they are, so Windows paths need no escaping.
func SplitArgs(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	in := false // inside an argument
	var quote rune
	for i, r := range s {
		raw := s[i:]
		_, size := utf8.DecodeRuneInString(raw)
		raw = raw[:size] // the bytes as given, even if not valid UTF-8
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteString(raw)
			}
		case r == '"' || r == '\'':
			quote, in = r, true
		case unicode.IsSpace(r):
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteString(raw)
			in = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unclosed quote")
	}
	if in {
		out = append(out, cur.String())
	}
	return out, nil
}

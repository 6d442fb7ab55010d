package folder

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"
)

// Limits on the paths clients may name. File systems take longer ones,
// but the folder watch needs each folder's absolute path, which the
// kernel limits (PATH_MAX, 4096 bytes on Linux): MaxPathBytes leaves
// room for a shared folder whose own path is up to 3 KB. MaxDepth bounds
// the work each change costs, since every operation through os.Root
// opens one folder per level.
const (
	// MaxPathBytes is the longest path, in bytes of UTF-8.
	MaxPathBytes = 1024
	// MaxNameBytes is the longest single path component.
	MaxNameBytes = 255
	// MaxDepth is the most components a path may have ("a/b/c" has
	// three): a file may be at most MaxDepth-1 folders deep.
	MaxDepth = 32
)

// PathError says why a path from a client was refused. Its Reason is
// written for people and is safe to show them.
type PathError struct {
	Path   string
	Reason string
}

func (e *PathError) Error() string { return fmt.Sprintf("bad path %q: %s", e.Path, e.Reason) }

func badPath(p, format string, args ...any) *PathError {
	return &PathError{Path: p, Reason: fmt.Sprintf(format, args...)}
}

// CheckPath reports whether p is an acceptable name for something in the
// shared folder: a relative, slash-separated path of valid UTF-8, at
// most MaxPathBytes long and MaxDepth components deep, with no empty,
// "." or ".." components, no backslashes, no NUL or other control
// characters, no invisible formatting characters (Unicode category Cf:
// bidi overrides and isolates, zero-width spaces, byte order marks and
// the like, which make a name display as another), and no drive letter.
// It returns a *PathError if not.
//
// Zero-width joiners and non-joiners are allowed where RFC 5892
// (appendix A.1 and A.2) allows them, as the chat server's name rules
// (PRECIS) do: after a virama, and the non-joiner between letters that
// would otherwise join, as Persian writes "کتاب‌ها".
//
// Files whose paths break these rules are not listed, announced or
// served, since no client could name them. CheckNewPath adds the rule
// for names that uploads create.
//
// CheckPath is lexical. Symbolic links are dealt with by os.Root, through
// which every file operation goes.
func CheckPath(p string) error {
	switch {
	case p == "":
		return badPath(p, "the path is empty")
	case len(p) > MaxPathBytes:
		return badPath(p, "the path is %d bytes long; the limit is %d", len(p), MaxPathBytes)
	case !utf8.ValidString(p):
		return badPath(p, "the path is not valid UTF-8")
	}
	if n := strings.Count(p, "/") + 1; n > MaxDepth {
		return badPath(p, "the path has %d components; the limit is %d (a file at most %d folders deep)", n, MaxDepth, MaxDepth-1)
	}
	for i, r := range p {
		switch {
		case r == 0:
			return badPath(p, "the path contains a NUL character")
		case r == '\\':
			return badPath(p, "the path contains a backslash; use / between folders")
		case unicode.IsControl(r):
			return badPath(p, "the path contains a control character (%U)", r)
		case unicode.Is(unicode.Cf, r) && !((r == zwnj || r == zwj) && joinerAllowed(p, i)):
			return badPath(p, "the path contains an invisible formatting character (%U), which can make a name look like another", r)
		}
	}
	if p[0] == '/' {
		return badPath(p, "the path is absolute; paths are relative to the shared folder")
	}
	if len(p) >= 2 && p[1] == ':' && (p[0] >= 'a' && p[0] <= 'z' || p[0] >= 'A' && p[0] <= 'Z') {
		return badPath(p, "the path starts with a drive letter; paths are relative to the shared folder")
	}
	for part := range strings.SplitSeq(p, "/") {
		switch {
		case part == "":
			return badPath(p, "the path has an empty component (// or a trailing /)")
		case part == "." || part == "..":
			return badPath(p, "the path contains %q", part)
		case len(part) > MaxNameBytes:
			return badPath(p, "a component of the path is longer than %d bytes", MaxNameBytes)
		}
	}
	return nil
}

// CheckNewPath is CheckPath for the path an upload creates or replaces,
// which must also be in Unicode normalization form C (NFC), the form
// keyboards type: "café" spelt with a separate combining accent displays
// exactly as the precomposed one does, and two such files side by side
// could not be told apart. Files copied in by hand under other forms
// keep their names; they are listed and served like any other, but
// nothing is written under such a name through the server.
//
// Nor may a component begin or end with white space (any character with
// the Unicode White_Space property: a space, a no-break space, an
// ideographic space, …), or end with a dot: "report.pdf " and
// "report.pdf." display as "report.pdf", and Windows drops the trailing
// dot and spaces of a name when it saves the file.
func CheckNewPath(p string) error {
	if err := CheckPath(p); err != nil {
		return err
	}
	if !norm.NFC.IsNormalString(p) {
		return badPath(p, "the path is not in Unicode normalization form NFC (a character such as é is spelt with a separate combining mark); send its NFC form")
	}
	for part := range strings.SplitSeq(p, "/") {
		first, _ := utf8.DecodeRuneInString(part)
		last, _ := utf8.DecodeLastRuneInString(part)
		switch {
		case unicode.Is(unicode.White_Space, first):
			return badPath(p, "the name %q begins with %s, which cannot be seen; remove it", part, spaceName(first))
		case unicode.Is(unicode.White_Space, last):
			return badPath(p, "the name %q ends with %s, which cannot be seen; remove it", part, spaceName(last))
		case last == '.':
			return badPath(p, "the name %q ends with a dot, which is easy to miss and which Windows drops from names; remove it", part)
		}
	}
	return nil
}

// spaceName names a white-space character for people.
func spaceName(r rune) string {
	switch {
	case r == ' ':
		return "a space"
	case r == '\u00A0':
		return "a no-break space (U+00A0)"
	case r == '\u202F':
		return "a narrow no-break space (U+202F)"
	case r == '\u3000':
		return "an ideographic space (U+3000)"
	case r == '\u1680':
		return "an Ogham space mark (U+1680)"
	case r >= '\u2000' && r <= '\u200A':
		return fmt.Sprintf("a typographic space (%U)", r)
	case r == '\u2028':
		return "a line separator (U+2028)"
	case r == '\u2029':
		return "a paragraph separator (U+2029)"
	case r == '\u205F':
		return "a mathematical space (U+205F)"
	}
	return fmt.Sprintf("a white-space character (%U)", r)
}

const (
	zwnj = '\u200C' // zero-width non-joiner
	zwj  = '\u200D' // zero-width joiner
)

// joinerRules judges joiners: the PRECIS classes implement RFC 5892's
// contextual rules.
var joinerRules = precis.NewFreeform()

// joinerAllowed reports whether the joiner or non-joiner at p[i] stands
// where RFC 5892 allows it. Only the joiner and its neighbours, each
// with its combining marks, are judged, so nothing else in the path
// affects the answer.
func joinerAllowed(p string, i int) bool {
	isMark := func(r rune) bool { return unicode.In(r, unicode.Mn, unicode.Me) }
	start := i
	for start > 0 {
		r, n := utf8.DecodeLastRuneInString(p[:start])
		start -= n
		if !isMark(r) {
			break
		}
	}
	_, n := utf8.DecodeRuneInString(p[i:])
	end := i + n
	for end < len(p) {
		r, n := utf8.DecodeRuneInString(p[end:])
		end += n
		if !isMark(r) {
			break
		}
	}
	_, err := joinerRules.String(p[start:end])
	return err == nil
}

// CheckEscapedPath checks a path as it appeared, still percent-encoded, in
// a request's URL, and returns it decoded. Encoded slashes (%2F),
// backslashes (%5C) and NULs (%00) are refused before decoding, so that
// "a%2F..%2F..%2Fetc" cannot turn into a different path after routing;
// the decoded path must then pass CheckPath.
func CheckEscapedPath(escaped string) (string, error) {
	lower := strings.ToLower(escaped)
	switch {
	case strings.Contains(lower, "%2f"):
		return "", badPath(escaped, "the path contains an encoded slash (%%2F)")
	case strings.Contains(lower, "%5c"):
		return "", badPath(escaped, "the path contains an encoded backslash (%%5C)")
	case strings.Contains(lower, "%00"):
		return "", badPath(escaped, "the path contains an encoded NUL (%%00)")
	}
	p, err := url.PathUnescape(escaped)
	if err != nil {
		return "", badPath(escaped, "the path has a malformed %%-escape")
	}
	if err := CheckPath(p); err != nil {
		return "", err
	}
	return p, nil
}

// Base is the last component of a checked path.
func Base(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// Parent is the folder a checked path is in: "." for the top level.
func Parent(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return "."
}

package folder

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on the paths clients may name.
const (
	// MaxPathBytes is the longest path, in bytes of UTF-8.
	MaxPathBytes = 4096
	// MaxNameBytes is the longest single path component.
	MaxNameBytes = 255
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
// shared folder: a relative, slash-separated path of valid UTF-8 with no
// empty, "." or ".." components, no backslashes, no NUL or other control
// characters, and no drive letter. It returns a *PathError if not.
//
// CheckPath is lexical. Symbolic links are dealt with by os.Root, through
// which every file operation goes.
func CheckPath(p string) error {
	switch {
	case p == "":
		return badPath(p, "the path is empty")
	case len(p) > MaxPathBytes:
		return badPath(p, "the path is longer than %d bytes", MaxPathBytes)
	case !utf8.ValidString(p):
		return badPath(p, "the path is not valid UTF-8")
	}
	for _, r := range p {
		switch {
		case r == 0:
			return badPath(p, "the path contains a NUL character")
		case r == '\\':
			return badPath(p, "the path contains a backslash; use / between folders")
		case unicode.IsControl(r):
			return badPath(p, "the path contains a control character (%U)", r)
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

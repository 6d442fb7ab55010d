package folder_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/parley-chat/parley/fileserver/folder"
)

func TestCheckPath(t *testing.T) {
	long := strings.Repeat("x", 250) + "/"
	good := []string{"a", "a.txt", "docs/report.pdf", ".hidden", "a..b", "...", "小明/照片.jpg", "Zoë", "a b/c d", "ab:cd", strings.Repeat("a", 255),
		// As deep and as long as allowed.
		strings.Repeat("d/", folder.MaxDepth-1) + "x",
		strings.Repeat(long, 4) + strings.Repeat("y", folder.MaxPathBytes-4*len(long)),
		// Persian: a non-joiner between letters that would join.
		"کتاب\u200Cها.pdf",
		// Devanagari: a joiner after a virama.
		"क्\u200Dष.txt",
		// Not NFC, but a name that a file copied in by hand may have.
		"cafe\u0301.txt",
		// Emoji modifiers and variation selectors are not format characters.
		"👍🏽 and ❤\uFE0F.png",
	}
	for _, p := range good {
		if err := folder.CheckPath(p); err != nil {
			t.Errorf("CheckPath(%q) = %v, want ok", p, err)
		}
	}
	bad := map[string]string{
		"":                               "empty",
		"..":                             "dot-dot",
		"../etc/passwd":                  "dot-dot",
		"a/../../b":                      "dot-dot",
		"a/..":                           "dot-dot",
		".":                              "dot",
		"./a":                            "dot",
		"/etc/passwd":                    "absolute",
		"C:/Windows":                     "drive letter",
		"c:x":                            "drive letter",
		`a\b`:                            "backslash",
		`..\..\x`:                        "backslash",
		"a\x00b":                         "NUL",
		"a\nb":                           "newline",
		"a\x1b[31m":                      "escape",
		"a\x7f":                          "DEL",
		"a\u0085":                        "C1 control",
		"a//b":                           "empty component",
		"a/":                             "trailing slash",
		"\xff":                           "invalid UTF-8",
		strings.Repeat("a", 256):         "long component",
		strings.Repeat("a/", 2049) + "a": "long path",
		strings.Repeat(long, 4) + strings.Repeat("y", folder.MaxPathBytes-4*len(long)+1): "path one byte too long",
		strings.Repeat("d/", folder.MaxDepth) + "x":                                      "one level too deep",
		"invoice\u202Efdp.exe": "right-to-left override",
		"a\u200Bb.txt":         "zero-width space",
		"\uFEFFreadme.txt":     "byte order mark",
		"a\u2066b.txt":         "left-to-right isolate",
		"a\u00ADb.txt":         "soft hyphen",
		"flag\U000E0067.png":   "tag character",
		"a\u200Cb.txt":         "non-joiner between letters that do not join",
		"a\u200Db.txt":         "joiner without a virama",
		"\u200Cکتاب":           "non-joiner at the start",
		"کتاب\u200C":           "non-joiner at the end",
		"کتاب\u200C/ها":        "non-joiner before a slash",
	}
	for p, class := range bad {
		err := folder.CheckPath(p)
		var pe *folder.PathError
		if err == nil {
			t.Errorf("%s: CheckPath(%q) accepted", class, p)
		} else if !errorAs(err, &pe) || pe.Reason == "" {
			t.Errorf("%s: error %v is not a *PathError with a reason", class, err)
		}
	}
}

// Names that uploads create must also be in NFC; names that only name
// existing files need not be.
func TestCheckNewPath(t *testing.T) {
	for _, p := range []string{"café.txt", "docs/résumé.pdf", "한국어.txt", "کتاب\u200Cها.pdf", "Å",
		"a b.txt", "a\u00A0b.txt", ".profile", "a/.hidden", "v1.2", "..a", "a..b"} {
		if err := folder.CheckNewPath(p); err != nil {
			t.Errorf("CheckNewPath(%q) = %v, want ok", p, err)
		}
	}
	for p, class := range map[string]string{
		"cafe\u0301.txt":              "decomposed é",
		"docs/re\u0301sume\u0301.pdf": "decomposed, in a folder",
		"cafe\u0301/a.txt":            "decomposed folder",
		"\u1112\u1161\u11AB.txt":      "Hangul in jamo",
		"\u212B":                      "Ångström sign, which NFC replaces",
		"invoice\u202Efdp.exe":        "what CheckPath refuses",
		"report.pdf ":                 "trailing space",
		" report.pdf":                 "leading space",
		"report.pdf\u00A0":            "trailing no-break space",
		"report.pdf\u3000":            "trailing ideographic space",
		"\u2003report.pdf":            "leading em space",
		"report.pdf\u2028":            "trailing line separator",
		"report.pdf.":                 "trailing dot",
		"report.pdf..":                "two trailing dots",
		"docs /a.txt":                 "folder ending with a space",
		"docs./a.txt":                 "folder ending with a dot",
		"a/\u00A0/b":                  "a component that is only a no-break space",
	} {
		err := folder.CheckNewPath(p)
		var pe *folder.PathError
		if err == nil {
			t.Errorf("%s: CheckNewPath(%q) accepted", class, p)
		} else if !errorAs(err, &pe) || pe.Reason == "" {
			t.Errorf("%s: error %v is not a *PathError with a reason", class, err)
		}
	}
	// The reason says what is wrong, in words.
	for p, says := range map[string]string{
		"report.pdf ":       "ends with a space",
		"report.pdf\u00A0":  "ends with a no-break space (U+00A0)",
		"report.pdf\u3000":  "ends with an ideographic space (U+3000)",
		"\u2003report.pdf":  "begins with a typographic space (U+2003)",
		"report.pdf.":       "ends with a dot",
		"docs\u205F/a.txt":  "ends with a mathematical space",
		"x\u180E":           "invisible formatting character", // Cf, refused by CheckPath
		"report.pdf\u0085":  "control character",
		"report.pdf\u1680":  "Ogham space mark",
		"report.pdf\u202F":  "narrow no-break space",
		"report.pdf\u2029":  "paragraph separator",
		"report.pdf\u2002a": "", // inside a name: allowed
	} {
		err := folder.CheckNewPath(p)
		if says == "" {
			if err != nil {
				t.Errorf("CheckNewPath(%q) = %v, want ok", p, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("CheckNewPath(%q) = %v, want it to say %q", p, err, says)
		}
	}
}

// Names that people could mistake for each other have the same LookKey;
// others do not.
func TestLookKey(t *testing.T) {
	same := [][2]string{
		{"report.pdf", "Report.pdf"},
		{"report.pdf", "REPORT.PDF"},
		{"report.pdf", "r\u0435port.pdf"}, // Cyrillic е
		{"paypal", "p\u0430yp\u0430l"},    // Cyrillic а
		{"café.txt", "cafe\u0301.txt"},    // decomposed
		{"straße", "STRASSE"},             // full case folding
		{"file1.txt", "filel.txt"},        // 1 and l
	}
	for _, c := range same {
		if folder.LookKey(c[0]) != folder.LookKey(c[1]) {
			t.Errorf("%q and %q have different keys", c[0], c[1])
		}
	}
	differ := [][2]string{{"report.pdf", "report2.pdf"}, {"a.txt", "b.txt"}, {"报告.pdf", "报表.pdf"}, {"notes", "notes.txt"}}
	for _, c := range differ {
		if folder.LookKey(c[0]) == folder.LookKey(c[1]) {
			t.Errorf("%q and %q have the same key", c[0], c[1])
		}
	}
}

// CheckNewPath accepts only what CheckPath accepts, in NFC, with no
// component that begins or ends with white space or ends with a dot.
func FuzzCheckNewPath(f *testing.F) {
	for _, s := range []string{"a", "a/b", "report.pdf ", "report.pdf\u00A0", "report.pdf\u3000", "report.pdf.", " a", "a./b", "cafe\u0301", "r\u0435port.pdf", "a\u2000b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		err := folder.CheckNewPath(p)
		folder.LookKey(p) // never panics, whatever the name
		if err != nil {
			var pe *folder.PathError
			if !errorAs(err, &pe) || pe.Reason == "" {
				t.Fatalf("CheckNewPath(%q) = %v, not a *PathError with a reason", p, err)
			}
			return
		}
		if err := folder.CheckPath(p); err != nil {
			t.Fatalf("CheckNewPath accepted %q, which CheckPath refuses: %v", p, err)
		}
		if !norm.NFC.IsNormalString(p) {
			t.Fatalf("accepted %q, not in NFC", p)
		}
		for part := range strings.SplitSeq(p, "/") {
			first, _ := utf8.DecodeRuneInString(part)
			last, _ := utf8.DecodeLastRuneInString(part)
			if unicode.Is(unicode.White_Space, first) || unicode.Is(unicode.White_Space, last) || last == '.' {
				t.Fatalf("accepted %q with component %q", p, part)
			}
		}
	})
}

func errorAs(err error, pe **folder.PathError) bool {
	p, ok := err.(*folder.PathError)
	*pe = p
	return ok
}

func TestCheckEscapedPath(t *testing.T) {
	for in, out := range map[string]string{
		"a%20b":            "a b",
		"r%C3%A9sum%C3%A9": "résumé",
		"dir/file.txt":     "dir/file.txt",
		"100%25":           "100%",
	} {
		got, err := folder.CheckEscapedPath(in)
		if err != nil || got != out {
			t.Errorf("CheckEscapedPath(%q) = %q, %v; want %q", in, got, err, out)
		}
	}
	for _, in := range []string{"a%2Fb", "a%2fb", "a%5Cb", "a%5cb", "a%00", "%2e%2e", "%2E%2E/x", "a%zz", "a%", "%2Fetc"} {
		if got, err := folder.CheckEscapedPath(in); err == nil {
			t.Errorf("CheckEscapedPath(%q) = %q, want an error", in, got)
		}
	}
}

// Whatever a client sends, an accepted path is relative, has no dot
// components, and no backslash or control character.
func FuzzCheckEscapedPath(f *testing.F) {
	for _, s := range []string{"a", "a/b", "..", "a%2Fb", "%2e%2e", "a\\b", "/x", "a%00", "%C3%A9", "a//b", "C:/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, err := folder.CheckEscapedPath(in)
		if err != nil {
			return
		}
		if !utf8.ValidString(p) || p == "" || p[0] == '/' || strings.ContainsRune(p, '\\') {
			t.Fatalf("accepted %q as %q", in, p)
		}
		for _, r := range p {
			if unicode.IsControl(r) {
				t.Fatalf("accepted %q with a control character", in)
			}
			if unicode.Is(unicode.Cf, r) && r != '\u200C' && r != '\u200D' {
				t.Fatalf("accepted %q with a format character (%U)", in, r)
			}
		}
		if len(p) > folder.MaxPathBytes || strings.Count(p, "/") >= folder.MaxDepth {
			t.Fatalf("accepted %q, beyond the limits", in)
		}
		for part := range strings.SplitSeq(p, "/") {
			if part == "" || part == "." || part == ".." {
				t.Fatalf("accepted %q with component %q", in, part)
			}
		}
		if err := folder.CheckPath(p); err != nil {
			t.Fatalf("CheckEscapedPath accepted %q but CheckPath refuses %q: %v", in, p, err)
		}
	})
}

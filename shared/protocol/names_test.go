package protocol_test

import (
	"strings"
	"testing"

	"github.com/parley-chat/parley/shared/protocol"
)

// code returns the error code of err, or "" if err is nil.
func code(err *protocol.Error) string {
	if err == nil {
		return ""
	}
	return err.Code
}

func TestParseNameAccepts(t *testing.T) {
	tests := []struct {
		in           string
		key, display string
	}{
		{"alice", "alice", "alice"},
		{"Alice", "alice", "Alice"},
		{"ALICE", "alice", "ALICE"},
		{"ＡＬＩＣＥ", "alice", "ALICE"}, // full width folds to ASCII
		{"李雷", "李雷", "李雷"},
		{"韩梅梅2026", "韩梅梅2026", "韩梅梅2026"},
		{"Алиса", "алиса", "Алиса"},
		{"Ωmega", "ωmega", "Ωmega"},
		{"مرحبا", "مرحبا", "مرحبا"},
		{"bob_1", "bob_1", "bob_1"},
		{"user-1.x", "user-1.x", "user-1.x"},
		{"x#y@z/w", "x#y@z/w", "x#y@z/w"}, // only a leading # @ / is refused
		{"a\u0301", "\u00e1", "\u00e1"},   // normalised to NFC
		{strings.Repeat("a", protocol.MaxNameRunes), strings.Repeat("a", protocol.MaxNameRunes), strings.Repeat("a", protocol.MaxNameRunes)},
		{strings.Repeat("字", protocol.MaxNameRunes), strings.Repeat("字", protocol.MaxNameRunes), strings.Repeat("字", protocol.MaxNameRunes)},
	}
	for _, tt := range tests {
		n, err := protocol.ParseName(tt.in)
		if err != nil {
			t.Errorf("ParseName(%q): %v", tt.in, err)
			continue
		}
		if n.Key != tt.key || n.Display != tt.display {
			t.Errorf("ParseName(%q) = %+v, want key %q, display %q", tt.in, n, tt.key, tt.display)
		}
	}
}

func TestNamesDifferingInCaseShareAKey(t *testing.T) {
	for _, pair := range [][2]string{
		{"Alice", "alice"},
		{"Alice", "aLiCe"},
		{"Alice", "ＡＬＩＣＥ"},
		{"Алиса", "алиса"},
		{"ΣΟΦΙΑ", "σοφια"},
	} {
		a, err1 := protocol.ParseName(pair[0])
		b, err2 := protocol.ParseName(pair[1])
		if err1 != nil || err2 != nil {
			t.Fatalf("ParseName(%q), ParseName(%q): %v, %v", pair[0], pair[1], err1, err2)
		}
		if a.Key != b.Key {
			t.Errorf("%q and %q have different keys %q and %q", pair[0], pair[1], a.Key, b.Key)
		}
		if a.Display != pair[0] && pair[0] != "ＡＬＩＣＥ" {
			t.Errorf("%q is displayed as %q", pair[0], a.Display)
		}
	}
	a, _ := protocol.ParseName("alice")
	b, _ := protocol.ParseName("alicia")
	if a.Key == b.Key {
		t.Errorf("different names share the key %q", a.Key)
	}
}

func TestParseNameRefuses(t *testing.T) {
	tests := []struct {
		why string
		in  string
	}{
		{"empty", ""},
		{"space", "alice smith"},
		{"leading space", " alice"},
		{"trailing space", "alice "},
		{"tab", "a\tb"},
		{"newline", "alice\n"},
		{"no-break space", "a\u00a0b"},
		{"ideographic space", "李\u3000雷"},
		{"NUL", "a\x00b"},
		{"escape", "\x1b[31malice"},
		{"DEL", "alice\x7f"},
		{"C1 control", "a\u0085b"},
		{"leading #", "#alice"},
		{"leading @", "@alice"},
		{"leading /", "/alice"},
		{"only #", "#"},
		{"not UTF-8", "al\xffice"},
		{"emoji", "😀"},
		{"zero-width joiner", "a\u200db"},
		{"too long", strings.Repeat("a", protocol.MaxNameRunes+1)},
		{"too long in Chinese", strings.Repeat("字", protocol.MaxNameRunes+1)},
		{"far too long", strings.Repeat("a", 10000)},
	}
	for _, tt := range tests {
		n, err := protocol.ParseName(tt.in)
		if c := code(err); c != protocol.CodeBadName {
			t.Errorf("%s: ParseName(%q) = %+v, %q; want code %s", tt.why, tt.in, n, c, protocol.CodeBadName)
		}
	}
}

func TestParseRoom(t *testing.T) {
	a, err := protocol.ParseRoom("#Go")
	if err != nil {
		t.Fatal(err)
	}
	b, err := protocol.ParseRoom("go")
	if err != nil {
		t.Fatal(err)
	}
	if a.Key != "go" || b.Key != "go" || a.Display != "Go" {
		t.Errorf("ParseRoom(#Go) = %+v, ParseRoom(go) = %+v; want one key go, displayed Go", a, b)
	}
	if l, err := protocol.ParseRoom("#Lobby"); err != nil || l.Key != protocol.Lobby {
		t.Errorf("ParseRoom(#Lobby) = %+v, %v; want key %s", l, err, protocol.Lobby)
	}
	if c, err := protocol.ParseRoom("#中文"); err != nil || c.Key != "中文" {
		t.Errorf("ParseRoom(#中文) = %+v, %v", c, err)
	}
	for _, in := range []string{"", "#", "##go", "#@go", "#/go", "go team", "#" + strings.Repeat("r", protocol.MaxNameRunes+1)} {
		if n, err := protocol.ParseRoom(in); code(err) != protocol.CodeBadName {
			t.Errorf("ParseRoom(%q) = %+v, %v; want code %s", in, n, err, protocol.CodeBadName)
		}
	}
	// The message names the thing that was wrong.
	_, err = protocol.ParseRoom("go team")
	if err == nil || !strings.Contains(err.Error(), "room name") {
		t.Errorf("ParseRoom error %v does not say it is about a room name", err)
	}
}

func TestCheckText(t *testing.T) {
	const max = 20
	tests := []struct {
		in   string
		code string
	}{
		{"hi", ""},
		{"你好，世界", ""},
		{"one\ntwo\tthree", ""},
		{"👋🏽 café", ""},
		{"  padded  ", ""},
		{strings.Repeat("x", max), ""},
		{strings.Repeat("é", max/2), ""}, // exactly max bytes
		{"", protocol.CodeBadText},
		{" ", protocol.CodeBadText},
		{"\n\t \n", protocol.CodeBadText},
		{"\x1b[31mred", protocol.CodeBadText},
		{"carriage\rreturn", protocol.CodeBadText},
		{"bell\a", protocol.CodeBadText},
		{"nul\x00", protocol.CodeBadText},
		{"del\x7f", protocol.CodeBadText},
		{"c1\u009b31m", protocol.CodeBadText},
		{"bad \xff utf-8", protocol.CodeBadText},
		{strings.Repeat("x", max+1), protocol.CodeTooLong},
		{strings.Repeat("é", max/2) + "x", protocol.CodeTooLong},
		{strings.Repeat("字", 7), protocol.CodeTooLong}, // 7 characters, 21 bytes
	}
	for _, tt := range tests {
		if c := code(protocol.CheckText(tt.in, max)); c != tt.code {
			t.Errorf("CheckText(%q, %d) gives code %q, want %q", tt.in, max, c, tt.code)
		}
	}
	if err := protocol.CheckText(strings.Repeat("x", protocol.MaxTextBytes), protocol.MaxTextBytes); err != nil {
		t.Errorf("text of MaxTextBytes refused: %v", err)
	}
}

// A refused name's error says in words what is wrong with it, naming the
// character when one is to blame, never just the rule's name.
func TestNameRefusalsSayWhy(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"bob😀", "contains the symbol 😀 (U+1F600)"},
		{"ab™", "contains the symbol ™ (U+2122)"},
		{"ab\u00ad", "invisible formatting character (U+00AD)"},
		{"a\u200db", "invisible joiner (U+200D)"},
		{"Ⅻ", "use ordinary digits"},
		{"مرحبا1a", "right-to-left"},
	} {
		_, err := protocol.ParseName(tt.in)
		if code(err) != protocol.CodeBadName {
			t.Errorf("ParseName(%q) = %v, want bad_name", tt.in, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tt.want) || strings.Contains(msg, "bidirule") || strings.Contains(msg, "precis:") {
			t.Errorf("ParseName(%q): %q; want it to say %q in words", tt.in, msg, tt.want)
		}
	}
}

func TestCheckEmoji(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"👍", "👍", true},
		{"👍\ufe0f", "👍", true},
		{"❤️", "❤", true},
		{"🇫🇷", "🇫🇷", true},
		{"a", "", false},
		{"👍👍", "", false},
		{":+1:", "", false},
		{"", "", false},
		{"ok 👍", "", false},
	} {
		got, err := protocol.CheckEmoji(tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("CheckEmoji(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && err.Code != protocol.CodeBadEmoji {
			t.Errorf("CheckEmoji(%q) code %s; want %s", tc.in, err.Code, protocol.CodeBadEmoji)
		}
	}
}

func TestFirstLine(t *testing.T) {
	for in, want := range map[string]string{
		"hello":                   "hello",
		"first\nsecond":           "first…",
		"\n  \n  second  ":        "second",
		strings.Repeat("ab", 150): strings.Repeat("ab", 100) + "…",
		strings.Repeat("长", 100):  strings.Repeat("长", 66) + "…",
	} {
		if got := protocol.FirstLine(in); got != want {
			t.Errorf("FirstLine(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestMentions(t *testing.T) {
	for _, tc := range []struct {
		text, name string
		want       bool
	}{
		{"hi alice", "Alice", true},
		{"@ALICE: look", "alice", true},
		{"malice", "alice", false},
		{"alice_b here", "alice", false},
		{"alice-b here", "alice", false},
		{"Zoë!", "zoë", true},
		{"Zoëy", "zoë", false},
		{"李雷你好", "李雷", true},
		{"nobody", "alice", false},
		{"", "alice", false},
		{"alice", "", false},
	} {
		if got := protocol.Mentions(tc.text, tc.name); got != tc.want {
			t.Errorf("Mentions(%q, %q) = %v; want %v", tc.text, tc.name, got, tc.want)
		}
	}
}

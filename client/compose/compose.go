// Package compose turns what a person types into what is sent: it expands
// :shortcode: emoji, and finds emoji by name for the picker.
package compose

import (
	"sort"
	"strings"

	"github.com/kyokomi/emoji/v2"
)

func init() {
	// The library pads every emoji with a space by default, which would
	// change the text people typed around it.
	emoji.ReplacePadding = ""
}

// Expand replaces every known :shortcode: in s with its emoji. Unknown
// shortcodes are left as typed.
func Expand(s string) string {
	if !strings.Contains(s, ":") {
		return s
	}
	return emoji.Sprint(s)
}

// Emoji is one entry of the picker.
type Emoji struct {
	Code string // ":smile:"
	Char string // "😄"
}

// Search returns up to limit emoji whose shortcode contains query, the
// ones that start with it first, then in alphabetical order.
func Search(query string, limit int) []Emoji {
	query = strings.ToLower(strings.Trim(query, ": "))
	var prefix, contains []Emoji
	for code, char := range emoji.CodeMap() {
		name := strings.Trim(code, ":")
		switch {
		case strings.HasPrefix(name, query):
			prefix = append(prefix, Emoji{code, strings.TrimSpace(char)})
		case strings.Contains(name, query):
			contains = append(contains, Emoji{code, strings.TrimSpace(char)})
		}
	}
	byCode := func(list []Emoji) {
		sort.Slice(list, func(i, j int) bool {
			if len(list[i].Code) != len(list[j].Code) {
				return len(list[i].Code) < len(list[j].Code)
			}
			return list[i].Code < list[j].Code
		})
	}
	byCode(prefix)
	byCode(contains)
	out := append(prefix, contains...)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// Package emojitable derives the web client's emoji table from the
// shortcode table the terminal client expands (github.com/kyokomi/emoji/v2),
// so that both clients know the same :shortcode:s.
package emojitable

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/kyokomi/emoji/v2"
)

// JSON is the table as the web client reads it: one JSON object whose
// keys are shortcodes without their colons ("tada") and whose values are
// the emoji ("🎉"), in key order, one entry a line so that a change to
// the library shows as a readable diff.
func JSON() ([]byte, error) {
	codes := emoji.CodeMap()
	table := make(map[string]string, len(codes))
	for code, char := range codes {
		name := strings.Trim(code, ":")
		// The library pads its values with ReplacePadding (a space
		// by default); the table holds the emoji alone.
		table[name] = strings.TrimSpace(char)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "")
	if err := enc.Encode(table); err != nil {
		return nil, err
	}
	// One entry a line: json.Encoder has written them in key order.
	out := bytes.ReplaceAll(buf.Bytes(), []byte(`","`), []byte("\",\n\""))
	out = bytes.Replace(out, []byte(`{"`), []byte("{\n\""), 1)
	out = bytes.TrimSuffix(out, []byte("}\n"))
	out = append(out, "\n}\n"...)
	return out, nil
}

package resources

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"testing"

	"github.com/parley-chat/parley/resources/internal/emojitable"
)

// TestEmojiTableUpToDate fails when web/emoji.json is not what go
// generate writes from the emoji library in go.mod.
func TestEmojiTableUpToDate(t *testing.T) {
	want, err := emojitable.JSON()
	if err != nil {
		t.Fatal(err)
	}
	got, err := fs.ReadFile(Web(), "emoji.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("resources/web/emoji.json is out of date: run go generate ./resources")
	}
	var table map[string]string
	if err := json.Unmarshal(got, &table); err != nil {
		t.Fatal(err)
	}
	for code, char := range map[string]string{"tada": "🎉", "smile": "😄", "rocket": "🚀", "+1": "👍"} {
		if table[code] != char {
			t.Errorf("table[%q] = %q, want %q", code, table[code], char)
		}
	}
}

func TestWebFiles(t *testing.T) {
	for _, name := range []string{"index.html", "app.js", "style.css", "emoji.json"} {
		if _, err := fs.Stat(Web(), name); err != nil {
			t.Error(err)
		}
	}
	if _, err := fs.Stat(Stickers(), "smile.png"); err != nil {
		t.Error(err)
	}
}

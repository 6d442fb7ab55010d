package web_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/parley-chat/parley/client/compose"
)

// expandInBrowser runs the web client's :shortcode: expansion
// (resources/web/emoji.js, with the served emoji.json) on each text.
func expandInBrowser(t testing.TB, ctx context.Context, texts []string) []string {
	t.Helper()
	b, _ := json.Marshal(texts)
	return eval[[]string](t, ctx, `(async () => {
		const { expand } = await import('/emoji.js');
		window.__emojiTable ??= await (await fetch('/emoji.json')).json();
		return `+string(b)+`.map(s => expand(window.__emojiTable, s));
	})()`)
}

// The web client expands :shortcode:s exactly as the terminal client does.
func TestEmojiAsTerminal(t *testing.T) {
	ctx := sseTab(t)
	texts := []string{
		"", "no codes", ":tada:", "deploy finished :rocket:", ":+1: :-1:", "::tada:", ":tada::tada:", ":not_an_emoji: :smile:",
		":flag-de: :flag-zz: :flag-DE:", "a :foo:tada: b", "time 10:30:15", ":smile", "smile:", ": smile :", "：smile：",
		":Smile:", ":1st_place_medal:", ":AB_button_(blood_type):", "中文:tada:中文", ":tada:\n:heart:", "\t:ok_hand:\t",
	}
	got := expandInBrowser(t, ctx, texts)
	for i, s := range texts {
		if want := compose.Expand(s); got[i] != want {
			t.Errorf("%q: the web client gives %q, the terminal client %q", s, got[i], want)
		}
	}
}

// FuzzEmojiAsTerminal compares the two expansions on any text.
func FuzzEmojiAsTerminal(f *testing.F) {
	for _, s := range []string{":tada:", "a :foo:tada: b", "::x::smile:::", ":flag-fr:", ": :heart: :"} {
		f.Add(s)
	}
	ctx := sseTab(f)
	f.Fuzz(func(t *testing.T, s string) {
		got := expandInBrowser(t, ctx, []string{s})[0]
		// JSON carries text as UTF-8, so compare on what the browser got.
		var sent string
		b, _ := json.Marshal(s)
		json.Unmarshal(b, &sent)
		if want := compose.Expand(sent); got != want {
			t.Fatalf("%q: the web client gives %q, the terminal client %q", sent, got, want)
		}
	})
}

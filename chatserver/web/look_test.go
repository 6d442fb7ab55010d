package web_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/shared/protocol"
)

// scene fills a server with a conversation worth looking at and logs
// alice in, in a tab of the given size and colour scheme.
func scene(t *testing.T, width, height int64, scheme string) context.Context {
	t.Helper()
	e := newEnv(t, nil)
	bob, lei, zoe := e.peer("bob"), e.peer("李雷"), e.peer("Zoë")
	for _, p := range []*peer{bob, lei, zoe} {
		p.do(&protocol.Frame{Type: protocol.TypeJoin, Room: "general"})
	}
	ctx := tab(t, width, height)
	setScheme(t, ctx, scheme)
	login(t, ctx, e, "alice")
	say(t, ctx, "/join general")
	waitJS(t, ctx, `document.getElementById('conv-title').textContent === '#general'`)
	send := func(p *peer, text string) {
		p.do(&protocol.Frame{Type: protocol.TypeSend, Room: "general", Text: text, Key: chat.NewKey()})
	}
	send(bob, "morning! the build is green again 🎉")
	send(lei, "早上好 👋 the slides are in the shared folder")
	say(t, ctx, "thanks both :+1: I'll read them after lunch")
	send(zoe, "@alice can you look at https://example.org/review/42 today?")
	send(bob, "lunch at noon?")
	bob.do(&protocol.Frame{Type: protocol.TypeSend, To: "alice", Text: "are you coming to the demo?", Key: chat.NewKey()})
	waitJS(t, ctx, messageShown("lunch at noon?"))
	// A sticker, uploaded and posted from the picker.
	run(t, ctx, chromedp.Click(chromedp.ID("sticker-button")))
	run(t, ctx, chromedp.Click(chromedp.CSS(`#sticker-grid button[aria-label="Send the cat sticker"]`)))
	waitJS(t, ctx, `[...document.querySelectorAll('#messages img.thumb')].some(i => i.complete && i.naturalWidth > 0)`)
	do(t, ctx, `document.querySelectorAll('.transfer').forEach(r => r.remove())`)
	return ctx
}

// save writes a screenshot where PARLEY_SCREENSHOTS says (the README's
// and those in resources/ come from here: PARLEY_SCREENSHOTS=$PWD/resources).
func save(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if os.Getenv("PARLEY_SCREENSHOTS") == "" {
		return
	}
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(os.Getenv("PARLEY_SCREENSHOTS"), name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// contrastIn is a script that finds text under the elements that match
// root whose colour against its background is below WCAG AA's 4.5:1,
// and returns what it found.
func contrastIn(root string) string {
	return strings.Replace(contrast, "#app *", root, 1)
}

const contrast = `(() => {
  const parse = (c) => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null; const v = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number); return {r: v[0], g: v[1], b: v[2], a: v.length > 3 ? v[3] : 1}; };
  const lum = ({r, g, b}) => { const f = (x) => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const bg = (el) => { for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor); if (c && c.a > 0.5) return c; } return parse(getComputedStyle(document.body).backgroundColor); };
  const bad = [];
  for (const el of document.querySelectorAll('#app *')) {
    if (!el.offsetParent && el.tagName !== 'BODY') continue;
    if (![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    const fg = parse(getComputedStyle(el).color);
    const b = bg(el);
    const l1 = lum(fg), l2 = lum(b);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    if (ratio < 4.5) bad.push(el.tagName + '.' + el.className + ' "' + el.textContent.trim().slice(0, 20) + '" ' + ratio.toFixed(2));
  }
  return bad;
})()`

// fieldBorders is a script that finds the visible text fields whose
// border is below WCAG AA's 3:1 against what surrounds them (1.4.11: the
// border is what shows a person where to type), and returns them.
const fieldBorders = `(() => {
  const parse = (c) => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null; const v = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number); return {r: v[0], g: v[1], b: v[2], a: v.length > 3 ? v[3] : 1}; };
  const lum = ({r, g, b}) => { const f = (x) => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const bg = (el) => { for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor); if (c && c.a > 0.5) return c; } return parse(getComputedStyle(document.body).backgroundColor); };
  const bad = [];
  for (const el of document.querySelectorAll('input:not([type=file]):not([type=checkbox]), textarea')) {
    if (!el.offsetParent) continue;
    const st = getComputedStyle(el);
    if (parseFloat(st.borderTopWidth) === 0) { bad.push('#' + el.id + ' has no border'); continue; }
    const l1 = lum(parse(st.borderTopColor)), l2 = lum(bg(el.parentElement));
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    if (ratio < 3) bad.push('#' + el.id + ' ' + ratio.toFixed(2));
  }
  return bad;
})()`

func TestLook(t *testing.T) {
	for _, tc := range []struct {
		name          string
		width, height int64
		scheme        string
	}{
		{"screenshot-1280x800", 1280, 800, "light"},
		{"screenshot-1280x800-dark", 1280, 800, "dark"},
		{"screenshot-390x844", 390, 844, "light"},
		{"screenshot-390x844-dark", 390, 844, "dark"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := scene(t, tc.width, tc.height, tc.scheme)
			if tc.width > 800 {
				run(t, ctx, chromedp.Click(chromedp.ID("toggle-members")))
				waitJS(t, ctx, `document.querySelectorAll('#member-list li').length === 4`)
			}
			// Text meets WCAG AA contrast everywhere on the page.
			if bad := eval[[]string](t, ctx, contrast); len(bad) > 0 {
				t.Errorf("text below 4.5:1 contrast in the %s theme: %q", tc.scheme, bad)
			}
			if bad := eval[[]string](t, ctx, fieldBorders); len(bad) > 0 {
				t.Errorf("field borders below 3:1 contrast in the %s theme: %q", tc.scheme, bad)
			}
			// Nothing is wider than the screen.
			if w := eval[int](t, ctx, `document.documentElement.scrollWidth`); w > int(tc.width) {
				t.Errorf("the page is %d px wide on a %d px screen", w, tc.width)
			}
			// The client itself never trips its own policy.
			if v := eval[[]string](t, ctx, `window.__csp`); len(v) > 0 {
				t.Errorf("Content-Security-Policy violations: %q", v)
			}
			save(t, ctx, tc.name)
			if tc.width < 800 {
				// On a phone the conversation list is a drawer.
				run(t, ctx, chromedp.Click(chromedp.ID("toggle-convs")))
				waitJS(t, ctx, `getComputedStyle(document.getElementById('sidebar')).display !== 'none'`)
				if bad := eval[[]string](t, ctx, contrast); len(bad) > 0 {
					t.Errorf("text below 4.5:1 contrast in the drawer: %q", bad)
				}
				save(t, ctx, tc.name+"-drawer")
			}
		})
	}
}

func TestLoginLook(t *testing.T) {
	e := newEnv(t, nil)
	for _, scheme := range []string{"light", "dark"} {
		ctx := tab(t, 390, 844)
		setScheme(t, ctx, scheme)
		run(t, ctx, chromedp.Navigate(e.url()), chromedp.WaitVisible(chromedp.ID("login-name")), chromedp.Click(chromedp.ID("login-submit")))
		waitJS(t, ctx, `document.getElementById('login-error').textContent !== ''`)
		if bad := eval[[]string](t, ctx, contrastIn("#login *")); len(bad) > 0 {
			t.Errorf("login form text below 4.5:1 contrast in the %s theme: %q", scheme, bad)
		}
		if bad := eval[[]string](t, ctx, fieldBorders); len(bad) > 0 {
			t.Errorf("login field borders below 3:1 contrast in the %s theme: %q", scheme, bad)
		}
	}
}

func setScheme(t *testing.T, ctx context.Context, scheme string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
		return err
	})); err != nil {
		t.Fatal(err)
	}
}

// TestKeyboard checks that every control has a name for screen readers,
// that new messages are in a live region, and that the conversation
// shortcuts work.
func TestKeyboard(t *testing.T) {
	ctx := scene(t, 1280, 800, "light")
	unnamed := eval[[]string](t, ctx, `[...document.querySelectorAll('button, input, textarea')].filter(e => e.offsetParent && !(e.getAttribute('aria-label') || e.textContent.trim() || (e.labels && e.labels.length) || e.placeholder)).map(e => e.outerHTML.slice(0, 80))`)
	if len(unnamed) > 0 {
		t.Errorf("controls without a name: %q", unnamed)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('[tabindex="-1"]').length`); n != 0 {
		t.Errorf("%d elements are kept out of the keyboard's reach", n)
	}
	if live := eval[string](t, ctx, `document.getElementById('messages').getAttribute('aria-live')`); live != "polite" {
		t.Errorf("messages aria-live %q", live)
	}
	// Alt+1 is the lobby, Alt+2 the first room.
	run(t, ctx, chromedp.KeyEvent("1", chromedp.KeyModifiers(chromedp.ModifierAlt)))
	waitJS(t, ctx, `document.getElementById('conv-title').textContent === '#lobby'`)
	run(t, ctx, chromedp.KeyEvent("2", chromedp.KeyModifiers(chromedp.ModifierAlt)))
	waitJS(t, ctx, `document.getElementById('conv-title').textContent === '#general'`)
	run(t, ctx, chromedp.KeyEvent(kb.ArrowUp, chromedp.KeyModifiers(chromedp.ModifierAlt)))
	waitJS(t, ctx, `document.getElementById('conv-title').textContent === '#lobby'`)
	// Tab completes commands and emoji.
	run(t, ctx, chromedp.Focus(chromedp.ID("input")), chromedp.SetValue(chromedp.ID("input"), "/jo"), chromedp.SendKeys(chromedp.ID("input"), "i"))
	waitJS(t, ctx, `!document.getElementById('completions').hidden && document.getElementById('completions').textContent.startsWith('/join')`)
	run(t, ctx, chromedp.SendKeys(chromedp.ID("input"), "\t"))
	waitJS(t, ctx, `document.getElementById('input').value === '/join '`)
	do(t, ctx, `document.getElementById("input").value = ""`)
	run(t, ctx, chromedp.SendKeys(chromedp.ID("input"), "yay :tad"))
	waitJS(t, ctx, `document.getElementById('completions').textContent.includes(':tada:')`)
	run(t, ctx, chromedp.SendKeys(chromedp.ID("input"), "\t"))
	waitJS(t, ctx, `document.getElementById('input').value === 'yay 🎉'`)
}

// The emoji picker, /help, /rooms, /who and /leave, as a person uses them.
func TestPickerAndCommands(t *testing.T) {
	e := newEnv(t, nil)
	bob := e.peer("bob")
	bob.do(&protocol.Frame{Type: protocol.TypeJoin, Room: "ops"})
	ctx := tab(t, 1280, 800)
	login(t, ctx, e, "otto")
	run(t, ctx, chromedp.Click(chromedp.ID("emoji-button")))
	waitJS(t, ctx, `!document.getElementById('emoji-picker').hidden && document.activeElement.id === 'emoji-search'`)
	run(t, ctx, chromedp.SendKeys(chromedp.ID("emoji-search"), "rocke"))
	waitJS(t, ctx, `document.querySelector('#emoji-grid button') && document.querySelector('#emoji-grid button').textContent === '🚀'`)
	run(t, ctx, pressEnter()) // Enter takes the first match
	waitJS(t, ctx, `document.getElementById('emoji-picker').hidden && document.getElementById('input').value === '🚀'`)
	run(t, ctx, chromedp.SendKeys(chromedp.ID("input"), " launch"), pressEnter())
	if got := bob.waitMessage(func(f *protocol.Frame) bool { return f.From == "otto" }); got.Text != "🚀 launch" {
		t.Fatalf("bob got %q", got.Text)
	}
	say(t, ctx, "/rooms")
	waitJS(t, ctx, `[...document.querySelectorAll('#messages .notice')].some(n => n.textContent.includes('ops (1, owner bob)'))`)
	say(t, ctx, "/join ops")
	waitJS(t, ctx, `document.getElementById('conv-title').textContent === '#ops'`)
	say(t, ctx, "/who")
	waitJS(t, ctx, `[...document.querySelectorAll('#messages .notice')].some(n => n.textContent.startsWith('In ops: bob (owner), otto') || n.textContent.includes('In ops: bob (owner), otto'))`)
	say(t, ctx, "/nonsense")
	waitJS(t, ctx, `[...document.querySelectorAll('#messages .notice')].some(n => n.textContent.includes('unknown command /nonsense; /help lists them'))`)
	// Leave from the header's button: back to the lobby, and ops is no
	// longer listed.
	run(t, ctx, chromedp.Click(chromedp.ID("leave-room")))
	waitJS(t, ctx, `document.getElementById('conv-title').textContent === '#lobby' && ![...document.querySelectorAll('#conv-list .name')].some(n => n.textContent === '#ops')`)
	say(t, ctx, "/help")
	waitJS(t, ctx, `document.getElementById('help-dialog').open && document.getElementById('help-body').textContent.includes('/recall [ID]')`)
	run(t, ctx, chromedp.Click(chromedp.ID("help-close")))
	waitJS(t, ctx, `!document.getElementById('help-dialog').open`)
}

package web_test

import (
	"testing"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/shared/protocol"
)

// While the tab is hidden, a private message and a mention raise a
// notification (once the person has allowed them); a message to a room
// that does not mention them raises none. The page title counts what is
// unread.
func TestNotifications(t *testing.T) {
	e := newEnv(t, nil)
	bob := e.peer("bob")
	ctx := tab(t, 1280, 800)
	if _, err := chromedp.CallBrowser(ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
		Permission: &cdpbrowser.PermissionDescriptor{Name: "notifications"},
		Setting:    cdpbrowser.PermissionSettingGranted,
		Origin:     "http://" + e.httpLn,
	}); err != nil {
		t.Fatal(err)
	}
	login(t, ctx, e, "jill")
	// Allowed already, so on; the bell turns them off and on again.
	waitJS(t, ctx, `document.getElementById('notify').getAttribute('aria-pressed') === 'true'`)
	run(t, ctx, chromedp.Click(chromedp.ID("notify")))
	waitJS(t, ctx, `document.getElementById('notify').getAttribute('aria-pressed') === 'false'`)
	run(t, ctx, chromedp.Click(chromedp.ID("notify")))
	waitJS(t, ctx, `document.getElementById('notify').getAttribute('aria-pressed') === 'true'`)
	// Record what the page hands the browser's Notification API.
	do(t, ctx, `window.__notes = []; { const N = window.Notification; window.Notification = class extends N { static get permission() { return N.permission; } constructor(title, opts) { super(title, opts); window.__notes.push(title + ' | ' + opts.body); } }; }`)

	// Minimizing the window hides the page, as when its person looks
	// at another window.
	w, err := chromedp.Call(ctx, cdpbrowser.GetWindowForTarget, cdpbrowser.GetWindowForTargetParams{})
	if err != nil {
		t.Fatal(err)
	}
	setState := func(state cdpbrowser.WindowState) {
		if _, err := chromedp.CallBrowser(ctx, cdpbrowser.SetWindowBounds, cdpbrowser.SetWindowBoundsParams{WindowID: w.WindowID, Bounds: &cdpbrowser.Bounds{WindowState: state}}); err != nil {
			t.Fatal(err)
		}
	}
	setState(cdpbrowser.WindowStateMinimized)
	t.Cleanup(func() { setState(cdpbrowser.WindowStateNormal) })
	waitJS(t, ctx, `document.hidden`)

	bob.do(&protocol.Frame{Type: protocol.TypeSend, Room: "lobby", Text: "nothing for anyone here", Key: chat.NewKey()})
	bob.do(&protocol.Frame{Type: protocol.TypeSend, To: "jill", Text: "psst", Key: chat.NewKey()})
	bob.do(&protocol.Frame{Type: protocol.TypeSend, Room: "lobby", Text: "what does Jill think?", Key: chat.NewKey()})
	waitJS(t, ctx, `window.__notes.length === 2`)
	notes := eval[[]string](t, ctx, `window.__notes`)
	if notes[0] != "bob (private) | psst" || notes[1] != "bob in #lobby | what does Jill think?" {
		t.Fatalf("notifications %q", notes)
	}
	waitJS(t, ctx, `document.title === '(3) Parley'`)
}

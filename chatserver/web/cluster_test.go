package web_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/parley-chat/parley/chatserver/server"
	"github.com/parley-chat/parley/chatserver/server/servertest"
	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/shared/protocol"
)

// The page's server is a node of a cluster whose welcome lists three
// nodes: itself (A), one where nothing listens (C) and B. When A stops,
// the page tries C, and at once B, whose /ws its policy allows and whose
// origin check lets A's page in because A is a node; A itself, the
// address that just failed, would come last. The two servers share no
// data, as a cluster's nodes would, so B does not know the tab's resume
// token: the page asks for the password, logs in there (registering the
// name), and what it sends then is stored on B.
func TestWebClientMovesToAnotherNode(t *testing.T) {
	aHTTP, bHTTP, cHTTP := freePort(t), freePort(t), freePort(t)
	nodes := func() []protocol.Node {
		return []protocol.Node{{HTTP: "http://" + aHTTP}, {HTTP: "http://" + cHTTP}, {HTTP: "http://" + bHTTP}}
	}
	a := servertest.Start(t, func(c *server.Config) { c.HTTPAddr = aHTTP; c.Nodes = nodes })
	b := servertest.Start(t, func(c *server.Config) { c.HTTPAddr = bHTTP; c.Nodes = nodes })

	ctx := tab(t, 1280, 800)
	// The page's WebSockets, in the order it opened them.
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.__ws = []; { const W = window.WebSocket; window.WebSocket = class extends W { constructor(u, p) { super(u, p); window.__ws.push(String(u)); } }; }`,
	}); err != nil {
		t.Fatal(err)
	}
	opened := func() []string { return eval[[]string](t, ctx, `window.__ws`) }

	run(t, ctx,
		chromedp.Navigate("http://"+aHTTP+"/"),
		chromedp.WaitVisible(chromedp.ID("login-name")),
		chromedp.SendKeys(chromedp.ID("login-name"), "wanda"),
		chromedp.SendKeys(chromedp.ID("login-password"), "pw-wanda"),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("messages")),
	)
	waitJS(t, ctx, `document.getElementById('conn-text').textContent === 'online'`)
	say(t, ctx, "said on A")
	waitJS(t, ctx, messageShown("said on A"))
	if got, want := opened(), []string{"ws://" + aHTTP + "/ws"}; !slices.Equal(got, want) {
		t.Fatalf("WebSockets %q, want %q", got, want)
	}

	ctxS, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if err := a.Shutdown(ctxS); err != nil {
		t.Fatal(err)
	}
	cancel()
	// B answers and refuses A's token: the page asks for the password.
	waitJS(t, ctx, `!document.getElementById('login').hidden && document.getElementById('login-error').textContent.includes('expired')`)
	if got, want := opened(), []string{"ws://" + aHTTP + "/ws", "ws://" + cHTTP + "/ws", "ws://" + bHTTP + "/ws"}; !slices.Equal(got, want) {
		t.Fatalf("WebSockets %q, want %q: the next nodes in turn, A last", got, want)
	}
	if csp := eval[[]string](t, ctx, `window.__csp`); len(csp) != 0 {
		t.Fatalf("the policy blocked %q", csp)
	}

	run(t, ctx,
		chromedp.SendKeys(chromedp.ID("login-password"), "pw-wanda"),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("messages")),
	)
	waitJS(t, ctx, `document.getElementById('conn-text').textContent === 'online'`)
	waitJS(t, ctx, `[...document.querySelectorAll('#messages .notice .text')].some(n => n.textContent === 'Reconnected to `+bHTTP+`.')`)

	// A peer on B sees what the page sends now.
	ctxP, cancelP := context.WithTimeout(context.Background(), waitLimit)
	defer cancelP()
	bs, err := chat.Connect(ctxP, chat.Options{Addr: b.Addr(), Name: "bob", Password: "pw-bob"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bs.Close() })
	p := &peer{t: t, s: bs}
	say(t, ctx, "said on B")
	if got := p.waitMessage(func(f *protocol.Frame) bool { return f.From == "wanda" }); got.Text != "said on B" {
		t.Fatalf("B got %q from wanda", got.Text)
	}
	if got := opened(); len(got) != 4 || got[3] != "ws://"+bHTTP+"/ws" {
		t.Fatalf("WebSockets %q: the login went elsewhere", got)
	}
}

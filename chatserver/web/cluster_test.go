package web_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"

	"github.com/parley-chat/parley/chatserver/server"
	"github.com/parley-chat/parley/chatserver/server/servertest"
	"github.com/parley-chat/parley/chatserver/web"
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

// unavailableNode is a node's HTTP door, the real one, whose /ws speaks
// just enough of the protocol to be a node that lost its database: hello
// gets welcome with the cluster's nodes, login and the other requests get
// ok, and every send gets unavailable.
type unavailableNode struct {
	mu    sync.Mutex
	sends []string
	conns []*websocket.Conn
}

func (n *unavailableNode) ServeHTTP(w http.ResponseWriter, r *http.Request, nodes func() []protocol.Node) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	n.mu.Lock()
	n.conns = append(n.conns, c)
	n.mu.Unlock()
	defer c.CloseNow()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	write := func(f *protocol.Frame) error {
		return c.Write(ctx, websocket.MessageText, bytes.TrimSpace(protocol.Encode(f)))
	}
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return
		}
		f, err := protocol.Decode(b)
		if err != nil {
			continue
		}
		var reply *protocol.Frame
		switch f.Type {
		case protocol.TypeHello:
			reply = &protocol.Frame{Type: protocol.TypeWelcome, Version: protocol.Version, Server: "unavailable-node",
				Limits: &protocol.Limits{Frame: protocol.DefaultMaxFrame, RatePerSec: 20, RateBurst: 50, PingSecs: 60}, Nodes: nodes()}
		case protocol.TypeLogin:
			reply = &protocol.Frame{Type: protocol.TypeOK, Re: f.ID, Name: f.Name, Token: "token-of-the-unavailable-node",
				Rooms: []protocol.RoomInfo{{Name: protocol.Lobby, Members: 1, Joined: true}}}
		case protocol.TypeSend:
			n.mu.Lock()
			n.sends = append(n.sends, f.Text)
			n.mu.Unlock()
			reply = &protocol.Frame{Type: protocol.TypeError, Re: f.ID, Code: protocol.CodeUnavailable, Message: "the database is unreachable"}
		default:
			if f.ID == 0 {
				continue
			}
			reply = &protocol.Frame{Type: protocol.TypeOK, Re: f.ID}
		}
		if write(reply) != nil {
			return
		}
	}
}

// A send that the page's node answers with unavailable was not stored:
// the page leaves that node for the next, and the message goes out
// there, once, and is shown once.
func TestWebClientLeavesAnUnavailableNode(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fHTTP, bHTTP := ln.Addr().String(), freePort(t)
	nodes := func() []protocol.Node {
		return []protocol.Node{{HTTP: "http://" + fHTTP}, {HTTP: "http://" + bHTTP}}
	}
	b := servertest.Start(t, func(c *server.Config) { c.HTTPAddr = bHTTP; c.Nodes = nodes })
	fake := &unavailableNode{}
	door := &http.Server{Handler: web.Handler(web.Config{
		WS:      http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fake.ServeHTTP(w, r, nodes) }),
		Metrics: http.NotFoundHandler(),
		Alive:   func(context.Context) error { return nil },
		Nodes:   nodes,
	})}
	served := make(chan struct{})
	go func() { defer close(served); door.Serve(ln) }()
	t.Cleanup(func() {
		door.Close()
		fake.mu.Lock()
		for _, c := range fake.conns {
			c.CloseNow()
		}
		fake.mu.Unlock()
		<-served
	})

	ctxP, cancelP := context.WithTimeout(context.Background(), waitLimit)
	defer cancelP()
	bs, err := chat.Connect(ctxP, chat.Options{Addr: b.Addr(), Name: "bob", Password: "pw-bob"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bs.Close() })
	bob := &peer{t: t, s: bs}

	ctx := tab(t, 1280, 800)
	run(t, ctx,
		chromedp.Navigate("http://"+fHTTP+"/"),
		chromedp.WaitVisible(chromedp.ID("login-name")),
		chromedp.SendKeys(chromedp.ID("login-name"), "xena"),
		chromedp.SendKeys(chromedp.ID("login-password"), "pw-xena"),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("messages")),
	)
	waitJS(t, ctx, `document.getElementById('conn-text').textContent === 'online'`)
	say(t, ctx, "not stored on the first node")
	// B does not know the first node's token: the page asks for the
	// password, keeping the message.
	waitJS(t, ctx, `!document.getElementById('login').hidden && document.getElementById('login-error').textContent.includes('expired')`)
	run(t, ctx,
		chromedp.SendKeys(chromedp.ID("login-password"), "pw-xena"),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("messages")),
	)
	if got := bob.waitMessage(func(f *protocol.Frame) bool { return f.From == "xena" }); got.Text != "not stored on the first node" {
		t.Fatalf("B got %q from xena", got.Text)
	}
	waitJS(t, ctx, messageShown("not stored on the first node"))
	waitJS(t, ctx, `document.getElementById('outbox').textContent === ''`)
	if n := countShown(t, ctx, "not stored on the first node"); n != 1 {
		t.Fatalf("shown %d times", n)
	}
	fake.mu.Lock()
	sends := slices.Clone(fake.sends)
	fake.mu.Unlock()
	if !slices.Equal(sends, []string{"not stored on the first node"}) {
		t.Fatalf("the unavailable node got sends %q", sends)
	}
}

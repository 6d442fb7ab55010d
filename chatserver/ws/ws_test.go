package ws_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/parley-chat/parley/chatserver/server"
	"github.com/parley-chat/parley/chatserver/server/servertest"
	"github.com/parley-chat/parley/chatserver/ws"
	"github.com/parley-chat/parley/shared/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wsClient speaks the protocol over a WebSocket.
type wsClient struct {
	t  *testing.T
	c  *websocket.Conn
	id uint64

	pending  []string // frames of the last message not yet read
	messages int      // messages read so far
}

func dialWS(t *testing.T, s *server.Server, header http.Header) (*wsClient, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws://"+s.HTTPAddr()+"/ws", &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		return nil, resp, err
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return &wsClient{t: t, c: c}, resp, nil
}

func (w *wsClient) send(f *protocol.Frame) uint64 {
	w.t.Helper()
	if protocol.IsRequest(f.Type) && f.ID == 0 {
		w.id++
		f.ID = w.id
	}
	b := protocol.Encode(f)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.c.Write(ctx, websocket.MessageText, b[:len(b)-1]); err != nil {
		w.t.Fatalf("write: %v", err)
	}
	return f.ID
}

// read returns the next frame. A message holds one frame or several
// separated by newlines, at most ws.MaxMessage bytes unless it is one.
func (w *wsClient) read() (*protocol.Frame, error) {
	if len(w.pending) == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		typ, b, err := w.c.Read(ctx)
		if err != nil {
			return nil, err
		}
		frames := strings.Split(string(b), "\n")
		if typ != websocket.MessageText || slices.Contains(frames, "") || len(frames) > 1 && len(b) > ws.MaxMessage {
			w.t.Fatalf("a message that is not text of whole frames within the bound: %v, %d bytes, %q", typ, len(b), b[:min(len(b), 200)])
		}
		w.messages++
		w.pending = frames
	}
	f := w.pending[0]
	w.pending = w.pending[1:]
	return protocol.Decode([]byte(f))
}

func (w *wsClient) until(ok func(*protocol.Frame) bool) *protocol.Frame {
	w.t.Helper()
	for {
		f, err := w.read()
		if err != nil {
			w.t.Fatalf("read: %v", err)
		}
		if ok(f) {
			return f
		}
	}
}

func (w *wsClient) reply(id uint64) *protocol.Frame {
	w.t.Helper()
	return w.until(func(f *protocol.Frame) bool { return f.Re == id })
}

func (w *wsClient) login(name string) *protocol.Frame {
	w.t.Helper()
	w.send(&protocol.Frame{Type: protocol.TypeHello, Version: protocol.Version, Client: "ws-test"})
	if f := w.until(func(f *protocol.Frame) bool { return true }); f.Type != protocol.TypeWelcome {
		w.t.Fatalf("expected welcome, got %+v", f)
	}
	r := w.reply(w.send(&protocol.Frame{Type: protocol.TypeLogin, Name: name, Password: "pw"}))
	if r.Type != protocol.TypeOK {
		w.t.Fatalf("login: %+v", r)
	}
	return r
}

// tcpClient is the same over TCP, newline-delimited.
type tcpClient struct {
	t  *testing.T
	nc net.Conn
	r  *protocol.Reader
	id uint64
}

func dialTCP(t *testing.T, s *server.Server, name string) *tcpClient {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &tcpClient{t: t, nc: nc, r: protocol.NewReader(nc, 1<<20)}
	c.send(&protocol.Frame{Type: protocol.TypeHello, Version: protocol.Version})
	c.until(func(f *protocol.Frame) bool { return f.Type == protocol.TypeWelcome })
	if r := c.reply(c.send(&protocol.Frame{Type: protocol.TypeLogin, Name: name, Password: "pw"})); r.Type != protocol.TypeOK {
		t.Fatalf("tcp login: %+v", r)
	}
	return c
}

func (c *tcpClient) send(f *protocol.Frame) uint64 {
	if protocol.IsRequest(f.Type) && f.ID == 0 {
		c.id++
		f.ID = c.id
	}
	c.nc.Write(protocol.Encode(f))
	return f.ID
}

func (c *tcpClient) until(ok func(*protocol.Frame) bool) *protocol.Frame {
	c.t.Helper()
	for {
		c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := c.r.ReadFrame()
		if err != nil {
			c.t.Fatalf("tcp read: %v", err)
		}
		if f, err := protocol.Decode(line); err == nil && ok(f) {
			return f
		}
	}
}

func (c *tcpClient) reply(id uint64) *protocol.Frame {
	return c.until(func(f *protocol.Frame) bool { return f.Re == id })
}

// The protocol over /ws: a browser's session logs in, joins a room,
// sends, and hears a TCP client in the same room, and the other way
// round; presence and history reach it as over TCP.
func TestChatOverWebSocket(t *testing.T) {
	s := servertest.Start(t, nil)
	bob := dialTCP(t, s, "bob")
	bob.reply(bob.send(&protocol.Frame{Type: protocol.TypeJoin, Room: "go"}))
	earlier := bob.reply(bob.send(&protocol.Frame{Type: protocol.TypeSend, Room: "go", Text: "before alice came"})).Msg

	alice, _, err := dialWS(t, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok := alice.login("alice"); ok.Token == "" {
		t.Errorf("login over WebSocket gave no resume token: %+v", ok)
	}
	id := alice.send(&protocol.Frame{Type: protocol.TypeJoin, Room: "go"})
	if h := alice.until(func(f *protocol.Frame) bool { return f.Type == protocol.TypeMessage }); h.ID != earlier || !h.History {
		t.Errorf("join history over WebSocket: %+v", h)
	}
	alice.reply(id)

	bob.send(&protocol.Frame{Type: protocol.TypeSend, Room: "go", Text: "hello from tcp 👋"})
	if f := alice.until(func(f *protocol.Frame) bool { return f.Type == protocol.TypeMessage }); f.Text != "hello from tcp 👋" || f.From != "bob" {
		t.Errorf("alice got %+v", f)
	}
	sent := alice.reply(alice.send(&protocol.Frame{Type: protocol.TypeSend, Room: "go", Text: "hello from the browser"}))
	if f := bob.until(func(f *protocol.Frame) bool { return f.Type == protocol.TypeMessage && f.From == "alice" }); f.Text != "hello from the browser" || f.ID != sent.Msg {
		t.Errorf("bob got %+v", f)
	}
	// Errors answer requests over WebSocket too, and the connection lives.
	r := alice.reply(alice.send(&protocol.Frame{Type: protocol.TypeSend, Room: "nowhere", Text: "x"}))
	if r.Code != protocol.CodeNoSuchRoom {
		t.Errorf("send to a room that does not exist: %+v", r)
	}
	q := alice.send(&protocol.Frame{Type: protocol.TypeQuit})
	alice.reply(q)
	if bye := alice.until(func(f *protocol.Frame) bool { return f.Type == protocol.TypeBye }); bye.Code != protocol.CodeQuit {
		t.Errorf("bye %+v", bye)
	}
	if _, err := alice.read(); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Errorf("after quit: %v, want a normal close", err)
	}
}

// A page from another origin may not open a session in the user's
// browser; the server's own origin and -allow-origin hosts may.
func TestWebSocketOrigin(t *testing.T) {
	s := servertest.Start(t, func(c *server.Config) { c.AllowOrigins = []string{"chat.example.org"} })
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"", true}, // not a browser
		{"http://" + s.HTTPAddr(), true},
		{"https://chat.example.org", true},
		{"https://evil.example.com", false},
	} {
		h := http.Header{}
		if tc.origin != "" {
			h.Set("Origin", tc.origin)
		}
		w, resp, err := dialWS(t, s, h)
		switch {
		case tc.ok && err != nil:
			t.Errorf("origin %q refused: %v", tc.origin, err)
		case !tc.ok && (err == nil || resp == nil || resp.StatusCode != http.StatusForbidden):
			t.Errorf("origin %q: %v, %v; want 403", tc.origin, err, resp)
		}
		if w != nil {
			w.c.Close(websocket.StatusNormalClosure, "")
		}
	}
}

// The pages of a cluster's nodes, by the URLs of their HTTP doors, may
// open sessions here, without -allow-origin; other origins still may not.
func TestWebSocketNodeOrigins(t *testing.T) {
	s := servertest.Start(t, func(c *server.Config) {
		c.Nodes = func() []protocol.Node {
			return []protocol.Node{{TCP: "node-a.example:7700", HTTP: "https://Node-A.example:7701"}, {TCP: "node-b.example:7700"}}
		}
	})
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"http://" + s.HTTPAddr(), true},
		{"https://node-a.example:7701", true},
		{"https://node-a.example:7702", false}, // another port
		{"https://node-b.example:7700", false}, // a TCP door is no page
		{"https://evil.example.com", false},
	} {
		w, resp, err := dialWS(t, s, http.Header{"Origin": {tc.origin}})
		switch {
		case tc.ok && err != nil:
			t.Errorf("origin %q refused: %v", tc.origin, err)
		case !tc.ok && (err == nil || resp == nil || resp.StatusCode != http.StatusForbidden):
			t.Errorf("origin %q: %v, %v; want 403", tc.origin, err, resp)
		}
		if w != nil {
			w.c.Close(websocket.StatusNormalClosure, "")
		}
	}
}

// A frame over the limit closes the connection with a reason, as over
// TCP; garbage gets an error and the connection lives.
func TestWebSocketBadInput(t *testing.T) {
	s := servertest.Start(t, func(c *server.Config) { c.Limits.Frame = 1024 })
	w, _, err := dialWS(t, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.login("carol")
	ctx := context.Background()
	w.c.Write(ctx, websocket.MessageText, []byte("not json"))
	if f := w.until(func(f *protocol.Frame) bool { return f.Type == protocol.TypeError }); f.Code != protocol.CodeBadFrame {
		t.Errorf("garbage: %+v", f)
	}
	w.c.Write(ctx, websocket.MessageText, []byte(`{"type":"send","id":9,"text":"`+strings.Repeat("x", 2000)+`"}`))
	if f := w.until(func(f *protocol.Frame) bool { return f.Type == protocol.TypeBye }); f.Code != protocol.CodeFrameTooLarge {
		t.Errorf("oversize frame: bye %+v", f)
	}
	if _, err := w.read(); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the connection stayed open after an oversize frame: %v", err)
	}
}

// An idle WebSocket session is pinged, and closed if it does not answer.
func TestWebSocketPingTimeout(t *testing.T) {
	s := servertest.Start(t, func(c *server.Config) {
		c.PingInterval = 200 * time.Millisecond
		c.PingTimeout = 200 * time.Millisecond
	})
	w, _, err := dialWS(t, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.login("dave")
	if f := w.until(func(f *protocol.Frame) bool { return f.Type == protocol.TypePing }); f.Re != 0 {
		t.Errorf("ping %+v", f)
	}
	if f := w.until(func(f *protocol.Frame) bool { return f.Type == protocol.TypeBye }); f.Code != protocol.CodePingTimeout {
		t.Errorf("bye %+v", f)
	}
}

// What is queued for a browser at once goes out in few messages, whole
// frames joined by newlines, in order: a join's history (50 messages of
// about 250 bytes) and its reply are queued together, so they fit in one
// message, or two if the writer was busy meanwhile.
func TestWebSocketJoinsQueuedFrames(t *testing.T) {
	s := servertest.Start(t, nil)
	bob := dialTCP(t, s, "bob")
	bob.reply(bob.send(&protocol.Frame{Type: protocol.TypeJoin, Room: "burst"}))
	const n = 60
	text := strings.Repeat("b", 100)
	ids := make([]uint64, n)
	for i := range n {
		ids[i] = bob.reply(bob.send(&protocol.Frame{Type: protocol.TypeSend, Room: "burst", Text: fmt.Sprint(i, " ", text)})).Msg
	}
	alice, _, err := dialWS(t, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	alice.login("alice")
	id := alice.send(&protocol.Frame{Type: protocol.TypeJoin, Room: "burst"})
	var history []uint64
	first := 0 // the message of the first history frame
	for {
		f, err := alice.read()
		if err != nil {
			t.Fatal(err)
		}
		if f.Type == protocol.TypeMessage && f.History {
			if first == 0 {
				first = alice.messages
			}
			history = append(history, f.ID)
		}
		if f.Re == id {
			break
		}
	}
	if want := ids[n-50:]; !slices.Equal(history, want) {
		t.Errorf("join history ids %v, want %v", history, want)
	}
	if m := alice.messages - first + 1; first == 0 || m > 2 {
		t.Errorf("a join's history and reply, %d frames, came in %d messages", len(history)+1, m)
	}
}

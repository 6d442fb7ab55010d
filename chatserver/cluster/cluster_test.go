package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-chat/parley/chatserver/cluster/natstest"
	"github.com/parley-chat/parley/chatserver/server"
	"github.com/parley-chat/parley/chatserver/server/servertest"
	"github.com/parley-chat/parley/chatserver/store/postgres/pgtest"
	"github.com/parley-chat/parley/shared/filetoken"
	"github.com/parley-chat/parley/shared/protocol"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// pgx's and nats.go's background goroutines end a moment after
		// their connections close.
		goleak.IgnoreAnyFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"))
}

// filesSecret is the file server's secret, shared by every node.
var filesSecret = []byte("0123456789abcdef0123456789abcdef")

type cluster struct {
	t     *testing.T
	nats  string
	db    string
	nodes []*server.Server
}

func startCluster(t *testing.T, n int) *cluster {
	pg := pgtest.Start(t)
	ns := natstest.Start(t)
	c := &cluster{t: t, nats: ns.URL(), db: pg.Schema(t)}
	for i := range n {
		c.nodes = append(c.nodes, c.start(i))
	}
	return c
}

func (c *cluster) start(i int) *server.Server {
	return servertest.Start(c.t, func(cfg *server.Config) {
		cfg.NATS, cfg.DB, cfg.Node = c.nats, c.db, "n"+string(rune('1'+i))
		cfg.ClusterBeat, cfg.ClusterTTL = 100*time.Millisecond, time.Second
		cfg.IRC = ""
		cfg.FilesSecret = filesSecret
	})
}

// client speaks the chat protocol to one node.
type client struct {
	t      *testing.T
	nc     net.Conn
	r      *protocol.Reader
	id     uint64
	seen   []*protocol.Frame // every frame read
	unread []*protocol.Frame // those next has not returned
}

func dial(t *testing.T, s *server.Server) *client {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &client{t: t, nc: nc, r: protocol.NewReader(nc, 1<<20)}
	c.send(&protocol.Frame{Type: protocol.TypeHello, Version: protocol.Version})
	return c
}

func (c *client) send(f *protocol.Frame) uint64 {
	id, err := c.trySend(f)
	if err != nil {
		c.t.Fatal(err)
	}
	return id
}

// trySend is send for a test that expects the server to close the
// connection: a write can then fail before the client reads why.
func (c *client) trySend(f *protocol.Frame) (uint64, error) {
	if protocol.IsRequest(f.Type) && f.ID == 0 {
		c.id++
		f.ID = c.id
	}
	_, err := c.nc.Write(protocol.Encode(f))
	return f.ID, err
}

// next returns the first frame not yet returned that ok accepts,
// reading more as needed; the others stay for later calls.
func (c *client) next(ok func(*protocol.Frame) bool) *protocol.Frame {
	c.t.Helper()
	f, err := c.tryNext(ok)
	if err != nil {
		c.t.Fatalf("read: %v (after %d frames: %s)", err, len(c.seen), dump(c.seen))
	}
	return f
}

// tryNext is next for a test that expects the server to close the
// connection: it returns the read's error instead of failing the test.
func (c *client) tryNext(ok func(*protocol.Frame) bool) (*protocol.Frame, error) {
	for i, f := range c.unread {
		if ok(f) {
			c.unread = append(c.unread[:i:i], c.unread[i+1:]...)
			return f, nil
		}
	}
	for {
		c.nc.SetReadDeadline(time.Now().Add(15 * time.Second))
		line, err := c.r.ReadFrame()
		if err != nil {
			return nil, err
		}
		f, err := protocol.Decode(line)
		if err != nil {
			c.t.Fatal(err)
		}
		c.seen = append(c.seen, f)
		if ok(f) {
			return f, nil
		}
		c.unread = append(c.unread, f)
	}
}

func (c *client) do(f *protocol.Frame) *protocol.Frame {
	c.t.Helper()
	id := c.send(f)
	return c.next(func(f *protocol.Frame) bool { return f.Re == id })
}

func (c *client) mustDo(f *protocol.Frame) *protocol.Frame {
	c.t.Helper()
	r := c.do(f)
	if r.Type != protocol.TypeOK {
		c.t.Fatalf("%s: %+v", f.Type, r)
	}
	return r
}

// history returns a conversation's newest 50 messages, oldest first.
func (c *client) history(room string) []*protocol.Frame {
	c.t.Helper()
	c.unread = nil // the join's history, say
	id := c.send(&protocol.Frame{Type: protocol.TypeHistory, Room: room, Limit: 50})
	var out []*protocol.Frame
	for {
		f := c.next(func(f *protocol.Frame) bool {
			return f.Re == id || (f.Type == protocol.TypeMessage && f.History)
		})
		if f.Re == id {
			if f.Type != protocol.TypeOK {
				c.t.Fatalf("history: %+v", f)
			}
			return out
		}
		out = append(out, f)
	}
}

// login logs in as name, again while the cluster has no writer yet.
func login(t *testing.T, s *server.Server, name string) *client {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c := dial(t, s)
		r := c.do(&protocol.Frame{Type: protocol.TypeLogin, Name: name, Password: "secret-" + name})
		if r.Type == protocol.TypeOK {
			return c
		}
		if r.Code != protocol.CodeUnavailable || time.Now().After(deadline) {
			t.Fatalf("login of %s: %+v", name, r)
		}
		c.nc.Close()
		time.Sleep(50 * time.Millisecond)
	}
}

func isMessage(text string) func(*protocol.Frame) bool {
	return func(f *protocol.Frame) bool { return f.Type == protocol.TypeMessage && f.Text == text }
}

// Three nodes, a client on each: a room and a private conversation work
// across them, in one order of ids for everyone, and a login on one node
// takes over the session on another.
func TestThreeNodes(t *testing.T) {
	c := startCluster(t, 3)
	alice := login(t, c.nodes[0], "alice")
	bob := login(t, c.nodes[1], "bob")
	carol := login(t, c.nodes[2], "carol")
	for _, u := range []*client{alice, bob, carol} {
		u.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "plans"})
	}
	var ids []uint64
	for i, u := range []*client{alice, bob, carol, alice, bob, carol} {
		r := u.mustDo(&protocol.Frame{Type: protocol.TypeSend, Room: "plans", Text: "m" + string(rune('0'+i))})
		ids = append(ids, r.Msg)
	}
	for _, u := range []*client{alice, bob, carol} {
		var got []uint64
		for i := range 6 {
			f := u.next(func(f *protocol.Frame) bool {
				return f.Type == protocol.TypeMessage && f.Room == "plans" && f.Text == "m"+string(rune('0'+i))
			})
			got = append(got, f.ID)
		}
		for i := range got {
			if got[i] != ids[i] || (i > 0 && got[i] <= got[i-1]) {
				t.Fatalf("ids seen %v; sent as %v", got, ids)
			}
		}
	}
	// The owner, on node 1, makes bob an operator; bob, on node 2, may
	// then set the topic, and everyone hears of both.
	yes := true
	alice.mustDo(&protocol.Frame{Type: protocol.TypeMode, Room: "plans", Name: "bob", Operator: &yes})
	if f := carol.next(func(f *protocol.Frame) bool { return f.Type == protocol.TypeMode }); f.Name != "bob" || f.Operator == nil || !*f.Operator {
		t.Errorf("mode event on node 3: %+v", f)
	}
	bob.mustDo(&protocol.Frame{Type: protocol.TypeTopic, Room: "plans", Text: "set on node 2"})
	if f := alice.next(func(f *protocol.Frame) bool { return f.Type == protocol.TypeTopic }); f.Text != "set on node 2" {
		t.Errorf("topic event on node 1: %+v", f)
	}
	bob.mustDo(&protocol.Frame{Type: protocol.TypeSend, To: "carol", Text: "just us"})
	if f := carol.next(isMessage("just us")); f.From != "bob" {
		t.Errorf("private message %+v", f)
	}

	// alice logs in on the third node: the first session is replaced.
	again := login(t, c.nodes[2], "alice")
	bye := alice.next(func(f *protocol.Frame) bool { return f.Type == protocol.TypeReplaced || f.Type == protocol.TypeBye })
	if bye.Type != protocol.TypeReplaced && bye.Code != protocol.CodeReplaced {
		t.Errorf("the older session got %+v", bye)
	}
	again.mustDo(&protocol.Frame{Type: protocol.TypeSend, Room: "plans", Text: "from the new session"})
	bob.next(isMessage("from the new session"))

	// A file-access token asked for on node 2 is signed with the
	// cluster's secret, for bob.
	tok := bob.mustDo(&protocol.Frame{Type: protocol.TypeFilesToken})
	if who, err := filetoken.Verify(filesSecret, tok.FilesToken, time.Now()); err != nil || who != "bob" {
		t.Errorf("file token from node 2: %q, %v", who, err)
	}

	// Each node's /metrics says which one is the writer.
	writers := 0
	for _, s := range c.nodes {
		resp, err := http.Get("http://" + s.HTTPAddr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if bytes.Contains(body, []byte("\nparley_cluster_writer 1\n")) {
			writers++
		}
		if !bytes.Contains(body, []byte("parley_cluster_nats_rtt_seconds_count")) {
			t.Errorf("no NATS round trips in /metrics of %s", s.Addr())
		}
	}
	if writers != 1 {
		t.Errorf("%d nodes say they are the writer", writers)
	}

	// History agrees on every node.
	var first []uint64
	for i, s := range c.nodes {
		u := login(t, s, "reader"+string(rune('0'+i)))
		u.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "plans"})
		var got []uint64
		for _, m := range u.history("plans") {
			got = append(got, m.ID)
		}
		if i == 0 {
			first = got
			if len(got) != 7 {
				t.Errorf("history on node 1 has %d messages, want 7: %v", len(got), got)
			}
		} else if len(got) != len(first) {
			t.Errorf("history on node %d = %v, on node 1 %v", i+1, got, first)
		}
	}
}

// A node that is not the writer, and the writer itself, both answer
// logins while the other is down; the writer's going makes another the
// writer, and the clients that resume there find everything.
func TestWriterMoves(t *testing.T) {
	c := startCluster(t, 2)
	var writer, other int
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c.nodes[0].Node().IsWriter() {
			writer, other = 0, 1
			break
		}
		if c.nodes[1].Node().IsWriter() {
			writer, other = 1, 0
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no node became the writer")
		}
		time.Sleep(20 * time.Millisecond)
	}
	u := login(t, c.nodes[other], "dora")
	last := u.mustDo(&protocol.Frame{Type: protocol.TypeSend, Room: protocol.Lobby, Text: "before"}).Msg
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.nodes[writer].Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		t.Logf("shutdown: %v", err)
	}
	bye := u.next(func(f *protocol.Frame) bool { return f.Type == protocol.TypeBye })
	if bye.Code != protocol.CodeUnavailable {
		t.Errorf("the session on the other node was closed with %+v", bye)
	}
	again := login(t, c.nodes[other], "dora")
	r := again.mustDo(&protocol.Frame{Type: protocol.TypeSend, Room: protocol.Lobby, Text: "after"})
	if r.Msg <= last {
		t.Errorf("the new writer numbered a message %d after %d", r.Msg, last)
	}
	h := again.history("")
	if len(h) != 2 || h[0].Text != "before" || h[1].Text != "after" {
		t.Errorf("history after the move: %+v", h)
	}
}

// writerOf waits until one of the nodes is the writer, and returns its
// index.
func (c *cluster) writerOf() int {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for i, s := range c.nodes {
			if s != nil && s.Node().IsWriter() {
				return i
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatal("no node became the writer")
	return -1
}

// A node cut off from NATS stores nothing: its sessions are closed with
// unavailable and its logins refused so, while the writer's own node
// goes on; once the bus is back, the node serves again, and nothing
// acknowledged is missing.
func TestNATSDown(t *testing.T) {
	pg := pgtest.Start(t)
	ns := natstest.Start(t)
	c := &cluster{t: t, nats: ns.URL(), db: pg.Schema(t)}
	c.nodes = []*server.Server{c.start(0), c.start(1)}
	w := c.writerOf()
	edge := 1 - w
	onEdge := login(t, c.nodes[edge], "edgar")
	onWriter := login(t, c.nodes[w], "wanda")
	acked := onEdge.mustDo(&protocol.Frame{Type: protocol.TypeSend, Room: protocol.Lobby, Text: "before the outage"}).Msg

	ns.Stop()
	bye := onEdge.next(func(f *protocol.Frame) bool { return f.Type == protocol.TypeBye })
	if bye.Code != protocol.CodeUnavailable {
		t.Errorf("the edge's session was closed with %+v; want unavailable", bye)
	}
	u := dial(t, c.nodes[edge])
	if r := u.do(&protocol.Frame{Type: protocol.TypeLogin, Name: "edgar", Password: "secret-edgar"}); r.Code != protocol.CodeUnavailable {
		t.Errorf("a login on the cut-off node got %+v; want unavailable", r)
	}
	// The writer's own clients are served meanwhile: it alone writes.
	onWriter.mustDo(&protocol.Frame{Type: protocol.TypeSend, Room: protocol.Lobby, Text: "during the outage"})

	ns.Restart()
	again := login(t, c.nodes[edge], "edgar")
	again.mustDo(&protocol.Frame{Type: protocol.TypeSend, Room: protocol.Lobby, Text: "after the outage"})
	var texts []string
	var ids []uint64
	for _, m := range again.history("") {
		texts = append(texts, m.Text)
		ids = append(ids, m.ID)
	}
	want := []string{"before the outage", "during the outage", "after the outage"}
	if len(texts) != 3 || texts[0] != want[0] || texts[1] != want[1] || texts[2] != want[2] || ids[0] != acked {
		t.Errorf("history %q (ids %v); want %q, the first %d", texts, ids, want, acked)
	}
}

// PostgreSQL killed and restarted: the writer ends its term, every
// session is closed with unavailable and logins are refused until the
// database is back; then a writer serves again, and every message that
// was acknowledged is there once.
func TestPostgresDown(t *testing.T) {
	pg := pgtest.Start(t)
	ns := natstest.Start(t)
	c := &cluster{t: t, nats: ns.URL(), db: pg.Schema(t)}
	c.nodes = []*server.Server{c.start(0), c.start(1)}
	w := c.writerOf()
	edge := 1 - w
	onEdge := login(t, c.nodes[edge], "edgar")
	onWriter := login(t, c.nodes[w], "wanda")
	onEdge.mustDo(&protocol.Frame{Type: protocol.TypeSend, Room: protocol.Lobby, Text: "one"})
	onWriter.mustDo(&protocol.Frame{Type: protocol.TypeSend, Room: protocol.Lobby, Text: "two"})

	pg.Kill()
	for _, u := range []*client{onEdge, onWriter} {
		// A send now is refused, or the session closed, with unavailable:
		// never acknowledged.
		u.id++
		id := u.id
		if _, err := u.nc.Write(protocol.Encode(&protocol.Frame{Type: protocol.TypeSend, ID: id, Room: protocol.Lobby, Text: "while down"})); err != nil {
			// Closed already, as it should be; the bye may be lost
			// with the connection's reset.
			continue
		}
		for {
			u.nc.SetReadDeadline(time.Now().Add(15 * time.Second))
			line, err := u.r.ReadFrame()
			if err != nil {
				break // closed (with a reset, the bye may be lost)
			}
			f, err := protocol.Decode(line)
			if err != nil || (f.Re != id && f.Type != protocol.TypeBye) {
				continue
			}
			if f.Type == protocol.TypeOK || f.Code != protocol.CodeUnavailable {
				t.Errorf("a send while PostgreSQL was down got %+v; want unavailable", f)
			}
			break
		}
	}
	if err := pg.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	again := login(t, c.nodes[edge], "edgar")
	again.mustDo(&protocol.Frame{Type: protocol.TypeSend, Room: protocol.Lobby, Text: "three"})
	var texts []string
	for _, m := range again.history("") {
		texts = append(texts, m.Text)
	}
	if len(texts) != 3 || texts[0] != "one" || texts[1] != "two" || texts[2] != "three" {
		t.Errorf("history after the restart: %q", texts)
	}
}

func dump(fs []*protocol.Frame) string {
	var b []byte
	for _, f := range fs {
		b = append(b, protocol.Encode(f)...)
	}
	return string(b)
}

// A second node started under a running node's name is refused, with
// the name and where the running one is, and the first goes on serving.
func TestDuplicateNodeNameRefused(t *testing.T) {
	c := startCluster(t, 1)
	cfg := server.Config{
		Addr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", IRC: "",
		NATS: c.nats, DB: c.db, Node: "n1",
		ClusterBeat: 100 * time.Millisecond, ClusterTTL: time.Second,
		FilesSecret: filesSecret,
	}
	s, err := server.Start(context.Background(), cfg)
	if err == nil {
		s.Shutdown(context.Background())
		t.Fatal("a second node named n1 started")
	}
	if !strings.Contains(err.Error(), `another node named "n1" is running`) || !strings.Contains(err.Error(), c.nodes[0].Addr()) {
		t.Fatalf("error %q; want it to name n1 and where it runs", err)
	}
	for _, bad := range []string{"a b", "n*", "n>", ".n"} {
		cfg.Node = bad
		if s, err := server.Start(context.Background(), cfg); err == nil {
			s.Shutdown(context.Background())
			t.Errorf("a node named %q started", bad)
		}
	}
	login(t, c.nodes[0], "alice").mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "still"})
}

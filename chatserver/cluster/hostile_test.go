package cluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/parley-chat/parley/chatserver/server"
	"github.com/parley-chat/parley/chatserver/server/servertest"

	pc "github.com/parley-chat/parley/chatserver/cluster"
	"github.com/parley-chat/parley/shared/protocol"
)

// busClient connects to the cluster's NATS server as a stranger would.
func (c *cluster) busClient() *nats.Conn {
	c.t.Helper()
	nc, err := nats.Connect(c.nats)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(nc.Close)
	return nc
}

// writerTerm waits for the writer's heartbeat on the bus and returns its
// term.
func (c *cluster) writerTerm(nc *nats.Conn) uint64 {
	c.t.Helper()
	sub, err := nc.SubscribeSync("parley.writer")
	if err != nil {
		c.t.Fatal(err)
	}
	defer sub.Unsubscribe()
	msg, err := sub.NextMsg(10 * time.Second)
	if err != nil {
		c.t.Fatalf("no writer heartbeat: %v", err)
	}
	var b struct {
		Term uint64 `json:"term"`
	}
	if err := json.Unmarshal(msg.Data, &b); err != nil || b.Term == 0 {
		c.t.Fatalf("writer heartbeat %q: %v", msg.Data, err)
	}
	return b.Term
}

// relogin logs in as name on s, again while the node answers
// unavailable or closes the connection so (as a node does at the first
// batch it sees of a link already under way); anything else fails.
func relogin(t *testing.T, s *server.Server, name string) *client {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c := dial(t, s)
		id := c.send(&protocol.Frame{Type: protocol.TypeLogin, Name: name, Password: "secret-" + name})
		r := c.next(func(f *protocol.Frame) bool { return f.Re == id || f.Type == protocol.TypeBye })
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

// eventually waits up to d for ok.
func eventually(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A node that crashed and came back under its name before the writer
// counted it gone: the new process's sessions must not collide with
// the dead one's on the writer, and the dead one's users go offline.
func TestNodeRestartedWithinTTL(t *testing.T) {
	c := startCluster(t, 1)
	c.writerOf()
	bus := c.busClient()
	term := c.writerTerm(bus)
	// The node n2 that crashed: it had logged in ghost as its session 1
	// (and beat), and vanished without a word.
	frame := protocol.Encode(&protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: "ghost", Password: "secret-ghost"})
	msg, err := bus.Request("parley.hub", pc.ForgeRequest(term, pc.OpLogin, "n2", 1, frame, []byte("127.0.0.1")), 10*time.Second)
	if err != nil || len(msg.Data) == 0 || msg.Data[0] != 'K' {
		t.Fatalf("the dead node's login: %q, %v", msg.Data, err)
	}
	bus.Publish("parley.beat", []byte(`{"name":"n2"}`))
	if !c.nodes[0].Node().Online("ghost") {
		t.Fatal("ghost is not online")
	}

	// n2 is back, a new process, at once.
	c.nodes = append(c.nodes, c.start(1))
	// Its logins are not refused for the dead one's numbers. (The first
	// batches it gets are on a link it never saw begin, so it may close
	// its first sessions once, with unavailable, as after a gap.)
	for _, name := range []string{"newcomer", "second", "third"} {
		relogin(t, c.nodes[1], name)
	}
	// The dead process's session is nobody's: the writer lets it go,
	// although the new process beats under the same name.
	eventually(t, 5*time.Second, "ghost is still online", func() bool { return !c.nodes[0].Node().Online("ghost") })
}

// Garbage on every subject of the bus: no node falls over, and the
// cluster serves afterwards.
func TestGarbageOnTheBus(t *testing.T) {
	c := startCluster(t, 2)
	w := c.writerOf()
	edge := 1 - w
	bus := c.busClient()
	term := c.writerTerm(bus)
	u := login(t, c.nodes[edge], "ursula")

	junk := [][]byte{
		nil, {0}, {0xff}, []byte("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"),
		[]byte("{}"), []byte(`{"term":"x"}`), []byte(strings.Repeat("\x80", 1000)),
		pc.ForgeRequest(term, 'Z', "n9", 1, nil, nil),
		pc.ForgeRequest(term, pc.OpHandle, "n9", 77, []byte("not json\n"), nil),
		pc.ForgeRequest(term, pc.OpLogin, "n9", 1, []byte("not json\n"), nil),
		pc.ForgeRequest(term, pc.OpLogin, "n9", 2, protocol.Encode(&protocol.Frame{Type: protocol.TypeLogin, ID: 1}), []byte("not an address")),
		pc.ForgeRequest(term+5, pc.OpHandle, "n9", 1, nil, nil),
	}
	for _, j := range junk {
		for _, subject := range []string{"parley.hub", "parley.writer", "parley.beat", "parley.node.n9"} {
			bus.Publish(subject, j)
		}
		// A request that wants an answer gets one or none, never hangs
		// a node.
		bus.Request("parley.hub", j, 200*time.Millisecond)
	}
	// A batch of a term long gone, and one on the node's own subject
	// from the future's link, with garbage records, go to the edge.
	edgeSubject := "parley.node.n" + string(rune('1'+edge))
	bus.Publish(edgeSubject, append(pc.BatchHeader(term-1, 1, 0), "garbage"...))
	bus.Flush()

	// The edge's session may be closed (a malformed batch of its term
	// would be a lost batch), but both nodes serve.
	u.nc.Close()
	for i, s := range c.nodes {
		v := relogin(t, s, fmt.Sprintf("after%d", i))
		v.mustDo(&protocol.Frame{Type: protocol.TypeSend, Room: protocol.Lobby, Text: "still here"})
	}
	// A batch of the current term with garbage records closes the
	// edge's sessions, which resume; nothing crashes.
	v := relogin(t, c.nodes[edge], "victor")
	bus.Publish(edgeSubject, append(pc.BatchHeader(term, 1<<40, 0), "\x01\x02garbage"...))
	bus.Flush()
	bye := v.next(func(f *protocol.Frame) bool { return f.Type == protocol.TypeBye })
	if bye.Code != protocol.CodeUnavailable {
		t.Errorf("after a malformed batch the edge's session got %+v", bye)
	}
	again := relogin(t, c.nodes[edge], "victor")
	again.mustDo(&protocol.Frame{Type: protocol.TypeSend, Room: protocol.Lobby, Text: "and again"})
}

// A forged writer heartbeat with a huge term makes the nodes that are
// not the writer drop their sessions, but not for ever: within the TTL
// they hear the real writer again and serve.
func TestForgedWriterBeat(t *testing.T) {
	c := startCluster(t, 2)
	w := c.writerOf()
	edge := 1 - w
	bus := c.busClient()
	c.writerTerm(bus)
	u := login(t, c.nodes[edge], "ursula")
	bus.Publish("parley.writer", []byte(`{"term":9223372036854775808,"node":"nobody"}`))
	bus.Flush()
	bye := u.next(func(f *protocol.Frame) bool { return f.Type == protocol.TypeBye })
	if bye.Code != protocol.CodeUnavailable {
		t.Errorf("the edge's session got %+v", bye)
	}
	start := time.Now()
	again := relogin(t, c.nodes[edge], "ursula")
	again.mustDo(&protocol.Frame{Type: protocol.TypeSend, Room: protocol.Lobby, Text: "back"})
	t.Logf("the edge served again %v after the forged beat", time.Since(start).Round(10*time.Millisecond))
	// The writer itself was never moved by it.
	if !c.nodes[w].Node().IsWriter() {
		t.Error("the writer stopped being the writer")
	}
}

// A client on a node that is not the writer sees its replies and events
// in the order one server gives them: pipelined sends are answered in
// order, and a history asked for after their replies holds them all; a
// join's history comes before the live messages, each id once and in
// increasing order. The same test runs against one server alone.
func TestEdgeOrdering(t *testing.T) {
	t.Run("single", func(t *testing.T) {
		s := servertest.Start(t, func(cfg *server.Config) { cfg.IRC = "" })
		orderScenario(t, login(t, s, "edna"), login(t, s, "walt"))
	})
	t.Run("edge", func(t *testing.T) {
		c := startCluster(t, 2)
		w := c.writerOf()
		orderScenario(t, login(t, c.nodes[1-w], "edna"), login(t, c.nodes[w], "walt"))
	})
}

func orderScenario(t *testing.T, e, talker *client) {
	talker.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "busy"})
	e.mustDo(&protocol.Frame{Type: protocol.TypeJoin, Room: "quiet"})

	// Pipelined: 30 sends and a history, without waiting.
	var ids []uint64
	for i := range 30 {
		ids = append(ids, e.send(&protocol.Frame{Type: protocol.TypeSend, Room: "quiet", Text: fmt.Sprintf("q%d", i)}))
	}
	hid := e.send(&protocol.Frame{Type: protocol.TypeHistory, Room: "quiet", Limit: 50})
	var order []string
	var last uint64
	for len(ids) > 0 || hid != 0 {
		f := e.next(func(f *protocol.Frame) bool {
			return f.Re != 0 || (f.Type == protocol.TypeMessage && f.Room == "quiet")
		})
		switch {
		case f.Re != 0 && f.Re == hid:
			order = append(order, "history-ok")
			hid = 0
		case f.Re != 0:
			if f.Type != protocol.TypeOK || f.Re != ids[0] {
				t.Fatalf("reply %+v; want ok to %d", f, ids[0])
			}
			ids = ids[1:]
			order = append(order, "ok")
		case f.History:
			order = append(order, "h:"+f.Text)
		default:
			if f.ID <= last {
				t.Fatalf("message %d after %d", f.ID, last)
			}
			last = f.ID
		}
	}
	t.Logf("pipelined: %s", strings.Join(order, " "))
	var hist []string
	for _, f := range e.history("quiet") {
		hist = append(hist, f.Text)
	}
	if len(hist) != 30 || hist[0] != "q0" || hist[29] != "q29" {
		t.Fatalf("history after the replies: %q", hist)
	}

	// walt talks in busy while edna joins it.
	stop := make(chan struct{})
	talked := make(chan int)
	go func() {
		n := 0
		defer func() { talked <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			talker.send(&protocol.Frame{Type: protocol.TypeSend, Room: "busy", Text: fmt.Sprintf("b%d", n)})
			n++
			time.Sleep(2 * time.Millisecond)
		}
	}()
	time.Sleep(50 * time.Millisecond)
	jid := e.send(&protocol.Frame{Type: protocol.TypeJoin, Room: "busy", Limit: 20})
	joined := false
	seen := map[uint64]bool{}
	var prev uint64
	var histAfterLive bool
	live := 0
	for live < 50 {
		f := e.next(func(f *protocol.Frame) bool {
			return f.Re == jid || (f.Type == protocol.TypeMessage && f.Room == "busy")
		})
		if f.Re == jid {
			if f.Type != protocol.TypeOK {
				t.Fatalf("join: %+v", f)
			}
			joined = true
			continue
		}
		if seen[f.ID] {
			t.Fatalf("message %d seen twice", f.ID)
		}
		seen[f.ID] = true
		if f.ID <= prev {
			t.Fatalf("message %d (%q, history %v) after %d", f.ID, f.Text, f.History, prev)
		}
		prev = f.ID
		if f.History && live > 0 {
			histAfterLive = true
		}
		if !f.History {
			if !joined {
				t.Fatalf("live message %q before the join's reply", f.Text)
			}
			live++
		}
	}
	close(stop)
	<-talked
	if histAfterLive {
		t.Errorf("a history message after a live one")
	}
}

// A login on the writer's node takes over a session on another node,
// and the other way round.
func TestTakeoverBothWays(t *testing.T) {
	c := startCluster(t, 2)
	w := c.writerOf()
	edge := 1 - w
	watcher := login(t, c.nodes[w], "watcher")
	first := login(t, c.nodes[edge], "tess")
	for i, s := range []int{w, edge, w} {
		next := login(t, c.nodes[s], "tess")
		bye := first.next(func(f *protocol.Frame) bool { return f.Type == protocol.TypeReplaced || f.Type == protocol.TypeBye })
		if bye.Type != protocol.TypeReplaced && bye.Code != protocol.CodeReplaced {
			t.Fatalf("takeover %d: the older session got %+v", i, bye)
		}
		text := fmt.Sprintf("take %d", i)
		next.mustDo(&protocol.Frame{Type: protocol.TypeSend, Room: protocol.Lobby, Text: text})
		watcher.next(isMessage(text))
		first = next
	}
	if !c.nodes[edge].Node().Online("tess") {
		t.Error("tess is not online after the takeovers")
	}
}

// 100 logins at once through a node that is not the writer: every one
// is answered, and every session then works.
func TestLoginStormThroughEdge(t *testing.T) {
	c := startCluster(t, 2)
	w := c.writerOf()
	edge := 1 - w
	login(t, c.nodes[edge], "warmup") // the edge has heard the writer
	const n = 100
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = dial(t, c.nodes[edge])
	}
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i, u := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("storm%d", i)
			id := u.id + 1
			u.id = id
			f := &protocol.Frame{Type: protocol.TypeLogin, ID: id, Name: name, Password: "secret-" + name}
			if _, err := u.nc.Write(protocol.Encode(f)); err != nil {
				errs <- err.Error()
				return
			}
			u.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
			for {
				line, err := u.r.ReadFrame()
				if err != nil {
					errs <- fmt.Sprintf("%s: %v", name, err)
					return
				}
				r, err := protocol.Decode(line)
				if err != nil {
					errs <- err.Error()
					return
				}
				if r.Re == id {
					if r.Type != protocol.TypeOK {
						errs <- fmt.Sprintf("%s: %+v", name, r)
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if t.Failed() {
		return
	}
	for i, u := range clients {
		u.mustDo(&protocol.Frame{Type: protocol.TypeSend, To: "storm0", Text: fmt.Sprintf("from %d", i)})
	}
	for i := range n {
		clients[0].next(isMessage(fmt.Sprintf("from %d", i)))
	}
}

// The writer moves while a client on another node has sends in flight:
// the client re-sends what was not acknowledged, with the same keys, on
// its reconnect. Every acknowledged message is stored, each key once,
// and no key is acknowledged with two ids.
func TestWriterMovesWithSendsInFlight(t *testing.T) {
	c := startCluster(t, 3)
	w := c.writerOf()
	var edges []int
	for i := range c.nodes {
		if i != w {
			edges = append(edges, i)
		}
	}
	u := relogin(t, c.nodes[edges[0]], "ines")
	const total, window = 80, 4
	acked := map[string]uint64{}
	inFlight := map[uint64]string{} // request id → key
	var todo []string
	for i := range total {
		todo = append(todo, fmt.Sprintf("k%03d", i))
	}
	moved := make(chan error, 1)
	moving := false
	reconnects := 0
	for len(todo) > 0 || len(inFlight) > 0 {
		// The node closes the session when the writer goes. A send can
		// then fail before its bye is read, and if the node had unread
		// sends when it closed, the reset can take the bye with it; a
		// client treats both as the connection lost, like the bye.
		var lost error
		for len(inFlight) < window && len(todo) > 0 && lost == nil {
			k := todo[0]
			todo = todo[1:]
			id, err := u.trySend(&protocol.Frame{Type: protocol.TypeSend, Room: protocol.Lobby, Text: k, Key: k})
			inFlight[id] = k
			lost = err
		}
		f, err := u.tryNext(func(f *protocol.Frame) bool { return f.Re != 0 || f.Type == protocol.TypeBye })
		if err != nil {
			if !moving {
				t.Fatalf("read before the writer moved: %v (send: %v)", err, lost)
			}
			t.Logf("connection lost: read %v, send %v", err, lost)
			f = &protocol.Frame{Type: protocol.TypeBye, Code: protocol.CodeUnavailable}
		}
		switch {
		case f.Type == protocol.TypeBye:
			if f.Code != protocol.CodeUnavailable {
				t.Fatalf("bye %+v", f)
			}
			// Re-send what was not answered, in order, on a new
			// connection: to the same node, or the other one if this
			// one is the writer that went.
			var again []string
			for _, k := range inFlight {
				again = append(again, k)
			}
			slices.Sort(again)
			todo = append(again, todo...)
			inFlight = map[uint64]string{}
			u.nc.Close()
			reconnects++
			if reconnects > 20 {
				t.Fatal("too many reconnects")
			}
			u = relogin(t, c.nodes[edges[reconnects%2]], "ines")
		case f.Type == protocol.TypeOK:
			k := inFlight[f.Re]
			delete(inFlight, f.Re)
			if id, ok := acked[k]; ok && id != f.Msg {
				t.Fatalf("key %s acknowledged as message %d and as %d", k, id, f.Msg)
			}
			acked[k] = f.Msg
		case f.Code == protocol.CodeUnavailable:
			todo = append([]string{inFlight[f.Re]}, todo...)
			delete(inFlight, f.Re)
		default:
			t.Fatalf("a send got %+v", f)
		}
		if len(acked) == 20 && !moving {
			moving = true
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				moved <- c.nodes[w].Shutdown(ctx)
			}()
		}
	}
	if err := <-moved; err != nil && !errors.Is(err, context.Canceled) {
		t.Logf("shutdown: %v", err)
	}
	if reconnects == 0 {
		t.Fatal("the writer's move closed no session")
	}
	stored := map[string]uint64{}
	u.unread = nil
	hid := u.send(&protocol.Frame{Type: protocol.TypeHistory, Limit: 200})
	var hist []*protocol.Frame
	for {
		f := u.next(func(f *protocol.Frame) bool { return f.Re == hid || (f.Type == protocol.TypeMessage && f.History) })
		if f.Re == hid {
			break
		}
		hist = append(hist, f)
	}
	for _, m := range hist {
		if id, dup := stored[m.Text]; dup {
			t.Errorf("%s stored twice: %d and %d", m.Text, id, m.ID)
		}
		stored[m.Text] = m.ID
	}
	for k, id := range acked {
		if stored[k] != id {
			t.Errorf("%s acknowledged as %d, stored as %d", k, id, stored[k])
		}
	}
	if len(stored) != total || len(acked) != total {
		t.Errorf("%d stored and %d acknowledged of %d", len(stored), len(acked), total)
	}
	t.Logf("%d reconnects", reconnects)
}

// A forged, well-formed batch on a link the writer never made: the node
// closes its sessions, as for a gap, and serves again within a beat or
// so, although the real writer's batches now look older than it.
func TestForgedLinkBatch(t *testing.T) {
	c := startCluster(t, 2)
	w := c.writerOf()
	edge := 1 - w
	bus := c.busClient()
	term := c.writerTerm(bus)
	u := relogin(t, c.nodes[edge], "lena")
	bus.Publish("parley.node.n"+string(rune('1'+edge)), pc.BatchHeader(term, 1<<40, 0))
	bus.Flush()
	bye := u.next(func(f *protocol.Frame) bool { return f.Type == protocol.TypeBye })
	if bye.Code != protocol.CodeUnavailable {
		t.Errorf("the edge's session got %+v", bye)
	}
	start := time.Now()
	again := relogin(t, c.nodes[edge], "lena")
	again.mustDo(&protocol.Frame{Type: protocol.TypeSend, Room: protocol.Lobby, Text: "back"})
	t.Logf("the edge served again %v after the forged batch", time.Since(start).Round(10*time.Millisecond))
}

// Typing reaches a user on a node that is not the writer, as on one
// server, and a user on the writer's node from one on another.
func TestTypingAcrossNodes(t *testing.T) {
	c := startCluster(t, 2)
	w := c.writerOf()
	onEdge := relogin(t, c.nodes[1-w], "edie")
	onWriter := relogin(t, c.nodes[w], "will")
	isTyping := func(from string) func(*protocol.Frame) bool {
		return func(f *protocol.Frame) bool { return f.Type == protocol.TypeTyping && f.From == from }
	}
	onWriter.send(&protocol.Frame{Type: protocol.TypeTyping, Room: protocol.Lobby})
	if f := onEdge.next(isTyping("will")); f.Room != protocol.Lobby {
		t.Errorf("typing on the edge: %+v", f)
	}
	onEdge.send(&protocol.Frame{Type: protocol.TypeTyping, To: "will"})
	if f := onWriter.next(isTyping("edie")); f.To != "will" {
		t.Errorf("typing on the writer's node: %+v", f)
	}
}

package e2e

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parley-chat/parley/chatserver/cluster/natstest"
	"github.com/parley-chat/parley/chatserver/store/postgres/pgtest"
	"github.com/parley-chat/parley/shared/protocol"
)

var becameWriter = regexp.MustCompile(`msg="this node is the cluster's writer" node=(\S+)`)

// startNode starts a chatserver binary as the node name of the cluster
// on nats and db.
func startNode(t *testing.T, nats, db, name string) *chatServer {
	t.Helper()
	return startChat(t, "", "-nats", nats, "-db", db, "-node", name, "-cluster-beat", "100ms", "-cluster-ttl", "1s")
}

// writerAmong waits until one of the nodes says it is the writer.
func writerAmong(t *testing.T, nodes []*chatServer) int {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		for i, n := range nodes {
			if n != nil && becameWriter.MatchString(n.stderr()) {
				return i
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no node became the writer")
	return -1
}

// loginWhenServed logs a raw connection in on a node once the cluster
// serves logins there.
func loginWhenServed(t *testing.T, addr, name string) *rawConn {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c := &rawConn{t: t, nc: nc, r: protocol.NewReader(nc, 1<<20)}
		c.write(&protocol.Frame{Type: protocol.TypeHello, Version: protocol.Version, Client: "cluster-test"})
		c.write(&protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: name, Password: "pw-" + name})
		r := c.waitReply(1)
		if r.Type == protocol.TypeOK {
			t.Cleanup(func() { nc.Close() })
			return c
		}
		nc.Close()
		if r.Code != protocol.CodeUnavailable || time.Now().After(deadline) {
			t.Fatalf("login %s on %s: %+v", name, addr, r)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Three nodes of a cluster (the real binary, on an embedded NATS server
// and Debian's PostgreSQL) and three line-mode clients, one on each,
// each knowing all three addresses. They talk in one room, at 20 lines a
// second each, and privately. The writer node is killed with SIGKILL
// partway through; the clients on it move to the other nodes, and all
// of them resume. In the end every client has received every message
// once, in each sender's order; the room's history is the same through
// every node that is left, and holds every line once; and every client
// exits 0.
func TestClusterKillNine(t *testing.T) {
	db := pgtest.Start(t).Schema(t)
	ns := natstest.Start(t)
	names := []string{"ann", "ben", "cat"}
	nodes := make([]*chatServer, 3)
	for i := range nodes {
		nodes[i] = startNode(t, ns.URL(), db, "node"+strconv.Itoa(i+1))
	}
	w := writerAmong(t, nodes)
	clients := map[string]*proc{}
	for i, n := range names {
		// Each client's own node first, then the others.
		var addrs []string
		for j := range nodes {
			addrs = append(addrs, nodes[(i+j)%3].addr)
		}
		clients[n] = connectedWhenServed(t, strings.Join(addrs, ","), n)
		clients[n].do("/join relay")
	}

	const perSender = 120
	const killAfter = 40
	var wg sync.WaitGroup
	killAt := make(chan struct{})
	var killOnce sync.Once
	for i, n := range names {
		wg.Add(1)
		go func(name, to string, c *proc) {
			defer wg.Done()
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for i := 1; i <= perSender; i++ {
				line := fmt.Sprintf("%s %d\n", name, i)
				if i%20 == 0 {
					line = fmt.Sprintf("/msg %s pm %s %d\n", to, name, i)
				}
				if _, err := fmt.Fprint(c.in, line); err != nil {
					t.Errorf("%s: writing line %d: %v", name, i, err)
					return
				}
				if i == killAfter {
					killOnce.Do(func() { close(killAt) })
				}
				<-tick.C
			}
		}(n, names[(i+1)%3], clients[n])
	}
	<-killAt
	if err := nodes[w].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	nodes[w].wait()
	t.Logf("killed the writer, node%d", w+1)
	wg.Wait()

	roomLines := func(sender string) []int {
		var out []int
		for i := 1; i <= perSender; i++ {
			if i%20 != 0 {
				out = append(out, i)
			}
		}
		return out
	}(names[0])
	for _, reader := range names {
		c := clients[reader]
		for _, sender := range names {
			c.waitEvent(fmt.Sprintf("%s's last message", sender), isMessage(fmt.Sprintf("%s %d", sender, perSender-1)))
		}
	}
	for _, n := range names {
		clients[n].in.Close()
		if code := clients[n].wait(); code != 0 {
			t.Errorf("%s exited %d", n, code)
		}
	}

	for _, n := range names {
		moves := 0
		for _, e := range clients[n].events() {
			if e.str("type") == "reconnected" {
				moves++
			}
		}
		t.Logf("%s reconnected %d times", n, moves)
	}
	// What each client received, once each, in each sender's order.
	for i, reader := range names {
		got := map[string][]int{}
		pms := map[string][]int{}
		ids := map[uint64]bool{}
		var last uint64
		for _, e := range clients[reader].events() {
			if e.str("type") != "message" || e["history"] == true {
				continue
			}
			id := e.num("id")
			if ids[id] {
				t.Errorf("%s received message %d twice", reader, id)
			}
			ids[id] = true
			if id < last {
				t.Errorf("%s received message %d after %d", reader, id, last)
			}
			last = id
			text := e.str("text")
			if rest, ok := strings.CutPrefix(text, "pm "); ok {
				sender, num, _ := strings.Cut(rest, " ")
				n, _ := strconv.Atoi(num)
				pms[sender] = append(pms[sender], n)
				continue
			}
			sender, num, ok := strings.Cut(text, " ")
			if !ok || sender != e.str("from") {
				continue
			}
			n, _ := strconv.Atoi(num)
			got[sender] = append(got[sender], n)
		}
		for _, sender := range names {
			if fmt.Sprint(got[sender]) != fmt.Sprint(roomLines) {
				t.Errorf("%s received from %s: %s", reader, sender, describeSeq(got[sender], perSender))
			}
		}
		from := names[(i+2)%3] // who writes to reader privately
		want := []int{20, 40, 60, 80, 100, 120}
		if fmt.Sprint(pms[from]) != fmt.Sprint(want) {
			t.Errorf("%s received private messages from %s: %v; want %v", reader, from, pms[from], want)
		}
	}

	// The room's history, through every node left, once each.
	var first []string
	for i, n := range nodes {
		if i == w {
			continue
		}
		audit := loginWhenServed(t, n.addr, "auditor"+strconv.Itoa(i))
		audit.write(&protocol.Frame{Type: protocol.TypeJoin, ID: 2, Room: "relay"})
		audit.waitReply(2)
		next := uint64(10)
		var all []string
		stored := map[string][]int{}
		for _, f := range audit.history("relay", &next) {
			all = append(all, strconv.FormatUint(f.ID, 10)+" "+f.Text)
			sender, num, _ := strings.Cut(f.Text, " ")
			v, _ := strconv.Atoi(num)
			stored[sender] = append(stored[sender], v)
		}
		for _, sender := range names {
			if fmt.Sprint(stored[sender]) != fmt.Sprint(roomLines) {
				t.Errorf("history through node%d from %s: %s", i+1, sender, describeSeq(stored[sender], perSender))
			}
		}
		if first == nil {
			first = all
		} else if strings.Join(first, "\n") != strings.Join(all, "\n") {
			t.Errorf("the nodes' histories differ:\n%s\n---\n%s", strings.Join(first, "\n"), strings.Join(all, "\n"))
		}
	}
}

// connectedWhenServed starts a line-mode client on the addresses and
// waits until it has logged in: a cluster whose writer is still being
// chosen answers unavailable, and the client tries again.
func connectedWhenServed(t *testing.T, addrs, name string) *proc {
	t.Helper()
	p := startClient(t, addrs, name, "pw-"+name)
	p.waitEvent("connected", func(e event) bool { return e.str("type") == "connected" })
	return p
}

// PostgreSQL killed with SIGKILL and restarted, and then the NATS server
// stopped and started again, while two line-mode clients on two nodes
// send 20 lines a second each. The clients see errors or a pause, and
// nothing that was acknowledged is lost: every line is stored once, in
// order, and every client received every line.
func TestClusterSurvivesDatabaseAndBusRestarts(t *testing.T) {
	pg := pgtest.Start(t)
	db := pg.Schema(t)
	ns := natstest.Start(t)
	url := ns.URL()
	nodes := []*chatServer{startNode(t, url, db, "node1"), startNode(t, url, db, "node2")}
	writerAmong(t, nodes)
	names := []string{"ann", "ben"}
	clients := map[string]*proc{}
	for i, n := range names {
		clients[n] = connectedWhenServed(t, nodes[i].addr+","+nodes[1-i].addr, n)
		clients[n].do("/join relay")
	}
	const perSender = 200
	var wg sync.WaitGroup
	phase := make(chan int, 2)
	for _, n := range names {
		wg.Add(1)
		go func(name string, c *proc) {
			defer wg.Done()
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for i := 1; i <= perSender; i++ {
				if _, err := fmt.Fprintf(c.in, "%s %d\n", name, i); err != nil {
					t.Errorf("%s: writing line %d: %v", name, i, err)
					return
				}
				if name == "ann" && (i == 50 || i == 120) {
					phase <- i
				}
				<-tick.C
			}
		}(n, clients[n])
	}
	<-phase
	pg.Kill()
	time.Sleep(time.Second) // down for a while, as a crash would be
	if err := pg.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Log("PostgreSQL restarted")
	<-phase
	ns.Stop()
	time.Sleep(time.Second)
	ns.Restart()
	t.Log("NATS restarted")
	wg.Wait()

	for _, reader := range names {
		for _, sender := range names {
			clients[reader].waitEvent(sender+"'s last line", isMessage(fmt.Sprintf("%s %d", sender, perSender)))
		}
	}
	for _, n := range names {
		clients[n].in.Close()
		if code := clients[n].wait(); code != 0 {
			t.Errorf("%s exited %d", n, code)
		}
	}
	audit := loginWhenServed(t, nodes[0].addr, "auditor")
	audit.write(&protocol.Frame{Type: protocol.TypeJoin, ID: 2, Room: "relay"})
	audit.waitReply(2)
	next := uint64(10)
	stored := map[string][]int{}
	for _, f := range audit.history("relay", &next) {
		sender, num, _ := strings.Cut(f.Text, " ")
		v, _ := strconv.Atoi(num)
		stored[sender] = append(stored[sender], v)
	}
	for _, sender := range names {
		if !isOneToN(stored[sender], perSender) {
			t.Errorf("stored from %s: %s", sender, describeSeq(stored[sender], perSender))
		}
	}
	for _, reader := range names {
		got := map[string][]int{}
		ids := map[uint64]bool{}
		for _, e := range clients[reader].events() {
			if e.str("type") != "message" || e["history"] == true || ids[e.num("id")] {
				if ids[e.num("id")] {
					t.Errorf("%s received message %d twice", reader, e.num("id"))
				}
				continue
			}
			ids[e.num("id")] = true
			sender, num, _ := strings.Cut(e.str("text"), " ")
			v, _ := strconv.Atoi(num)
			got[sender] = append(got[sender], v)
		}
		for _, sender := range names {
			if !isOneToN(got[sender], perSender) {
				t.Errorf("%s received from %s: %s", reader, sender, describeSeq(got[sender], perSender))
			}
		}
	}
}

// A node that is not the writer is killed with SIGKILL: it can tell
// nobody, and the writer, hearing no heartbeat for -cluster-ttl, takes
// its users offline; someone on the writer's node sees them go.
func TestClusterDeadNodeTakesItsUsersOffline(t *testing.T) {
	db := pgtest.Start(t).Schema(t)
	ns := natstest.Start(t)
	nodes := []*chatServer{startNode(t, ns.URL(), db, "node1"), startNode(t, ns.URL(), db, "node2")}
	w := writerAmong(t, nodes)
	other := nodes[1-w]
	watcher := loginWhenServed(t, nodes[w].addr, "watcher")
	loginWhenServed(t, other.addr, "leaver")
	for {
		f, err := watcher.read()
		if err != nil {
			t.Fatal(err)
		}
		if f.Type == protocol.TypePresence && f.Name == "leaver" && f.Status == protocol.StatusOnline {
			break
		}
	}
	if err := other.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	other.wait()
	killed := time.Now()
	for {
		f, err := watcher.read()
		if err != nil {
			t.Fatalf("waiting for leaver to go offline: %v", err)
		}
		if f.Type == protocol.TypePresence && f.Name == "leaver" && f.Status == protocol.StatusOffline {
			break
		}
	}
	t.Logf("offline %v after the kill (-cluster-ttl 1s, -cluster-beat 100ms)", time.Since(killed).Round(time.Millisecond))
}

package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/parley-chat/parley/chatserver/server"
	"github.com/parley-chat/parley/chatserver/server/servertest"
	"github.com/parley-chat/parley/shared/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scrape reads /metrics and returns each sample's value by its name and
// labels as printed, e.g. `parley_connections{transport="tcp"}`.
func scrape(t *testing.T, s *server.Server) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + s.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

type client struct {
	t  *testing.T
	nc net.Conn
	r  *protocol.Reader
	id uint64
}

func dial(t *testing.T, s *server.Server) *client {
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
	if protocol.IsRequest(f.Type) && f.ID == 0 {
		c.id++
		f.ID = c.id
	}
	c.nc.Write(protocol.Encode(f))
	return f.ID
}

func (c *client) reply(id uint64) *protocol.Frame {
	c.t.Helper()
	for {
		c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := c.r.ReadFrame()
		if err != nil {
			c.t.Fatal(err)
		}
		if f, err := protocol.Decode(line); err == nil && f.Re == id {
			return f
		}
	}
}

// /metrics reports what the server did: the counters move with logins,
// messages and connections, by transport.
func TestMetricsMove(t *testing.T) {
	s := servertest.Start(t, func(c *server.Config) { c.DataDir = t.TempDir() })
	before := scrape(t, s)
	for _, name := range []string{
		`parley_logins_total{result="ok"}`, `parley_messages_stored_total`, `parley_deliveries_total`,
		`parley_connections{transport="tcp"}`, `parley_connections{transport="websocket"}`,
		`parley_store_commit_seconds_count`, `parley_hub_queue`, `parley_hub_reads_in_flight`,
		`parley_connections_closed_total{reason="slow_consumer",transport="tcp"}`, `go_goroutines`,
	} {
		if _, ok := before[name]; !ok {
			t.Errorf("/metrics has no %s", name)
		}
	}

	alice := dial(t, s)
	alice.reply(alice.send(&protocol.Frame{Type: protocol.TypeLogin, Name: "alice", Password: "pw"}))
	bob := dial(t, s)
	bob.reply(bob.send(&protocol.Frame{Type: protocol.TypeLogin, Name: "bob", Password: "pw"}))
	wrong := dial(t, s)
	wrong.reply(wrong.send(&protocol.Frame{Type: protocol.TypeLogin, Name: "alice", Password: "nope"}))
	ctx := context.Background()
	wc, _, err := websocket.Dial(ctx, "ws://"+s.HTTPAddr()+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer wc.CloseNow()
	for range 3 {
		alice.reply(alice.send(&protocol.Frame{Type: protocol.TypeSend, Text: "counted"}))
	}

	after := scrape(t, s)
	for _, c := range []struct {
		name string
		want float64
	}{
		{`parley_logins_total{result="ok"}`, 2},
		{`parley_logins_total{result="bad_credentials"}`, 1},
		{`parley_messages_stored_total`, 3},
		{`parley_deliveries_total`, 6}, // three messages, each to alice and bob
		{`parley_connections{transport="tcp"}`, 3},
		{`parley_connections{transport="websocket"}`, 1},
	} {
		if got := after[c.name] - before[c.name]; got != c.want {
			t.Errorf("%s moved by %v, want %v", c.name, got, c.want)
		}
	}
	if after[`parley_store_commit_seconds_count`] <= before[`parley_store_commit_seconds_count`] {
		t.Error("no store commit was timed")
	}
}

func TestHealthz(t *testing.T) {
	s := servertest.Start(t, nil)
	resp, err := http.Get("http://" + s.HTTPAddr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusOK || body["status"] != "ok" {
		t.Errorf("/healthz: %s %v", resp.Status, body)
	}
	resp, err = http.Get("http://" + s.HTTPAddr() + "/nothing")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(b), "/ws") {
		t.Errorf("an unknown path: %s %s", resp.Status, b)
	}
}

// The HTTP door is optional.
func TestNoHTTPDoor(t *testing.T) {
	s := servertest.Start(t, func(c *server.Config) { c.HTTPAddr = "" })
	if a := s.HTTPAddr(); a != "" {
		t.Errorf("HTTP address %q with the door off", a)
	}
	c := dial(t, s)
	if r := c.reply(c.send(&protocol.Frame{Type: protocol.TypeLogin, Name: "eve", Password: "pw"})); r.Type != protocol.TypeOK {
		t.Errorf("login: %s", fmt.Sprint(r))
	}
}

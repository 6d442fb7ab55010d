package tcp_test

// Parking and shedding are the Linux transport's: elsewhere an idle
// connection keeps its reader goroutine and Go's socket, so these tests
// are built only for Linux.

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/parley-chat/parley/chatserver/server"
	"github.com/parley-chat/parley/chatserver/tcp"
	"github.com/parley-chat/parley/shared/protocol"
)

// Idle logged-in connections park: they keep no goroutine, yet they
// receive what is sent to them, answer when they speak, and are noticed
// when they go away.
func TestIdleConnectionsPark(t *testing.T) {
	s := start(t, nil)
	base := runtime.NumGoroutine()
	const n = 20
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = login(t, s.Addr(), fmt.Sprintf("idle%d", i))
	}
	waitStats(t, s, "every idle connection parked", func(st tcp.Stats) bool { return st.Parked == n })
	before := runtime.NumGoroutine()
	if before-base >= n/2 {
		t.Errorf("%d goroutines before the logins, %d with %d connections parked", base, before, n)
	}

	// A parked connection wakes for a request, is answered, and parks again.
	id := clients[0].send(&protocol.Frame{Type: protocol.TypeSend, Room: "lobby", Text: "wake up"})
	if r := clients[0].reply(id); r.Type != protocol.TypeOK {
		t.Fatalf("send from a parked connection: %+v", r)
	}
	// The others, parked, get the message.
	for _, c := range clients[1:] {
		m := c.until(func(f *protocol.Frame) bool { return f.Type == protocol.TypeMessage })
		if m.Text != "wake up" {
			t.Fatalf("got %+v", m)
		}
	}
	waitStats(t, s, "parked again", func(st tcp.Stats) bool { return st.Parked == n })

	// A parked connection whose client goes away is closed and forgotten.
	clients[n-1].nc.Close()
	waitStats(t, s, "the closed connection noticed", func(st tcp.Stats) bool {
		return st.Open == n-1 && st.Parked == n-1
	})
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("goroutines: %d with %d parked connections, %d after one left", before, n, after)
	}
}

// A connection parked for a while keeps only its socket's descriptor
// (Stats.Shed). It still gets what is sent to it, written to that
// descriptor; it wakes to read, and sheds again; a client that goes away
// is noticed; and a descriptor number that a closed connection gave
// back, taken by a new one, gets nothing meant for the old.
func TestParkedConnectionsShedTheirSockets(t *testing.T) {
	s := start(t, nil)
	const n = 10
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = login(t, s.Addr(), fmt.Sprintf("shed%d", i))
	}
	waitStats(t, s, "every connection shed", func(st tcp.Stats) bool { return st.Shed == n && st.Parked == n })

	say := func(from int, text string, to []int) {
		t.Helper()
		id := clients[from].send(&protocol.Frame{Type: protocol.TypeSend, Room: "lobby", Text: text})
		if r := clients[from].reply(id); r.Type != protocol.TypeOK {
			t.Fatalf("send from a shed connection: %+v", r)
		}
		for _, i := range to {
			m := clients[i].until(func(f *protocol.Frame) bool { return f.Type == protocol.TypeMessage })
			if m.Text != text {
				t.Fatalf("client %d got %q, want %q", i, m.Text, text)
			}
		}
	}
	var others []int
	for i := 1; i < n; i++ {
		others = append(others, i)
	}
	say(0, "from a shed socket", others)
	waitStats(t, s, "shed again", func(st tcp.Stats) bool { return st.Shed == n })

	// The last client goes away while shed; a new one very likely takes
	// its descriptor's number.
	clients[n-1].nc.Close()
	waitStats(t, s, "the closed connection noticed", func(st tcp.Stats) bool {
		return st.Open == n-1 && st.Shed == n-1
	})
	clients[n-1] = login(t, s.Addr(), "newcomer")
	say(1, "after the newcomer", append(others[:0:0], 0, 2, 3, 4, 5, 6, 7, 8, 9))
	// The newcomer got that message once, and nothing else: the next
	// frame it reads is the answer to its own request.
	id := clients[n-1].send(&protocol.Frame{Type: protocol.TypePing})
	for {
		f := clients[n-1].read()
		if f.Type == protocol.TypeMessage {
			t.Fatalf("the newcomer got a second message: %+v", f)
		}
		if f.Re == id {
			break
		}
	}
}

// Pings reach a shed connection, whose pong wakes it; one that does not
// answer is closed with ping_timeout, shed or not.
func TestShedConnectionPingAndTimeout(t *testing.T) {
	s := start(t, func(c *server.Config) {
		c.PingInterval = 1500 * time.Millisecond // connections shed after a second
		c.PingTimeout = time.Second
	})
	good := login(t, s.Addr(), "good")
	mute := login(t, s.Addr(), "mute")
	waitStats(t, s, "shed", func(st tcp.Stats) bool { return st.Shed == 2 })
	for range 2 {
		good.until(func(f *protocol.Frame) bool { return f.Type == protocol.TypePing })
		good.send(&protocol.Frame{Type: protocol.TypePong})
	}
	if bye := mute.eof(); bye == nil || bye.Code != protocol.CodePingTimeout {
		t.Errorf("bye %+v", bye)
	}
	id := good.send(&protocol.Frame{Type: protocol.TypePing})
	if r := good.reply(id); r.Type != protocol.TypeOK {
		t.Errorf("after pongs: %+v", r)
	}
}

// Shutting down tells shed connections too.
func TestShutdownTellsShedClients(t *testing.T) {
	s := start(t, nil)
	const n = 5
	var clients []*client
	for i := range n {
		clients = append(clients, login(t, s.Addr(), fmt.Sprintf("c%d", i)))
	}
	waitStats(t, s, "shed", func(st tcp.Stats) bool { return st.Shed == n })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(ctx) }()
	for _, c := range clients {
		if bye := c.eof(); bye == nil || bye.Code != protocol.CodeShutdown {
			t.Errorf("bye %+v", bye)
		}
	}
	if err := <-done; err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// TestSlowShedConsumerDoesNotStallOthers is TestSlowConsumerDoesNotStallOthers
// with the frozen client's connection parked and shed before the flood:
// its full socket is waited for with a net.Conn taken back.
func TestSlowShedConsumerDoesNotStallOthers(t *testing.T) {
	slowConsumerDoesNotStallOthers(t, 1, true)
}

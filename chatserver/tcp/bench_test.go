package tcp_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley/chatserver/server"
	"github.com/parley-chat/parley/chatserver/session"
	"github.com/parley-chat/parley/shared/protocol"
)

// BenchmarkFanoutOverSockets measures room messages from the sender's
// socket to every member's socket: the reader, the hub with its store in
// memory, one encoding, the queues, the flushers' writes and the kernel's
// loopback, with the members reading in this process. It reports the time
// per delivered message; the load tool measures the same path with the
// server in a process of its own (chatserver/BENCHMARKS.md).
func BenchmarkFanoutOverSockets(b *testing.B) {
	for _, members := range []int{10, 100} {
		b.Run(fmt.Sprintf("members=%d", members), func(b *testing.B) {
			benchmarkFanoutOverSockets(b, members)
		})
	}
}

func benchmarkFanoutOverSockets(b *testing.B, members int) {
	s := start(b, func(c *server.Config) {
		c.Limits.RatePerSec, c.Limits.RateBurst = 1_000_000, 1_000_000
	})
	addr := s.Addr()
	clients := make([]*client, members)
	for i := range clients {
		c := login(b, addr, fmt.Sprintf("m%d", i))
		if r := c.reply(c.send(&protocol.Frame{Type: protocol.TypeJoin, Room: "bench"})); r.Type != protocol.TypeOK {
			b.Fatalf("join: %+v", r)
		}
		clients[i] = c
	}
	// Let the joins' events go by before the clock starts: the hub sends
	// each member what it has to say in order, so a message sent after
	// the last join comes after every join event.
	clients[0].send(&protocol.Frame{Type: protocol.TypeSend, Room: "bench", Text: "ready"})
	for _, c := range clients {
		c.until(func(f *protocol.Frame) bool { return f.Type == protocol.TypeMessage && f.Text == "ready" })
	}

	text := strings.Repeat("x", 100)
	const window = 64 // requests the sender keeps unanswered
	sender := clients[0]
	answered := make(chan struct{}, window)
	senderDone := make(chan struct{}) // its reader has returned
	var wg sync.WaitGroup
	errs := make(chan error, members)
	b.ResetTimer()
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 0 {
				defer close(senderDone)
			}
			errs <- readMessages(c, b.N, i == 0, answered)
		}()
	}
sending:
	for i := range b.N {
		if i >= window {
			select {
			case <-answered:
			case <-senderDone: // failed, or answered with errors
				break sending
			}
		}
		sender.raw(string(protocol.Encode(&protocol.Frame{Type: protocol.TypeSend, ID: uint64(1_000_000 + i), Room: "bench", Text: text})))
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*members), "ns/delivery")
}

var (
	reField     = []byte(`"re":`)
	messageType = []byte(`"type":"message"`)
	okType      = []byte(`"type":"ok"`)
	errorType   = []byte(`"type":"error"`)
)

// readMessages reads c until it has had n message events. The sender's
// reader also hands each answer to its requests to answered, and goes on
// until it has all n.
func readMessages(c *client, n int, sender bool, answered chan<- struct{}) error {
	oks := n
	if sender {
		oks = 0
	}
	for got := 0; got < n || oks < n; {
		c.nc.SetReadDeadline(time.Now().Add(time.Minute))
		line, err := c.r.ReadFrame()
		if err != nil {
			return fmt.Errorf("after %d messages: %w", got, err)
		}
		switch {
		case bytes.Contains(line, messageType):
			got++
		case sender && bytes.Contains(line, errorType):
			return fmt.Errorf("a send was refused: %s", line)
		case sender && bytes.Contains(line, okType):
			oks++
			select {
			case answered <- struct{}{}:
			default:
			}
		}
	}
	return nil
}

// BenchmarkBystanderSend measures one user's send, from writing it to
// reading its acknowledgement, with the store on disk (SQLite) and 60
// other users logged in, while they are idle and while each of them asks
// for a page of 50 messages of history 19 times a second. History is
// read off the hub goroutine, and a session may read at most
// session.DefaultReadRate pages a second, so the flood may cost the
// bystander CPU time but never a wait for the reads: compare the two
// sub-benchmarks' ns/op (chatserver/BENCHMARKS.md). The 60 readers are paced with a
// ticker each, as a client would be, spread over the period, and wait as
// told when refused. Everyone is in the lobby, where the bystander
// sends, in both.
func BenchmarkBystanderSend(b *testing.B) {
	for _, flood := range []bool{false, true} {
		b.Run(fmt.Sprintf("history-flood=%v", flood), func(b *testing.B) {
			benchmarkBystanderSend(b, flood)
		})
	}
}

func benchmarkBystanderSend(b *testing.B, flood bool) {
	s := start(b, func(c *server.Config) {
		c.DataDir = b.TempDir()
		c.Limits.RatePerSec, c.Limits.RateBurst = 1_000_000, 1_000_000
		c.ReadRate = session.DefaultReadRate // the server's default, which the tests' servers lift
	})
	addr := s.Addr()
	seed := login(b, addr, "seed")
	seed.reply(seed.send(&protocol.Frame{Type: protocol.TypeJoin, Room: "busy"}))
	for i := range 200 {
		seed.reply(seed.send(&protocol.Frame{Type: protocol.TypeSend, Room: "busy", Text: fmt.Sprintf("history %d", i)}))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var pages sync.Map
	var refused atomic.Int64
	const readers = 60
	for i := range readers {
		c := login(b, addr, fmt.Sprintf("reader%d", i))
		c.reply(c.send(&protocol.Frame{Type: protocol.TypeJoin, Room: "busy"}))
		if !flood {
			// Idle, but reading what the lobby says, as a client does.
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					c.nc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
					if _, err := c.r.ReadFrame(); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
						return
					}
				}
			}()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Independent clients: their requests are spread over the
			// period, not sent all at the same instants.
			period := time.Second / 19
			select {
			case <-time.After(period * time.Duration(i) / readers):
			case <-stop:
				return
			}
			tick := time.NewTicker(period)
			defer tick.Stop()
			n := 0
			defer func() { pages.Store(i, n) }()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				id := c.send(&protocol.Frame{Type: protocol.TypeHistory, Room: "busy"})
				// Only replies are decoded: the reader's own work stays
				// small beside the server's.
				for {
					c.nc.SetReadDeadline(time.Now().Add(time.Minute))
					line, err := c.r.ReadFrame()
					if err != nil {
						return
					}
					if !bytes.Contains(line, reField) {
						continue
					}
					f, _ := protocol.Decode(line)
					if f == nil || f.Re != id {
						continue
					}
					if f.Code == protocol.CodeRateLimited {
						// As a client does: wait as told, and ask again
						// at the next tick.
						refused.Add(1)
						time.Sleep(time.Duration(f.RetryMS) * time.Millisecond)
						n--
					}
					break
				}
				n++
			}
		}()
	}
	by := login(b, addr, "bystander")
	time.Sleep(500 * time.Millisecond) // the readers are under way
	b.ResetTimer()
	for range b.N {
		if r := by.reply(by.send(&protocol.Frame{Type: protocol.TypeSend, Text: "hi"})); r.Type != protocol.TypeOK {
			b.Fatalf("send: %+v", r)
		}
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	total := 0
	pages.Range(func(_, v any) bool { total += v.(int); return true })
	if flood {
		b.ReportMetric(float64(total)/(b.Elapsed().Seconds()+0.5), "pages/s")
		b.ReportMetric(float64(refused.Load())/(b.Elapsed().Seconds()+0.5), "refused/s")
	}
}

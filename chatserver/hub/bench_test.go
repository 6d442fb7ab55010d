package hub_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parley-chat/parley/chatserver/event"
	"github.com/parley-chat/parley/chatserver/hub"
	"github.com/parley-chat/parley/shared/protocol"
)

// countingPeer stands for a connection whose writer keeps up: it counts
// the message events it is given and says when it has had enough.
type countingPeer struct {
	messages atomic.Int64
	want     int64
	done     chan struct{}
}

// Queue encodes the event, as an NDJSON transport does (once for all
// the peers it is queued to), and counts it.
func (p *countingPeer) Queue(ev *event.Event) bool {
	ev.JSON()
	if ev.Kind == event.Message && p.messages.Add(1) == p.want {
		close(p.done)
	}
	return true
}
func (p *countingPeer) Flush()               {}
func (p *countingPeer) Close(string, string) {}

// BenchmarkFanout measures the hub's side of room messages: accept, store
// (in memory), encode once, queue to every member, flush each member once
// per step. It reports the cost per delivered frame; the network's side is
// measured with the load tool (see chatserver/BENCHMARKS.md).
func BenchmarkFanout(b *testing.B) {
	for _, members := range []int{10, 1000} {
		b.Run(fmt.Sprintf("members=%d", members), func(b *testing.B) {
			e := newEnv(b, nil)
			peers := make([]*countingPeer, members)
			var sender *hub.Session
			for i := range members {
				peers[i] = &countingPeer{want: int64(b.N), done: make(chan struct{})}
				s, err := e.hub.Login(context.Background(), peers[i], &protocol.Frame{
					Type: protocol.TypeLogin, ID: 1, Name: fmt.Sprintf("m%d", i), Password: "pw"}, testAddr)
				if err != nil {
					b.Fatal(err)
				}
				if i == 0 {
					sender = s
				}
			}
			text := strings.Repeat("x", 100)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				e.hub.Handle(sender, &protocol.Frame{Type: protocol.TypeSend, ID: uint64(i + 2), Text: text})
			}
			for _, p := range peers {
				<-p.done
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(members), "ns/delivery")
		})
	}
}

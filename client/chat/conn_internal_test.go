package chat

import (
	"net"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/parley-chat/parley/shared/protocol"
)

// pipeConn is a conn whose writer writes into one end of a pipe; the test
// reads the other end. A pipe's write waits for its read, so the test
// decides when the writer may go on. start begins the writer.
func pipeConn(t *testing.T, lim *rate.Limiter) (c *conn, start func(), next func() *protocol.Frame) {
	a, b := net.Pipe()
	c = &conn{nc: a, lim: lim, wake: make(chan struct{}, 1), dead: make(chan struct{}), wdone: make(chan struct{})}
	r := protocol.NewReader(b, protocol.DefaultMaxFrame)
	started := false
	t.Cleanup(func() {
		c.close()
		b.Close()
		if started {
			<-c.wdone
		}
	})
	start = func() { started = true; go c.writeLoop() }
	next = func() *protocol.Frame {
		t.Helper()
		b.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := r.ReadFrame()
		if err != nil {
			t.Fatalf("reading what the writer wrote: %v", err)
		}
		f, err := protocol.Decode(line)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	return c, start, next
}

func req(id uint64) *protocol.Frame { return &protocol.Frame{Type: protocol.TypePing, ID: id} }

// Requests go out in the order of their ids, whatever the order they were
// queued in: a reconnect's re-sends and a refused request put back go
// before later requests still waiting.
func TestWriterKeepsRequestOrder(t *testing.T) {
	c, start, next := pipeConn(t, nil)
	for _, id := range []uint64{5, 2, 4, 1, 3} {
		c.send(req(id))
	}
	start()
	for want := uint64(1); want <= 5; want++ {
		if f := next(); f.ID != want {
			t.Fatalf("wrote request %d, want %d", f.ID, want)
		}
	}
	// 9 is queued before 8, while 7 may already be on its way.
	c.send(req(7))
	c.send(req(9))
	c.send(req(8))
	for _, want := range []uint64{7, 8, 9} {
		if f := next(); f.ID != want {
			t.Fatalf("wrote request %d, want %d", f.ID, want)
		}
	}
	// After a refusal nothing counted is written before the wait is over.
	const wait = 50 * time.Millisecond
	held := time.Now()
	c.hold(wait)
	c.send(req(10))
	if f := next(); f.ID != 10 {
		t.Fatalf("wrote %d, want 10", f.ID)
	} else if d := time.Since(held); d < wait {
		t.Errorf("written %v after a hold of %v", d, wait)
	}
}

// A pong does not wait for the bucket, which the server does not count it
// against: it goes before a request that waits for a token.
func TestPongSkipsTheBucket(t *testing.T) {
	lim := rate.NewLimiter(1, 1)
	lim.Allow() // empty: the next token is a second away
	c, start, next := pipeConn(t, lim)
	start()
	c.send(req(1))
	c.pong()
	if f := next(); f.Type != protocol.TypePong {
		t.Fatalf("wrote %s %d first, want the pong", f.Type, f.ID)
	}
}

// Taking a request out of the queue (its caller gave up) means it is not
// written.
func TestUnqueuedRequestIsNotWritten(t *testing.T) {
	c, start, next := pipeConn(t, nil)
	c.send(req(1))
	c.send(req(2))
	c.send(req(3))
	c.unqueue(2)
	start()
	for _, want := range []uint64{1, 3} {
		if f := next(); f.ID != want {
			t.Fatalf("wrote request %d, want %d", f.ID, want)
		}
	}
}

func TestRetryWait(t *testing.T) {
	for _, tc := range []struct {
		ms       int64
		n        int
		min, max time.Duration
	}{
		{50, 1, 50 * time.Millisecond, 75 * time.Millisecond},
		{50, 3, 200 * time.Millisecond, 300 * time.Millisecond},
		{0, 1, defaultRetry, defaultRetry * 3 / 2},
		{50, 20, maxRetry, maxRetry},
		{8000, 1, 8 * time.Second, 8 * time.Second},
	} {
		for range 20 {
			if d := retryWait(tc.ms, tc.n); d < tc.min || d > tc.max {
				t.Errorf("retryWait(%d, %d) = %v, want %v to %v", tc.ms, tc.n, d, tc.min, tc.max)
				break
			}
		}
	}
}

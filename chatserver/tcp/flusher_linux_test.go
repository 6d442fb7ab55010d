package tcp

import (
	"bufio"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/parley-chat/parley/chatserver/session"
)

// A parked connection lets a small queue ring go when its queue empties.
// A large one, grown by a burst, it keeps while frames keep coming, and
// lets go once they have stopped for a while. The
// deadline heap's early wakeup is made by hand here, as its timer would
// make it after ringLinger, which is long enough that the timer itself
// never does during the test.
func TestParkedConnectionLetsItsRingGo(t *testing.T) {
	srv := New(Config{Sessions: session.New(session.Config{}), ringLinger: time.Hour})
	p, err := newPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	sc, cc := socketPair(t)
	sc.(*net.TCPConn).SetWriteBuffer(1 << 20)
	f := newFlusher(0)
	defer f.close()
	c := newConn(srv, sc, 1, f, p)
	deadline := time.Now().Add(2 * time.Hour) // after the hour-long ringLinger
	c.setReadDeadline(deadline)
	if !c.park() {
		t.Fatal("the connection did not park")
	}
	r := bufio.NewReader(cc)
	send := func(n int) {
		t.Helper()
		for i := range n {
			c.queue(fmt.Appendf(nil, "frame %d\n", i))
		}
		c.Flush()
		cc.SetReadDeadline(time.Now().Add(10 * time.Second))
		for range n {
			if _, err := r.ReadString('\n'); err != nil {
				t.Fatal(err)
			}
		}
	}
	state := func() (ring int, timed bool, wake time.Duration) {
		t.Helper()
		// The flusher records the write after the client could read it.
		for give := time.Now().Add(10 * time.Second); ; {
			c.mu.Lock()
			writing := c.writing
			ring, timed = len(c.q.ring), c.ringTimed
			c.mu.Unlock()
			if !writing {
				break
			}
			if time.Now().After(give) {
				t.Fatal("the flusher never finished")
			}
			time.Sleep(time.Millisecond)
		}
		p.deadlines.mu.Lock()
		defer p.deadlines.mu.Unlock()
		return ring, timed, c.wakeAt
	}
	real := deadline.Sub(p.deadlines.epoch)
	// wakeEarly does what the heap's timer does: take the connection out
	// of the heap, and call it.
	wakeEarly := func() {
		t.Helper()
		state() // the flusher is done
		p.deadlines.mu.Lock()
		due := p.deadlines.popDue(90 * time.Minute) // the ring's check, not the deadline
		p.deadlines.arm()
		p.deadlines.mu.Unlock()
		if len(due) != 1 || due[0] != c {
			t.Fatalf("%d connections due", len(due))
		}
		c.deadlinePassed()
	}

	// A few frames: the ring goes as soon as they are written.
	send(20)
	if ring, timed, _ := state(); ring != 0 || timed {
		t.Fatalf("after a few frames: ring %d, check scheduled %v", ring, timed)
	}
	// A burst that grows a busy ring: it stays for now.
	send(200)
	ring, timed, wake := state()
	if ring < busyRing || !timed || wake >= real {
		t.Fatalf("after a burst: ring %d, check scheduled %v, wakeup in %v", ring, timed, wake-time.Since(p.deadlines.epoch))
	}
	// Frames came since: the ring stays, and is looked at again later.
	send(1)
	wakeEarly()
	if ring, timed, wake = state(); ring == 0 || !timed || wake >= real {
		t.Fatalf("fed: ring %d, check scheduled %v, in the heap %v", ring, timed, c.wakeIdx > 0)
	}
	// Nothing since: the ring goes, and the wakeup is the deadline again.
	wakeEarly()
	if ring, timed, wake = state(); ring != 0 || timed || wake != real || c.wakeIdx == 0 {
		t.Fatalf("quiet: ring %d, check scheduled %v, wakeup %v, want %v, in the heap %v", ring, timed, wake, real, c.wakeIdx > 0)
	}
	// (The connection has no session: had a wakeup taken the deadline
	// for passed, the test would have failed calling it.)
	if !c.parked {
		t.Fatal("the early wakeups resumed the connection")
	}

	// Take it out of the poller by hand: resuming would start a reader
	// the test has not set up.
	c.parkMu.Lock()
	c.parked = false
	c.parkMu.Unlock()
	p.noWake(c)
	p.forget(c)
	c.Close("", "")
	<-c.finishedC()
}

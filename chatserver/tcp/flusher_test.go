//go:build unix

package tcp

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// socketPair returns the two ends of a loopback TCP connection with small
// kernel buffers, so that writes fill the socket quickly.
func socketPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
	}}
	client, err = d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	server.(*net.TCPConn).SetWriteBuffer(4096)
	t.Cleanup(func() { client.Close(); server.Close() })
	return server, client
}

// Frames queued by several goroutines while the client is not reading
// outgrow the socket, so the flusher hands the rest to a writer goroutine
// part-way through a frame. Every frame must still arrive whole, once, and
// in the order each goroutine queued them.
func TestFlusherKeepsOrderWhenTheSocketFills(t *testing.T) {
	srv := New(Config{})
	sc, cc := socketPair(t)
	f := newFlusher(0)
	defer f.close()
	c := newConn(srv, sc, 1, f, nil)
	if c.flusher == nil {
		t.Fatal("a TCP connection has no flusher")
	}

	const queuers, each = 4, 2000
	pad := strings.Repeat("x", 150)
	var wg sync.WaitGroup
	for g := range queuers {
		wg.Go(func() {
			for i := range each {
				if !c.queue(fmt.Appendf(nil, "%d %d %s\n", g, i, pad)) {
					t.Errorf("frame %d/%d refused", g, i)
					return
				}
				if i%7 == 0 {
					c.Flush()
				}
			}
			c.Flush()
		})
	}
	wg.Wait()
	// Only now does the client start reading: the socket has long been full.
	time.Sleep(10 * time.Millisecond)
	c.Close("", "")

	next := make([]int, queuers)
	r := bufio.NewReader(cc)
	cc.SetReadDeadline(time.Now().Add(30 * time.Second))
	for n := 0; n < queuers*each; n++ {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("after %d frames: %v", n, err)
		}
		var g, i int
		var p string
		if _, err := fmt.Sscanf(line, "%d %d %s\n", &g, &i, &p); err != nil || p != pad {
			t.Fatalf("frame %d garbled: %q", n, line)
		}
		if i != next[g] {
			t.Fatalf("from queuer %d: frame %d, want %d", g, i, next[g])
		}
		next[g]++
	}
	if rest, err := io.ReadAll(r); err != nil || len(rest) != 0 {
		t.Fatalf("after the frames: %q, %v", rest, err)
	}
	<-c.finishedC()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.waits == 0 {
		t.Error("the socket never filled: the test did not exercise the hand-over")
	}
}

// A connection whose client reads everything it is sent is written by the
// flusher alone: no writer goroutine waits for the socket.
func TestFlusherWritesWholeWithoutAGoroutine(t *testing.T) {
	srv := New(Config{})
	sc, cc := socketPair(t)
	sc.(*net.TCPConn).SetWriteBuffer(1 << 20)
	f := newFlusher(0)
	defer f.close()
	c := newConn(srv, sc, 1, f, nil)
	r := bufio.NewReader(cc)
	for i := range 100 {
		c.queue(fmt.Appendf(nil, "frame %d\n", i))
		c.queue(fmt.Appendf(nil, "and %d\n", i))
		c.Flush()
		cc.SetReadDeadline(time.Now().Add(10 * time.Second))
		for _, want := range []string{fmt.Sprintf("frame %d\n", i), fmt.Sprintf("and %d\n", i)} {
			line, err := r.ReadString('\n')
			if err != nil || line != want {
				t.Fatalf("read %q, %v; want %q", line, err, want)
			}
		}
	}
	c.Close("", "")
	<-c.finishedC()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.waits != 0 {
		t.Errorf("%d writes waited in a goroutine; the socket had room for all", c.waits)
	}
}

// After a writer goroutine has waited for a full socket and given the
// connection back, the flusher writes for it again, however long after:
// the writer's deadline does not linger to fail the flusher's writes.
func TestFlusherAfterTheWriterGoroutine(t *testing.T) {
	srv := New(Config{WriteTimeout: 50 * time.Millisecond})
	sc, cc := socketPair(t)
	f := newFlusher(0)
	defer f.close()
	c := newConn(srv, sc, 1, f, nil)
	r := bufio.NewReader(cc)
	frame := []byte(strings.Repeat("y", 1000) + "\n")
	// Fill the socket while the client does not read, then read it all:
	// the writer goroutine finishes the job within its deadline.
	const n = 200
	for range n {
		c.queue(frame)
	}
	c.Flush()
	cc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := range n {
		if line, err := r.ReadString('\n'); err != nil || line != string(frame) {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	c.mu.Lock()
	waits := c.waits
	c.mu.Unlock()
	if waits == 0 {
		t.Fatal("the socket never filled: the test did not exercise the writer goroutine")
	}
	// Long after the writer's deadline, the flusher writes again.
	time.Sleep(150 * time.Millisecond)
	c.queue([]byte("later\n"))
	c.Flush()
	if line, err := r.ReadString('\n'); err != nil || line != "later\n" {
		t.Fatalf("after the deadline: %q, %v; closed as %q", line, err, c.closeReason())
	}
	c.Close("", "")
	<-c.finishedC()
}

// A client dropped as a slow consumer just after a write cut a frame
// short still gets that frame whole, then the bye: never half a frame
// glued to the bye. The drop can come before the writer has recorded what
// it wrote, or after, before the writer goroutine takes over; both are
// set up here by hand, in the order the flusher would go.
func TestDropAfterACutFrameKeepsTheFrameWhole(t *testing.T) {
	big := []byte(strings.Repeat("x", 100000) + "\n")
	for _, recordedFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("recorded first=%v", recordedFirst), func(t *testing.T) {
			srv := New(Config{MaxQueue: len(big) + 100})
			sc, cc := socketPair(t)
			c := newConn(srv, sc, 1, nil, nil)
			if !c.queue(big) {
				t.Fatal("the frame was refused")
			}
			// The flusher takes the run and the socket takes part of it.
			c.mu.Lock()
			c.writing = true
			run := c.q.front(maxFlushv)
			c.mu.Unlock()
			const cut = 1000
			if _, err := sc.Write(big[:cut]); err != nil {
				t.Fatal(err)
			}
			overflow := func() {
				if c.queue(make([]byte, len(big))) {
					t.Fatal("the queue did not overflow")
				}
			}
			if recordedFirst {
				c.mu.Lock()
				c.wroteLocked(run, cut)
				c.mu.Unlock()
				overflow()
			} else {
				overflow()
				c.mu.Lock()
				c.wroteLocked(run, cut)
				c.mu.Unlock()
			}
			go c.writeLoop() // as the flusher hands over a full socket

			cc.SetReadDeadline(time.Now().Add(10 * time.Second))
			r := bufio.NewReaderSize(cc, 1<<20)
			line, err := r.ReadString('\n')
			if err != nil || line != string(big) {
				t.Fatalf("first line: %d bytes, %v; want the whole frame of %d", len(line), err, len(big))
			}
			line, err = r.ReadString('\n')
			if err != nil || !strings.Contains(line, `"code":"slow_consumer"`) {
				t.Fatalf("then %q, %v; want the bye", line, err)
			}
			<-c.finishedC()
		})
	}
}

// With a coalescing window, frames queued and flushed one by one within
// the window reach the socket in one write, whole and in order. They are
// queued apart, so that a flusher without the window would have written
// each on its own.
func TestFlusherWindowGathersFrames(t *testing.T) {
	srv := New(Config{})
	sc, cc := socketPair(t)
	sc.(*net.TCPConn).SetWriteBuffer(1 << 20)
	f := newFlusher(2 * time.Second)
	c := newConn(srv, sc, 1, f, nil)
	const frames = 5
	for i := range frames {
		c.queue(fmt.Appendf(nil, "frame %d\n", i))
		c.Flush()
		time.Sleep(10 * time.Millisecond)
	}
	r := bufio.NewReader(cc)
	cc.SetReadDeadline(time.Now().Add(30 * time.Second))
	for i := range frames {
		want := fmt.Sprintf("frame %d\n", i)
		if line, err := r.ReadString('\n'); err != nil || line != want {
			t.Fatalf("read %q, %v; want %q", line, err, want)
		}
	}
	f.close()
	if f.writes != 1 {
		t.Errorf("%d frames took %d writes, want 1", frames, f.writes)
	}
	c.Close("", "")
}

// A flusher stopped while it waits out its window returns at once.
func TestFlusherStopsDuringItsWindow(t *testing.T) {
	srv := New(Config{})
	sc, _ := socketPair(t)
	f := newFlusher(time.Hour)
	c := newConn(srv, sc, 1, f, nil)
	c.queue([]byte("never written\n"))
	c.Flush()
	f.close()
	if f.writes != 0 {
		t.Errorf("%d writes before the window ended", f.writes)
	}
}

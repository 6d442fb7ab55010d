//go:build unix

package tcp

import (
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// A flusher writes the queued frames of many connections from one
// goroutine, without waiting for any socket. When a step of the hub's work
// leaves a thousand connections with something to write, waking a
// flusher or two costs far less than starting a thousand writers, and a
// write that the kernel takes whole (the usual case) is one writev.
//
// A socket that cannot take everything at once is handed to a writer
// goroutine of its own (conn.writeLoop), which waits for it under the
// write deadline; the flusher moves on. Only one of them writes for a
// connection at a time: conn.writing says that someone is.
//
// With a window, a flusher that is woken waits until the window has
// passed since the first connection of its round was scheduled, so that
// frames queued meanwhile go out in the same writes. At a steady rate,
// where each member gets a frame every few milliseconds, this trades a
// bounded delay for fewer system calls per delivery (see
// chatserver/BENCHMARKS.md, "Coalescing window").
type flusher struct {
	window time.Duration // 0: write as soon as woken

	mu      sync.Mutex
	pending []*conn   // connections with frames to write
	due     time.Time // when the round of pending may start; zero: at once
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}

	// Owned by the flusher's goroutine.
	timer  *time.Timer
	writes int // system calls made; read after close
	batch  []*conn
	iov    []syscall.Iovec
}

// flushRounds is how many writes a flusher makes for one connection before
// it serves the others and comes back: a connection with a long queue
// does not hold up the rest.
const flushRounds = 4

func newFlusher(window time.Duration) *flusher {
	f := &flusher{
		window: window,
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		iov:    make([]syscall.Iovec, 0, maxFlushv),
	}
	if window > 0 {
		f.timer = time.NewTimer(time.Hour)
		f.timer.Stop()
	}
	go f.run()
	return f
}

// add schedules c, whose writing flag its caller has set, for writing.
func (f *flusher) add(c *conn) {
	f.mu.Lock()
	if len(f.pending) == 0 && f.window > 0 {
		f.due = time.Now().Add(f.window)
	}
	f.pending = append(f.pending, c)
	f.mu.Unlock()
	f.signal()
}

// again schedules c, which still has frames after its share of a round,
// for the next round, which starts without waiting for the window: its
// frames have waited once already.
func (f *flusher) again(c *conn) {
	f.mu.Lock()
	f.due = time.Time{}
	f.pending = append(f.pending, c)
	f.mu.Unlock()
	f.signal()
}

func (f *flusher) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// close stops the flusher once every connection is gone.
func (f *flusher) close() {
	close(f.stop)
	<-f.done
}

func (f *flusher) run() {
	defer close(f.done)
	for {
		select {
		case <-f.wake:
		case <-f.stop:
			return
		}
		if f.window > 0 && !f.wait() {
			return
		}
		f.mu.Lock()
		f.batch, f.pending = f.pending, f.batch[:0]
		f.mu.Unlock()
		for i, c := range f.batch {
			f.flush(c)
			f.batch[i] = nil
		}
	}
}

// wait sleeps until the round that woke the flusher is due. It reports
// false if the flusher was stopped meanwhile.
func (f *flusher) wait() bool {
	f.mu.Lock()
	due := f.due
	f.mu.Unlock()
	d := time.Until(due)
	if d <= 0 {
		return true
	}
	f.timer.Reset(d)
	select {
	case <-f.timer.C:
		return true
	case <-f.stop:
		f.timer.Stop()
		return false
	}
}

// flush writes what c has queued, as far as the socket takes it without
// waiting.
func (f *flusher) flush(c *conn) {
	for round := 0; ; round++ {
		c.mu.Lock()
		if c.q.n == 0 {
			if c.closed {
				// The bye frame and closing are the writer goroutine's.
				go c.writeLoop()
			} else {
				c.writing = false
			}
			c.mu.Unlock()
			return
		}
		if round == flushRounds {
			c.mu.Unlock()
			f.again(c) // still ours: writing stays set
			return
		}
		bufs := c.q.front(maxFlushv)
		c.mu.Unlock()

		n, err := f.write(c, bufs)
		c.mu.Lock()
		if c.wroteLocked(bufs, n) == len(bufs) {
			c.mu.Unlock()
			continue
		}
		if err != nil && err != syscall.EAGAIN {
			c.mu.Unlock()
			c.writeFailed(err)
			return
		}
		// The socket is full: the rest waits in a goroutine of its own.
		c.waits++
		go c.writeLoop()
		c.mu.Unlock()
		return
	}
}

// write makes one writev of bufs to c's socket without waiting. It
// returns the bytes written and, if not all were, why.
func (f *flusher) write(c *conn, bufs [][]byte) (int, error) {
	f.iov = f.iov[:0]
	for _, b := range bufs {
		if len(b) > 0 {
			v := syscall.Iovec{Base: &b[0]}
			v.SetLen(len(b))
			f.iov = append(f.iov, v)
		}
	}
	if len(f.iov) == 0 {
		return 0, nil
	}
	f.writes++
	// The descriptor, Go's or a shed one, is written under the lock that
	// keeps it from being closed meanwhile.
	c.parkMu.Lock()
	n, errno := writev(int(c.fd), f.iov)
	c.parkMu.Unlock()
	clear(f.iov)
	if errno != 0 {
		return n, errno
	}
	return n, nil
}

// writev is one system call, whatever it manages.
func writev(fd int, iov []syscall.Iovec) (int, syscall.Errno) {
	if fd < 0 {
		return 0, syscall.EBADF
	}
	for {
		r, _, e := syscall.Syscall(syscall.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
		if e != syscall.EINTR {
			return int(r), e
		}
	}
}

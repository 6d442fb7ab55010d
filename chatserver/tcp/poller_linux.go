package tcp

import (
	"encoding/binary"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// A poller watches the sockets of parked connections: logged-in
// connections with nothing to read, whose reader goroutines have ended.
// An idle connection then costs its socket and its state, but no
// goroutine stack. When a parked socket becomes readable or fails, the
// poller starts a goroutine to read it.
//
// The poller has its own epoll instance, beside the runtime's; each socket
// is registered one-shot, so that one event resumes a connection once,
// and re-armed when the connection parks again. Events carry the
// connection's id, not its descriptor: an event that arrives for a
// connection that has since closed finds no one and is ignored.
type poller struct {
	epfd int
	wake int // eventfd that tells the poller to stop

	deadlines *deadlines // wakes parked connections whose read deadlines pass

	mu     sync.Mutex
	parked map[uint64]*conn
	failed bool // the poller stopped on an error: nothing parks any more
	done   chan struct{}
}

// stopID is the event data of the poller's own eventfd; connection ids
// start at 1.
const stopID = 0

func newPoller() (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	setEventID(&ev, stopID)
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(wake)
		return nil, err
	}
	p := &poller{epfd: epfd, wake: wake, parked: make(map[uint64]*conn), done: make(chan struct{})}
	p.deadlines = newDeadlines((*conn).deadlinePassed)
	go p.run()
	return p, nil
}

// The id fills the 64 bits of epoll_event's data.
func setEventID(ev *unix.EpollEvent, id uint64) {
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], id)
	ev.Fd = int32(binary.NativeEndian.Uint32(b[:4]))
	ev.Pad = int32(binary.NativeEndian.Uint32(b[4:]))
}

func eventID(ev *unix.EpollEvent) uint64 {
	var b [8]byte
	binary.NativeEndian.PutUint32(b[:4], uint32(ev.Fd))
	binary.NativeEndian.PutUint32(b[4:], uint32(ev.Pad))
	return binary.NativeEndian.Uint64(b[:])
}

// watch arms a one-shot wait for c's socket to become readable. c must be
// parked. It reports false if the socket cannot be watched (it is closed):
// the caller then reads it itself.
func (p *poller) watch(c *conn) bool {
	p.mu.Lock()
	if p.failed {
		p.mu.Unlock()
		return false
	}
	p.parked[c.id] = c
	p.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT}
	setEventID(&ev, c.id)
	var err error
	cerr := c.raw.Control(func(fd uintptr) {
		op := unix.EPOLL_CTL_MOD
		if !c.polled {
			op = unix.EPOLL_CTL_ADD
		}
		err = unix.EpollCtl(p.epfd, op, int(fd), &ev)
		if err == unix.EEXIST {
			err = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, int(fd), &ev)
		}
		if err == nil {
			c.polled = true
		}
	})
	if cerr != nil || err != nil {
		p.forget(c)
		return false
	}
	return true
}

// wakeAt has c woken at t, if it is still parked then.
func (p *poller) wakeAt(c *conn, t time.Time) { p.deadlines.set(c, t) }

// soon moves c's wakeup forward to t, if c is parked; it reports whether
// it is.
func (p *poller) soon(c *conn, t time.Time) bool { return p.deadlines.soon(c, t) }

// noWake cancels c's wakeup.
func (p *poller) noWake(c *conn) { p.deadlines.remove(c) }

// forget drops c, which is no longer parked.
func (p *poller) forget(c *conn) {
	p.mu.Lock()
	delete(p.parked, c.id)
	p.mu.Unlock()
}

// count says how many connections are parked.
func (p *poller) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.parked)
}

func (p *poller) run() {
	defer close(p.done)
	events := make([]unix.EpollEvent, 128)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			p.fail()
			return
		}
		for i := range events[:n] {
			id := eventID(&events[i])
			if id == stopID {
				return
			}
			p.mu.Lock()
			c := p.parked[id]
			delete(p.parked, id)
			p.mu.Unlock()
			if c != nil {
				c.unpark(nil)
			}
		}
	}
}

// fail gives up on the epoll instance, which cannot be waited on: the
// parked connections are resumed, and from now on idle connections wait
// in their reader goroutines.
func (p *poller) fail() {
	p.mu.Lock()
	p.failed = true
	parked := make([]*conn, 0, len(p.parked))
	for _, c := range p.parked {
		parked = append(parked, c)
	}
	clear(p.parked)
	p.mu.Unlock()
	for _, c := range parked {
		c.unpark(nil)
	}
}

// close stops the poller. Every connection has finished by then.
func (p *poller) close() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	unix.Write(p.wake, one[:])
	<-p.done
	p.deadlines.stop()
	unix.Close(p.epfd)
	unix.Close(p.wake)
}

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
// and re-armed when the connection parks again. Events carry the parked
// connection's slot in a table and the slot's generation, not the
// descriptor: an event that arrives for a connection that has since
// resumed or closed finds its slot empty or reused, and is ignored.
//
// The table costs a parked connection 16 bytes and a free-list entry,
// where a map from ids to connections cost about 116.
type poller struct {
	epfd int
	wake int // eventfd that tells the poller to stop

	deadlines *deadlines // wakes parked connections whose read deadlines pass

	mu     sync.Mutex
	slots  []pollSlot // slot i is event id i+1; conn.slot says which one a parked connection has
	free   []uint32   // empty slots, reused last in, first out
	parked int        // slots in use
	failed bool       // the poller stopped on an error: nothing parks any more
	done   chan struct{}
}

// A pollSlot holds a parked connection. Its generation changes each time
// the slot is emptied, so that an event for an earlier occupant does not
// wake a later one.
type pollSlot struct {
	c   *conn
	gen uint32
}

// stopID is the event data of the poller's own eventfd; slots' ids start
// at 1.
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
	p := &poller{epfd: epfd, wake: wake, done: make(chan struct{})}
	p.deadlines = newDeadlines((*conn).deadlinePassed)
	go p.run()
	return p, nil
}

// slotID is the event id of slot i with generation gen: i+1 in the low
// 32 bits, gen in the high.
func slotID(i, gen uint32) uint64 { return uint64(gen)<<32 | uint64(i+1) }

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
	id := p.takeSlot(c)
	p.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT}
	setEventID(&ev, id)
	// c.parkMu is held, so the descriptor is the socket's.
	var err error = unix.EBADF
	if fd := int(c.fd); fd >= 0 {
		op := unix.EPOLL_CTL_MOD
		if !c.polled {
			op = unix.EPOLL_CTL_ADD
		}
		err = unix.EpollCtl(p.epfd, op, fd, &ev)
		if err == unix.EEXIST {
			err = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, fd, &ev)
		}
		if err == nil {
			c.polled = true
		}
	}
	if err != nil {
		p.forget(c)
		return false
	}
	return true
}

// rearm arms, under parked c's slot, a one-shot wait on fd, a new
// descriptor of c's socket (see shed_linux.go). It reports false if c no
// longer holds its slot (an event took it, and it is about to resume) or
// fd cannot be watched.
func (p *poller) rearm(c *conn, fd int) bool {
	p.mu.Lock()
	if int(c.slot) >= len(p.slots) || p.slots[c.slot].c != c {
		p.mu.Unlock()
		return false
	}
	id := slotID(c.slot, p.slots[c.slot].gen)
	p.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT}
	setEventID(&ev, id)
	return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev) == nil
}

// unwatch deletes fd's entry, if it has one, before fd is closed while
// another descriptor of the same socket stays open.
func (p *poller) unwatch(fd int) { unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil) }

// wakeAt has c woken at t, if it is still parked then.
func (p *poller) wakeAt(c *conn, t time.Time) { p.deadlines.set(c, t) }

// soon moves c's wakeup forward to t, if c is parked; it reports whether
// it is.
func (p *poller) soon(c *conn, t time.Time) bool { return p.deadlines.soon(c, t) }

// noWake cancels c's wakeup.
func (p *poller) noWake(c *conn) { p.deadlines.remove(c) }

// takeSlot puts c in an empty slot and returns the slot's event id.
// p.mu is held.
func (p *poller) takeSlot(c *conn) uint64 {
	var i uint32
	if k := len(p.free); k > 0 {
		i = p.free[k-1]
		p.free = p.free[:k-1]
	} else {
		i = uint32(len(p.slots))
		p.slots = append(p.slots, pollSlot{})
	}
	p.slots[i].c = c
	c.slot = i
	p.parked++
	return slotID(i, p.slots[i].gen)
}

// emptySlot empties slot i, which holds a connection. p.mu is held.
func (p *poller) emptySlot(i uint32) {
	p.slots[i].c = nil
	p.slots[i].gen++
	p.free = append(p.free, i)
	p.parked--
}

// byID takes the connection out of the slot that event id names, and
// returns it; nil if the slot has been emptied since. p.mu is held.
func (p *poller) byID(id uint64) *conn {
	i, gen := uint32(id)-1, uint32(id>>32)
	if int(i) >= len(p.slots) || p.slots[i].gen != gen || p.slots[i].c == nil {
		return nil
	}
	c := p.slots[i].c
	p.emptySlot(i)
	return c
}

// forget drops c, which is no longer parked.
func (p *poller) forget(c *conn) {
	p.mu.Lock()
	if int(c.slot) < len(p.slots) && p.slots[c.slot].c == c {
		p.emptySlot(c.slot)
	}
	p.mu.Unlock()
}

// count says how many connections are parked.
func (p *poller) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.parked
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
			c := p.byID(id)
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
	parked := make([]*conn, 0, p.parked)
	for i := range p.slots {
		if c := p.slots[i].c; c != nil {
			parked = append(parked, c)
			p.emptySlot(uint32(i))
		}
	}
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

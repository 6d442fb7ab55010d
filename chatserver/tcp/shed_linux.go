package tcp

import (
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Shedding Go's socket.
//
// Go holds a socket as a net.Conn: its descriptor, both addresses, a
// finalizer and the runtime's poll descriptor, about 0.7 KB in all (see
// chatserver/BENCHMARKS.md, "Where an idle connection's memory goes"). A
// connection parked for Config.shedAfter keeps only a duplicate of the
// descriptor instead, which the poller watches and the flusher writes
// with writev as it wrote Go's, and takes a net.Conn back when it needs
// one: to read, or to wait for a full socket. Shedding costs a dup, two
// epoll_ctl and Go's close; taking it back about ten system calls (two
// dups, net.FileConn's checks, the runtime's registration), which a
// member who only reads never pays and one who speaks pays at most once
// a second.
//
// The descriptor is a bare number, which the kernel hands to the next
// socket once it is closed. It is therefore used and closed only under
// parkMu (see conn.fd), so that a write never reaches a later
// connection's socket.
//
// Epoll keys its entries by descriptor and open file, and both
// descriptors of a swap refer to one open file: closing one would leave
// its entry behind, so each swap registers the new descriptor and
// deletes the old one's entry before closing it.

// shed swaps a parked connection's net.Conn for a duplicate of its
// descriptor. The caller holds the connection's writing turn, so no
// writer is using the socket.
func (c *conn) shed() {
	c.parkMu.Lock()
	defer c.parkMu.Unlock()
	if !c.parked || c.nc == nil || c.fd < 0 || c.poller == nil {
		return
	}
	dup, err := unix.FcntlInt(uintptr(c.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return // out of descriptors: keep Go's socket
	}
	if !c.poller.rearm(c, dup) {
		unix.Close(dup) // woken meanwhile: it is about to resume
		return
	}
	c.poller.unwatch(int(c.fd))
	c.nc.Close()
	c.nc, c.fd = nil, int32(dup)
	c.polled = true
	c.srv.shed.Add(1)
}

// unshed gives a shed connection a net.Conn again. A process out of
// descriptors cannot make one (it needs two for a moment): it backs off
// and tries again for a few seconds, as the accept loop does, before it
// gives up and the connection closes.
func (c *conn) unshed() error {
	wait := 5 * time.Millisecond
	for tries := 0; ; tries++ {
		err := c.tryUnshed()
		if err == nil || tries == 12 || !(err == syscall.EMFILE || err == syscall.ENFILE) {
			return err
		}
		time.Sleep(wait)
		wait = min(2*wait, time.Second)
	}
}

func (c *conn) tryUnshed() error {
	c.parkMu.Lock()
	defer c.parkMu.Unlock()
	if c.nc != nil {
		return nil
	}
	if c.fd < 0 {
		return net.ErrClosed
	}
	// net.FileConn duplicates the descriptor it is given, and an os.File
	// closes its own when collected: the File gets a duplicate of ours,
	// so that a failure leaves c.fd as it was.
	d, err := unix.FcntlInt(uintptr(c.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(d), "")
	nc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		if pe, ok := err.(*net.OpError); ok {
			if se, ok := pe.Err.(*os.SyscallError); ok {
				return se.Err
			}
		}
		return err
	}
	sc, ok := nc.(syscall.Conn)
	fd := -1
	if ok {
		if raw, err := sc.SyscallConn(); err == nil {
			raw.Control(func(d uintptr) { fd = int(d) })
		}
	}
	if fd < 0 {
		nc.Close()
		return net.ErrClosed
	}
	// If the connection is still parked (a writer needs the socket), the
	// poller watches the new descriptor from now on.
	polled := c.poller.rearm(c, fd)
	c.poller.unwatch(int(c.fd))
	unix.Close(int(c.fd))
	c.srv.shed.Add(-1)
	c.nc, c.fd, c.polled = nc, int32(fd), polled
	nc.SetReadDeadline(c.deadlineTime(c.readDeadline))
	return nil
}

// closeShed closes a shed connection's descriptor, whose epoll entry
// goes with it. parkMu is held.
func (c *conn) closeShed() {
	if c.fd < 0 {
		return
	}
	unix.Close(int(c.fd))
	c.fd = -1
	c.polled = false
	c.srv.shed.Add(-1)
}

// shedLocalAddr is the shed socket's own address. parkMu is held.
func (c *conn) shedLocalAddr() netip.Addr {
	if c.fd < 0 {
		return netip.Addr{}
	}
	sa, err := unix.Getsockname(int(c.fd))
	if err != nil {
		return netip.Addr{}
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(a.Addr)
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(a.Addr).Unmap()
	}
	return netip.Addr{}
}

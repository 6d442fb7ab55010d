//go:build unix

package tcp

import (
	"errors"
	"syscall"
)

// rawSockets says that connections use their sockets directly: flushers
// write them with writev, and idle readers wait without a read buffer.
const rawSockets = true

// waitReadable blocks until the socket has data, the read deadline passes
// or the connection fails, without holding a read buffer.
func (c *conn) waitReadable() error {
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return errors.New("not a socket")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var peek [1]byte
	var rerr error
	err = raw.Read(func(fd uintptr) bool {
		_, _, rerr = syscall.Recvfrom(int(fd), peek[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return rerr != syscall.EAGAIN // data, end of stream, or an error: reading will tell
	})
	return err
}

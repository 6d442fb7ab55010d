//go:build !linux

package tcp

import (
	"errors"
	"time"
)

// poller parks idle connections on Linux. Elsewhere there is none, and an
// idle connection keeps its reader goroutine waiting on the socket.
type poller struct{}

func newPoller() (*poller, error) { return nil, errors.New("no poller on this system") }

func (p *poller) watch(c *conn) bool         { return false }
func (p *poller) forget(c *conn)             {}
func (p *poller) wakeAt(*conn, time.Time)    {}
func (p *poller) noWake(*conn)               {}
func (p *poller) soon(*conn, time.Time) bool { return false }
func (p *poller) close()                     {}
func (p *poller) count() int                 { return 0 }

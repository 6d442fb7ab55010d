//go:build !linux

package tcp

import (
	"net/netip"
)

// Connections shed Go's socket only where they park, on Linux (see
// shed_linux.go); elsewhere these are never reached with a shed one.

func (c *conn) shed()                     {}
func (c *conn) unshed() error             { return nil }
func (c *conn) closeShed()                {}
func (c *conn) shedLocalAddr() netip.Addr { return netip.Addr{} }

//go:build !unix

package tcp

import "time"

// rawSockets is false off Unix: every connection is written by a writer
// goroutine, and an idle reader keeps its buffer while it waits.
const rawSockets = false

// waitReadable is not called without raw sockets.
func (c *conn) waitReadable() error { return nil }

// flusher writes for many connections at once on Unix; elsewhere there are
// none, and connections have no flusher.
type flusher struct{}

func newFlusher(time.Duration) *flusher { return nil }
func (f *flusher) add(*conn)            {}
func (f *flusher) close()               {}

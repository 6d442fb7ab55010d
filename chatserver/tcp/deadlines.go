package tcp

import (
	"container/heap"
	"sync"
	"time"
)

// deadlines wakes parked connections when their read deadlines pass, with
// one timer for all of them: the connections wait in a heap ordered by
// deadline, and the timer is set for the earliest. A connection in the
// heap costs a slot in it, not a timer of its own.
//
// A wakeup may come late for a connection that has meanwhile been moved
// or removed; the connection checks its own deadline when woken.
type deadlines struct {
	epoch time.Time   // deadlines are kept as durations since then
	wake  func(*conn) // called, without the lock held, for each due connection

	mu    sync.Mutex
	q     deadlineHeap
	timer *time.Timer   // made by the first set
	at    time.Duration // when the timer fires; valid while armed
	armed bool
}

func newDeadlines(wake func(*conn)) *deadlines {
	return &deadlines{epoch: time.Now(), wake: wake}
}

// set puts c in the heap for time t, or moves it there.
func (d *deadlines) set(c *conn, t time.Time) {
	at := t.Sub(d.epoch)
	d.mu.Lock()
	defer d.mu.Unlock()
	c.wakeAt = at
	if c.wakeIdx > 0 {
		heap.Fix(&d.q, int(c.wakeIdx-1))
	} else {
		heap.Push(&d.q, c)
	}
	d.arm()
}

// soon moves c's wakeup forward to t, if c is in the heap for later. It
// reports whether c is in the heap.
func (d *deadlines) soon(c *conn, t time.Time) bool {
	at := t.Sub(d.epoch)
	d.mu.Lock()
	defer d.mu.Unlock()
	if c.wakeIdx == 0 {
		return false
	}
	if at < c.wakeAt {
		c.wakeAt = at
		heap.Fix(&d.q, int(c.wakeIdx-1))
		d.arm()
	}
	return true
}

// remove takes c out of the heap, if it is there.
func (d *deadlines) remove(c *conn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c.wakeIdx > 0 {
		heap.Remove(&d.q, int(c.wakeIdx-1))
		d.arm()
	}
}

// arm sets the timer for the earliest deadline, or stops it if none is
// left. The timer is moved only when the earliest deadline changed.
func (d *deadlines) arm() {
	if len(d.q) == 0 {
		if d.armed {
			d.timer.Stop()
			d.armed = false
		}
		return
	}
	next := d.q[0].wakeAt
	if d.armed && d.at == next {
		return
	}
	wait := next - time.Since(d.epoch)
	if d.timer == nil {
		d.timer = time.AfterFunc(wait, d.fire)
	} else {
		d.timer.Reset(wait)
	}
	d.at, d.armed = next, true
}

// fire wakes every connection whose deadline has passed and sets the
// timer for the next.
func (d *deadlines) fire() {
	d.mu.Lock()
	d.armed = false
	due := d.popDue(time.Since(d.epoch))
	d.arm()
	d.mu.Unlock()
	for _, c := range due {
		d.wake(c)
	}
}

// popDue takes out the connections due by now, earliest first.
func (d *deadlines) popDue(now time.Duration) []*conn {
	var due []*conn
	for len(d.q) > 0 && d.q[0].wakeAt <= now {
		due = append(due, heap.Pop(&d.q).(*conn))
	}
	return due
}

// stop stops the timer; connections still in the heap are not woken.
func (d *deadlines) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.armed {
		d.timer.Stop()
		d.armed = false
	}
	for _, c := range d.q {
		c.wakeIdx = 0
	}
	d.q = nil
}

// deadlineHeap is a min-heap of connections by wakeAt; each connection's
// wakeIdx is its index plus one, zero when it is not in the heap.
type deadlineHeap []*conn

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].wakeAt < h[j].wakeAt }
func (h deadlineHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].wakeIdx = int32(i + 1)
	h[j].wakeIdx = int32(j + 1)
}

func (h *deadlineHeap) Push(x any) {
	c := x.(*conn)
	c.wakeIdx = int32(len(*h) + 1)
	*h = append(*h, c)
}

func (h *deadlineHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	c.wakeIdx = 0
	return c
}

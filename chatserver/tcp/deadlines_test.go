package tcp

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// The heap against a map of what each connection waits for, through
// random sets, moves and removals.
func TestDeadlinesHeapAgainstAModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	d := newDeadlines(func(*conn) { t.Error("the timer fired") })
	defer d.stop()
	far := time.Hour // beyond the test, so that only popDue takes
	conns := make([]*conn, 50)
	for i := range conns {
		conns[i] = &conn{id: uint64(i + 1)}
	}
	model := map[*conn]time.Duration{}
	now := time.Duration(0)
	for step := range 5000 {
		c := conns[rng.IntN(len(conns))]
		switch rng.IntN(5) {
		case 4:
			at := far + now + time.Duration(rng.IntN(1000))*time.Millisecond
			_, in := model[c]
			if got := d.soon(c, d.epoch.Add(at)); got != in {
				t.Fatalf("step %d: soon says %v for a connection in the heap: %v", step, got, in)
			}
			if in && at < model[c] {
				model[c] = at
			}
		case 0, 1:
			at := far + now + time.Duration(rng.IntN(1000))*time.Millisecond
			d.set(c, d.epoch.Add(at))
			model[c] = at
		case 2:
			d.remove(c)
			delete(model, c)
		case 3:
			now += time.Duration(rng.IntN(300)) * time.Millisecond
			d.mu.Lock()
			due := d.popDue(far + now) // as the timer does
			d.arm()
			d.mu.Unlock()
			var want []*conn
			for c, at := range model {
				if at <= far+now {
					want = append(want, c)
					delete(model, c)
				}
			}
			if len(due) != len(want) {
				t.Fatalf("step %d: %d due, want %d", step, len(due), len(want))
			}
			if !slices.IsSortedFunc(due, func(a, b *conn) int { return int(a.wakeAt - b.wakeAt) }) {
				t.Fatalf("step %d: not earliest first", step)
			}
			for _, c := range want {
				if !slices.Contains(due, c) {
					t.Fatalf("step %d: conn %d was due", step, c.id)
				}
			}
		}
		if err := checkDeadlines(d, model); err != "" {
			t.Fatalf("step %d: %s", step, err)
		}
	}
	for c := range model {
		if c.wakeIdx == 0 {
			t.Fatalf("conn %d lost its place", c.id)
		}
	}
}

// checkDeadlines compares the heap with the model and checks its order
// and its timer.
func checkDeadlines(d *deadlines, model map[*conn]time.Duration) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.q) != len(model) {
		return fmt.Sprintf("%d in the heap, want %d", len(d.q), len(model))
	}
	for i, c := range d.q {
		if int(c.wakeIdx) != i+1 || c.wakeAt != model[c] {
			return fmt.Sprintf("conn %d at %d waits for %v, want index %d and %v", c.id, c.wakeIdx, c.wakeAt, i+1, model[c])
		}
		if i > 0 && d.q[(i-1)/2].wakeAt > c.wakeAt {
			return fmt.Sprintf("heap order broken at %d", i)
		}
	}
	if d.armed != (len(d.q) > 0) || (d.armed && d.at != d.q[0].wakeAt) {
		return fmt.Sprintf("timer armed %v for %v with %d waiting", d.armed, d.at, len(d.q))
	}
	return ""
}

// With the real timer: connections are woken once each, and a removed
// one is not woken, though it was due before the last.
func TestDeadlinesWake(t *testing.T) {
	woken := make(chan *conn, 10)
	d := newDeadlines(func(c *conn) { woken <- c })
	defer d.stop()
	a, b, gone := &conn{id: 1}, &conn{id: 2}, &conn{id: 3}
	now := time.Now()
	d.set(b, now.Add(500*time.Millisecond))
	d.set(gone, now.Add(250*time.Millisecond)) // removed long before it is due
	d.set(a, now.Add(-time.Second))            // already past
	d.remove(gone)
	var got []uint64
	for range 2 {
		select {
		case c := <-woken:
			got = append(got, c.id)
		case <-time.After(10 * time.Second):
			t.Fatalf("woken: %v", got)
		}
	}
	if !slices.Equal(got, []uint64{1, 2}) {
		t.Fatalf("woken %v, want [1 2]", got)
	}
	d.mu.Lock()
	n := len(d.q)
	d.mu.Unlock()
	if n != 0 || a.wakeIdx != 0 || b.wakeIdx != 0 {
		t.Fatalf("%d still waiting", n)
	}
	select {
	case c := <-woken:
		t.Fatalf("conn %d woken too", c.id)
	default:
	}
}

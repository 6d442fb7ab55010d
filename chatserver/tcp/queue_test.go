package tcp

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// The ring against a plain slice: frames come out in the order they went
// in, whole or from where a partial write stopped, however pushes, runs
// taken from the front and growth interleave.
func TestFrameQueueKeepsOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		var q frameQueue
		var model [][]byte
		next := 0
		for step := range 300 {
			if rng.IntN(3) > 0 {
				for range rng.IntN(20) {
					b := fmt.Appendf(nil, "frame-%d-%d", trial, next)
					next++
					q.push(b)
					model = append(model, b)
				}
			}
			run := q.front(1 + rng.IntN(40))
			if len(run) > len(model) {
				t.Fatalf("trial %d step %d: run of %d with %d queued", trial, step, len(run), len(model))
			}
			for i, b := range run {
				if !bytes.Equal(b, model[i]) {
					t.Fatalf("trial %d step %d: frame %d is %q, want %q", trial, step, i, b, model[i])
				}
			}
			// Frames pushed while the run is being written must not
			// disturb it.
			for range rng.IntN(10) {
				b := fmt.Appendf(nil, "late-%d-%d", trial, next)
				next++
				q.push(b)
				model = append(model, b)
			}
			for i, b := range run {
				if !bytes.Equal(b, model[i]) {
					t.Fatalf("trial %d step %d: frame %d of the run changed to %q", trial, step, i, b)
				}
			}
			if len(run) == 0 {
				continue
			}
			// A write takes some whole frames and maybe part of the next.
			k := rng.IntN(len(run) + 1)
			off := 0
			if k < len(run) && len(run[k]) > 1 {
				off = rng.IntN(len(run[k]))
			}
			q.done(k, off)
			model = model[k:]
			if off > 0 {
				model[0] = model[0][off:]
			}
			if int(q.n) != len(model) {
				t.Fatalf("trial %d step %d: %d queued, want %d", trial, step, q.n, len(model))
			}
			want := 0
			for _, b := range model {
				want += len(b)
			}
			if int(q.bytes) != want {
				t.Fatalf("trial %d step %d: %d bytes queued, want %d", trial, step, q.bytes, want)
			}
		}
	}
}

// Once the ring has grown to the traffic, queueing allocates nothing.
func TestFrameQueueSteadyStateAllocatesNothing(t *testing.T) {
	var q frameQueue
	frame := []byte("frame\n")
	allocs := testing.AllocsPerRun(1000, func() {
		for range 5 {
			q.push(frame)
		}
		run := q.front(3)
		q.done(len(run), 0)
		run = q.front(8)
		q.done(len(run), 0)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per round", allocs)
	}
}

// A ring grown by a burst is let go when the burst has been written; a
// small one is kept for the next frames.
func TestFrameQueueDropsABurstsRing(t *testing.T) {
	var q frameQueue
	for range 1000 {
		q.push([]byte("x"))
	}
	for q.n > 0 {
		q.done(len(q.front(256)), 0)
		q.trim()
	}
	if q.ring != nil {
		t.Errorf("an empty queue holds a ring of %d", len(q.ring))
	}
	q.push([]byte("y"))
	q.done(1, 0)
	q.trim()
	if len(q.ring) != 8 {
		t.Errorf("a small ring was not kept: %d", len(q.ring))
	}
}

// Emptying the queue of a dropped client keeps only the rest of a frame
// that a write cut short.
func TestFrameQueueKeepCut(t *testing.T) {
	var q frameQueue
	q.push([]byte("first frame\n"))
	q.push([]byte("second\n"))
	q.done(0, 6)
	q.keepCut()
	if q.n != 1 || string(q.front(8)[0]) != "frame\n" || int(q.bytes) != len("frame\n") {
		t.Fatalf("kept %d frames: %q", q.n, q.front(8))
	}
	q.done(1, 0)
	q.push([]byte("third\n"))
	q.keepCut()
	if q.n != 0 || q.bytes != 0 {
		t.Fatalf("with no cut frame, %d frames were kept", q.n)
	}
}

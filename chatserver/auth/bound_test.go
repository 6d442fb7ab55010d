package auth

import (
	"context"
	"errors"
	"runtime"
	"testing"
)

var fast = Params{Time: 1, MemoryKiB: 64, Threads: 1}

// hold takes a slot as a hash in progress does, and returns its release.
func hold(t *testing.T, h *Hasher) func() {
	t.Helper()
	if err := h.acquire(context.Background()); err != nil {
		t.Fatalf("acquire: %v", err)
	}
	return h.release
}

// waitForWaiters returns once n callers are waiting for a slot.
func waitForWaiters(h *Hasher, n int32) {
	for h.waiting.Load() != n {
		runtime.Gosched()
	}
}

func TestBusyWithNoQueue(t *testing.T) {
	h := NewHasher(fast, 1, 0)
	release := hold(t, h) // a first hash is running

	if _, err := h.Hash(context.Background(), "pw"); !errors.Is(err, ErrBusy) {
		t.Errorf("a second concurrent Hash: %v; want ErrBusy", err)
	}
	if _, err := h.Verify(context.Background(), "pw", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA"); !errors.Is(err, ErrBusy) {
		t.Errorf("a concurrent Verify: %v; want ErrBusy", err)
	}
	if w := h.waiting.Load(); w != 0 {
		t.Errorf("%d waiters left behind by refusals", w)
	}

	release()
	enc, err := h.Hash(context.Background(), "pw")
	if err != nil {
		t.Fatalf("Hash once the slot is free: %v", err)
	}
	if ok, err := h.Verify(context.Background(), "pw", enc); err != nil || !ok {
		t.Errorf("Verify once the slot is free: %v, %v", ok, err)
	}
	if n := len(h.sem); n != 0 {
		t.Errorf("%d slots still held after the hashes returned", n)
	}
}

func TestQueueWaitsThenRefuses(t *testing.T) {
	h := NewHasher(fast, 1, 1)
	release := hold(t, h)

	type result struct {
		enc string
		err error
	}
	queued := make(chan result, 1)
	go func() {
		enc, err := h.Hash(context.Background(), "pw")
		queued <- result{enc, err}
	}()
	waitForWaiters(h, 1)

	// The queue is full: the next caller is refused at once.
	if _, err := h.Hash(context.Background(), "pw"); !errors.Is(err, ErrBusy) {
		t.Errorf("Hash with the queue full: %v; want ErrBusy", err)
	}

	release()
	r := <-queued
	if r.err != nil {
		t.Fatalf("the queued Hash: %v", r.err)
	}
	if ok, err := h.Verify(context.Background(), "pw", r.enc); err != nil || !ok {
		t.Errorf("Verify of the queued hash: %v, %v", ok, err)
	}
	if w := h.waiting.Load(); w != 0 {
		t.Errorf("%d waiters left", w)
	}
}

func TestWaiterGivesUp(t *testing.T) {
	h := NewHasher(fast, 1, 1)
	release := hold(t, h)
	defer release()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := h.Hash(ctx, "pw")
		done <- err
	}()
	waitForWaiters(h, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("a waiting Hash whose context ended: %v; want context.Canceled", err)
	}
	if w := h.waiting.Load(); w != 0 {
		t.Errorf("%d waiters left", w)
	}
	if n := len(h.sem); n != 1 {
		t.Errorf("%d slots held; want only ours", n)
	}
}

func TestNewHasherDefaults(t *testing.T) {
	h := NewHasher(fast, 0, -5)
	if cap(h.sem) != runtime.NumCPU() {
		t.Errorf("parallel 0 gives %d slots; want one per CPU (%d)", cap(h.sem), runtime.NumCPU())
	}
	if h.queue != 0 {
		t.Errorf("a negative queue gives %d; want 0", h.queue)
	}
	if h := NewHasher(fast, 3, 7); cap(h.sem) != 3 || h.queue != 7 {
		t.Errorf("NewHasher(3, 7) has %d slots and a queue of %d", cap(h.sem), h.queue)
	}
}

package session

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"
)

// A Registry keeps a transport's open connections: it hands out their
// ids, counts them and the reasons others closed, lists them, and at
// shutdown says goodbye to each and waits for them to end. The TCP,
// WebSocket and IRC transports each have one. Its zero value is ready.
//
// A connection takes a place (Open, or Admit) before it is served and
// gives it back when its goroutines are done (Remove, or Cancel if it
// was never added), so that Shutdown can wait for all of them.
type Registry[C comparable] struct {
	mu      sync.Mutex
	closing bool
	nextID  uint64
	conns   map[C]struct{}
	closed  map[string]int
	wg      sync.WaitGroup
}

// Open takes a place for a connection about to be set up and returns
// its id, or false once Stop or Shutdown has been called. Each place
// taken is given back by Remove or Cancel.
func (r *Registry[C]) Open() (uint64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return 0, false
	}
	r.nextID++
	r.wg.Add(1)
	return r.nextID, true
}

// Add counts c among the open connections, in the place Open took for
// it. It returns false, adding nothing, once the registry is closing:
// the caller then closes c and calls Cancel.
func (r *Registry[C]) Add(c C) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return false
	}
	if r.conns == nil {
		r.conns = make(map[C]struct{})
	}
	r.conns[c] = struct{}{}
	return true
}

// Admit is Open and Add at once, for a connection that mk makes from
// its id (mk runs under the registry's lock, so it must not block).
func (r *Registry[C]) Admit(mk func(id uint64) C) (C, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		var zero C
		return zero, false
	}
	r.nextID++
	c := mk(r.nextID)
	if r.conns == nil {
		r.conns = make(map[C]struct{})
	}
	r.conns[c] = struct{}{}
	r.wg.Add(1)
	return c, true
}

// Cancel gives back a place that Open took for a connection that was
// never added.
func (r *Registry[C]) Cancel() { r.wg.Done() }

// Remove takes c out of the open connections and gives back its place.
func (r *Registry[C]) Remove(c C) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
	r.wg.Done()
}

// Closing says whether Stop or Shutdown has been called.
func (r *Registry[C]) Closing() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closing
}

// Conns lists the open connections.
func (r *Registry[C]) Conns() []C {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := make([]C, 0, len(r.conns))
	for c := range r.conns {
		l = append(l, c)
	}
	return l
}

// CountClose counts a connection closed for reason (none if empty). It
// is called when the decision is made, so the counts show it at once.
func (r *Registry[C]) CountClose(reason string) {
	if reason == "" {
		return
	}
	r.mu.Lock()
	if r.closed == nil {
		r.closed = make(map[string]int)
	}
	r.closed[reason]++
	r.mu.Unlock()
}

// Counts returns how many connections are open, and how many closed
// for each reason counted.
func (r *Registry[C]) Counts() (open int, closed map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	closed = make(map[string]int, len(r.closed))
	for k, n := range r.closed {
		closed[k] = n
	}
	return len(r.conns), closed
}

// Stop makes Open, Add and Admit refuse from now on, without waiting.
func (r *Registry[C]) Stop() {
	r.mu.Lock()
	r.closing = true
	r.mu.Unlock()
}

// Shutdown stops the registry, calls bye for every open connection (to
// tell its client and close it after what is queued), and waits for
// every place to be given back. If ctx ends first, it calls force for
// each connection still open, waits again, and returns ctx's error.
func (r *Registry[C]) Shutdown(ctx context.Context, bye, force func(C)) error {
	r.Stop()
	for _, c := range r.Conns() {
		bye(c)
	}
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, c := range r.Conns() {
			force(c)
		}
		<-done
		return ctx.Err()
	}
}

// ErrListenerClosed is what Accept returns when its listener was closed
// because the transport is shutting down.
var ErrListenerClosed = errors.New("listener closed")

// Accept accepts connections on ln and hands each to serve, until ln
// fails. When closing says the transport is shutting down, it returns
// ErrListenerClosed. An accept that fails for want of file descriptors
// (or any temporary reason) is retried after a wait that doubles from
// 5 ms up to a second, so that a flood of connections that takes every
// descriptor does not stop the listener: it serves again as soon as
// some close.
func Accept(ln net.Listener, log *slog.Logger, closing func() bool, serve func(net.Conn)) error {
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if closing() {
				return ErrListenerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				log.Warn("accept failed; retrying", "addr", ln.Addr().String(), "err", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		serve(nc)
	}
}

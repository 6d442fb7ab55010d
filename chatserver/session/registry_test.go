package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// flakyListener is a real TCP listener whose first accepts fail as an
// accept does when the process is out of file descriptors.
type flakyListener struct {
	net.Listener
	mu    sync.Mutex
	fails int
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.fails > 0 {
		l.fails--
		l.mu.Unlock()
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

// Out of descriptors, the listener waits and accepts again rather than
// stopping (a flood that takes every descriptor must not end the door
// for good); once the transport is closing, Accept says so.
func TestAcceptOutlivesRunningOutOfDescriptors(t *testing.T) {
	defer goleak.VerifyNone(t)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &flakyListener{Listener: inner, fails: 3}
	var reg Registry[net.Conn]
	served := make(chan net.Conn, 1)
	done := make(chan error, 1)
	go func() {
		done <- Accept(ln, slog.New(slog.DiscardHandler), reg.Closing, func(nc net.Conn) { served <- nc })
	}()
	c, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case nc := <-served:
		nc.Close()
	case err := <-done:
		t.Fatalf("Accept returned %v after running out of descriptors", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the connection was not accepted after the failures")
	}
	reg.Stop()
	inner.Close()
	if err := <-done; !errors.Is(err, ErrListenerClosed) {
		t.Fatalf("Accept after Stop: %v, want ErrListenerClosed", err)
	}
}

type fakeConn struct {
	name   string
	byes   chan string
	forced chan string
}

// Shutdown says goodbye to every open connection and waits for their
// places; one that does not end by the deadline is forced, and the
// registry refuses new ones throughout.
func TestRegistryShutdown(t *testing.T) {
	var reg Registry[*fakeConn]
	byes, forced := make(chan string, 3), make(chan string, 3)
	for i := range 3 {
		c, ok := reg.Admit(func(id uint64) *fakeConn {
			return &fakeConn{name: fmt.Sprint("c", id), byes: byes, forced: forced}
		})
		if !ok || c.name != fmt.Sprint("c", i+1) {
			t.Fatalf("Admit: %v %+v", ok, c)
		}
	}
	reg.CountClose("flood")
	reg.CountClose("")
	if open, closed := reg.Counts(); open != 3 || closed["flood"] != 1 || len(closed) != 1 {
		t.Fatalf("counts %d %v", open, closed)
	}
	// c1 and c2 end when told; c3 only when forced.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := reg.Shutdown(ctx,
		func(c *fakeConn) {
			c.byes <- c.name
			if c.name != "c3" {
				go reg.Remove(c)
			}
		},
		func(c *fakeConn) { c.forced <- c.name; go reg.Remove(c) })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want the deadline", err)
	}
	if len(byes) != 3 || len(forced) != 1 || <-forced != "c3" {
		t.Fatalf("%d goodbyes, %d forced", len(byes), len(forced))
	}
	if _, ok := reg.Open(); ok {
		t.Fatal("Open after Shutdown")
	}
	if _, ok := reg.Admit(func(uint64) *fakeConn { return &fakeConn{} }); ok {
		t.Fatal("Admit after Shutdown")
	}
	if open, _ := reg.Counts(); open != 0 {
		t.Fatalf("%d open after Shutdown", open)
	}
}

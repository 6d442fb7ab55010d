package uploads

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// A request for an upload that another holds asks the holder to let go
// only while the holder is receiving data, and otherwise waits for it.
func TestUploadLocker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newUploadLocker()
		var askedA, askedB atomic.Int32
		a, _ := l.NewLock("u")
		if err := a.Lock(context.Background(), func() { askedA.Add(1) }); err != nil {
			t.Fatal(err)
		}
		// Not receiving yet: the newcomer waits.
		b, _ := l.NewLock("u")
		got := make(chan error, 1)
		go func() { got <- b.Lock(context.Background(), func() { askedB.Add(1) }) }()
		synctest.Wait()
		if askedA.Load() != 0 {
			t.Fatal("a holder that was not receiving was asked to let go")
		}
		// Receiving, with someone waiting: asked at once.
		l.receiving("u", true)
		if askedA.Load() != 1 {
			t.Fatalf("a receiving holder with a request waiting was asked %d times", askedA.Load())
		}
		l.receiving("u", false)
		a.Unlock()
		if err := <-got; err != nil {
			t.Fatal(err)
		}

		// b holds it and receives: a newcomer asks at once, then waits.
		l.receiving("u", true)
		c, _ := l.NewLock("u")
		go func() { got <- c.Lock(context.Background(), func() {}) }()
		synctest.Wait()
		if askedB.Load() != 1 {
			t.Fatalf("a receiving holder was asked %d times", askedB.Load())
		}
		// Its last byte is in: a further request waits, and gives up
		// when its context ends.
		l.receiving("u", false)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		d, _ := l.NewLock("u")
		if err := d.Lock(ctx, func() {}); err == nil {
			t.Fatal("a lock was taken while held")
		}
		if askedB.Load() != 1 {
			t.Fatalf("a holder with all its data was asked to let go")
		}
		b.Unlock()
		if err := <-got; err != nil {
			t.Fatal(err)
		}
		c.Unlock()
		if len(l.locks) != 0 {
			t.Errorf("%d locks left", len(l.locks))
		}
	})
}

package uploads

import (
	"context"
	"sync"

	"github.com/tus/tusd/v2/pkg/handler"
)

// uploadLocker is the tus handler's locker: one request at a time per
// upload. As with tusd's memory locker, a request for an upload that
// another request holds asks the holder to let go, so that a client
// whose connection died can resume at once rather than wait for the
// dead request to time out. Unlike it, a holder is asked only while it is
// receiving data, and waited for otherwise:
//
//   - before that, tusd has not yet set up the body that an interruption
//     closes, and asking would race with it;
//   - once the last byte is in, the upload is about to be finished and
//     placed, and cutting the request off would tell its client that it
//     failed when it did not.
type uploadLocker struct {
	mu    sync.Mutex
	locks map[string]*heldLock
}

type heldLock struct {
	letGo     func() // asks the holder to let go
	receiving bool   // the holder is receiving data, and may be asked
	wanted    bool   // another request is waiting for the lock
	released  chan struct{}
}

func newUploadLocker() *uploadLocker {
	return &uploadLocker{locks: map[string]*heldLock{}}
}

// NewLock implements handler.Locker.
func (l *uploadLocker) NewLock(id string) (handler.Lock, error) {
	return &uploadLock{l: l, id: id}, nil
}

// receiving says whether the request that holds upload id's lock is
// receiving data. Only that request calls it, while it holds the lock.
func (l *uploadLocker) receiving(id string, on bool) {
	l.mu.Lock()
	h := l.locks[id]
	if h == nil {
		l.mu.Unlock()
		return
	}
	h.receiving = on
	ask := on && h.wanted
	l.mu.Unlock()
	if ask {
		h.letGo()
	}
}

type uploadLock struct {
	l  *uploadLocker
	id string
}

// Lock implements handler.Lock.
func (k *uploadLock) Lock(ctx context.Context, letGo func()) error {
	l := k.l
	for {
		l.mu.Lock()
		h := l.locks[k.id]
		if h == nil {
			l.locks[k.id] = &heldLock{letGo: letGo, released: make(chan struct{})}
			l.mu.Unlock()
			return nil
		}
		h.wanted = true
		ask := h.receiving
		l.mu.Unlock()
		if ask {
			h.letGo()
		}
		select {
		case <-h.released:
		case <-ctx.Done():
			return handler.ErrLockTimeout
		}
	}
}

// Unlock implements handler.Lock.
func (k *uploadLock) Unlock() error {
	l := k.l
	l.mu.Lock()
	h := l.locks[k.id]
	delete(l.locks, k.id)
	l.mu.Unlock()
	if h != nil {
		close(h.released)
	}
	return nil
}

package hub_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/parley-chat/parley/chatserver/hub"
	"github.com/parley-chat/parley/chatserver/store"
	"github.com/parley-chat/parley/chatserver/store/inmem"
	"github.com/parley-chat/parley/shared/protocol"
)

// held is a store whose Since calls, once hold is set, wait for release,
// counting how many are inside at once.
type held struct {
	store.Store
	hold         atomic.Bool
	inside, most atomic.Int32
	release      chan struct{}
}

func (s *held) Since(ctx context.Context, user string, convs []string, after, upto uint64, limit int) ([]store.Message, error) {
	if s.hold.Load() {
		n := s.inside.Add(1)
		for m := s.most.Load(); n > m && !s.most.CompareAndSwap(m, n); m = s.most.Load() {
		}
		<-s.release
		s.inside.Add(-1)
	}
	return s.Store.Since(ctx, user, convs, after, upto, limit)
}

// No more than Config.CatchUpReads catch-ups are read at once. With every
// read held in the store, synctest.Wait returns once each login is either
// in the store or waiting for its turn.
func TestCatchUpReadsBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &held{Store: inmem.New(), release: make(chan struct{})}
		e := newEnvWith(t, st, func(c *hub.Config) { c.CatchUpReads = 2 })
		const n = 5
		var tokens []string
		for i := range n {
			p := newPeer(t, e.hub, fmt.Sprintf("u%d", i))
			tokens = append(tokens, p.mustLogin("pw").Token)
			e.hub.Leave(p.sess)
		}
		st.hold.Store(true)
		var errcs []<-chan error
		for i := range n {
			back := newPeer(t, e.hub, fmt.Sprintf("u%d", i))
			errcs = append(errcs, loginAsync(back, &protocol.Frame{Type: protocol.TypeLogin, ID: 1,
				Name: fmt.Sprintf("u%d", i), Token: tokens[i], Resume: true}))
		}
		synctest.Wait()
		if got := st.inside.Load(); got != 2 {
			t.Errorf("%d catch-ups read at once, want 2", got)
		}
		close(st.release)
		for _, c := range errcs {
			if err := <-c; err != nil {
				t.Fatal(err)
			}
		}
		if got := st.most.Load(); got > 2 {
			t.Errorf("at most %d catch-ups read at once, want 2", got)
		}
	})
}

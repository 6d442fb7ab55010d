package hub_test

import (
	"testing"

	"github.com/parley-chat/parley/shared/protocol"
)

// A quit's reply is queued before the connection is closed.
func TestQuitRepliesBeforeClosing(t *testing.T) {
	e := newEnv(t, nil)
	alice := newPeer(t, e.hub, "alice")
	alice.mustLogin("pw")
	r := alice.do(&protocol.Frame{Type: protocol.TypeQuit})
	if r.Type != protocol.TypeOK {
		t.Errorf("quit answered %+v", r)
	}
	<-alice.closeC
	alice.mu.Lock()
	defer alice.mu.Unlock()
	if alice.closed != protocol.CodeQuit {
		t.Errorf("closed with %q, want %q", alice.closed, protocol.CodeQuit)
	}
}

package hub_test

import (
	"testing"
	"time"

	"github.com/parley-chat/parley/chatserver/hub"
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

// A quit's going offline is delivered to the others before the quitter's
// reply, however long presence events would otherwise wait to be batched.
func TestQuitAnnouncedBeforeReply(t *testing.T) {
	e := newEnvWith(t, nil, func(c *hub.Config) {
		c.PresenceWait, c.PresenceDelay = time.Hour, time.Hour
	})
	alice := newPeer(t, e.hub, "alice")
	alice.mustLogin("pw")
	bob := newPeer(t, e.hub, "bob")
	bob.mustLogin("pw")
	if r := bob.do(&protocol.Frame{Type: protocol.TypeQuit}); r.Type != protocol.TypeOK {
		t.Fatalf("quit answered %+v", r)
	}
	f, _ := alice.find(0, func(f *protocol.Frame) bool {
		return f.Type == protocol.TypePresence && f.Name == "bob" && f.Status == protocol.StatusOffline
	})
	if f == nil {
		t.Errorf("bob's quit was answered before alice heard he went offline; alice has %s", dump(alice.received()))
	}
}

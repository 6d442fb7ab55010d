package hub_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/chatserver/event"
	"github.com/parley-chat/parley/shared/protocol"
)

// offerPeer is a peer that takes offered events, unless it says it is
// behind.
type offerPeer struct {
	*peer
	mu     sync.Mutex
	behind bool
}

func (o *offerPeer) Offer(ev *event.Event) bool {
	o.mu.Lock()
	behind := o.behind
	o.mu.Unlock()
	return !behind && o.peer.Queue(ev)
}

func loginOffer(t *testing.T, e *env, name string) *offerPeer {
	t.Helper()
	o := &offerPeer{peer: newPeer(t, e.hub, name)}
	s, err := e.hub.Login(context.Background(), o, &protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: name, Password: "pw"}, o.from())
	if err != nil {
		t.Fatal(err)
	}
	o.sess = s
	return o
}

// typings returns the typing events p received before the message text.
func typings(p *peer, text string) []*protocol.Frame {
	p.t.Helper()
	p.next(isMsg(text))
	var out []*protocol.Frame
	for _, f := range p.received() {
		if f.Type == protocol.TypeTyping {
			out = append(out, f)
		}
		if f.Type == protocol.TypeMessage && f.Text == text {
			break
		}
	}
	return out
}

func TestTyping(t *testing.T) {
	e := newEnv(t, nil)
	alice, bob := loginOffer(t, e, "alice"), loginOffer(t, e, "bob")
	carol := newPeer(t, e.hub, "carol") // takes no offers: an IRC peer, say
	carol.mustLogin("pw")
	typing := func(f protocol.Frame) {
		f.Type = protocol.TypeTyping
		e.hub.Handle(alice.sess, &f)
	}

	typing(protocol.Frame{Room: "lobby"})
	typing(protocol.Frame{Room: "lobby"}) // too soon: dropped
	alice.say("lobby", "one")
	if got := typings(bob.peer, "one"); len(got) != 1 || got[0].From != "alice" || got[0].Room != "lobby" || got[0].To != "" {
		t.Fatalf("bob's typing events: %v", got)
	}
	if got := typings(alice.peer, "one"); len(got) != 0 {
		t.Errorf("alice heard her own typing: %v", got)
	}
	if got := typings(carol, "one"); len(got) != 0 {
		t.Errorf("a peer that takes no offers got %v", got)
	}

	// Later, in a private conversation, and to nowhere.
	e.clock.Add(3 * time.Second)
	typing(protocol.Frame{To: "bob"})
	typing(protocol.Frame{Room: "nowhere"})
	typing(protocol.Frame{To: "nobody"})
	typing(protocol.Frame{To: "bob", Room: "lobby"})
	alice.say("lobby", "two")
	if got := typings(bob.peer, "two"); len(got) != 2 || got[1].To != "bob" || got[1].Room != "" || got[1].From != "alice" {
		t.Fatalf("bob's typing events: %v", got)
	}

	// A peer that is behind loses the event and stays connected.
	bob.mu.Lock()
	bob.behind = true
	bob.mu.Unlock()
	e.clock.Add(3 * time.Second)
	typing(protocol.Frame{Room: "lobby"})
	alice.say("lobby", "three")
	if got := typings(bob.peer, "three"); len(got) != 2 {
		t.Errorf("bob, behind, got a typing event: %v", got)
	}
	if c := bob.closedWith(); c != "" {
		t.Errorf("bob, behind, was closed with %s", c)
	}
	// Typing is never stored: history has the messages only.
	r := bob.mustDo(&protocol.Frame{Type: protocol.TypeHistory, Room: "lobby"})
	if r.Limit != 3 {
		t.Errorf("history after typing has %d entries; want the 3 messages", r.Limit)
	}
}

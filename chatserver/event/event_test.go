package event_test

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/parley-chat/parley/chatserver/event"
	"github.com/parley-chat/parley/shared/protocol"
)

// An event is encoded once per format, however many connections queue
// it and from however many goroutines.
func TestEncodedOncePerFormat(t *testing.T) {
	ev := event.New(event.Message, &protocol.Frame{Type: protocol.TypeMessage, ID: 7, Room: "go", From: "alice", Text: "hi"})
	var calls atomic.Int32
	encode := func(e *event.Event) []byte {
		calls.Add(1)
		return []byte(":alice PRIVMSG #go :hi\r\n")
	}
	first := ev.Encoded(event.IRC, encode)
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if b := ev.Encoded(event.IRC, encode); &b[0] != &first[0] {
				t.Error("a later call encoded again")
			}
			ev.JSON()
		}()
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("encoded %d times", n)
	}
	if got, want := ev.JSON(), protocol.Encode(ev.Frame); !bytes.Equal(got, want) {
		t.Errorf("JSON = %q, want %q", got, want)
	}
}

// A batch's NDJSON is its frames' lines in order.
func TestBatchJSON(t *testing.T) {
	a := &protocol.Frame{Type: protocol.TypePresence, Name: "alice", Status: protocol.StatusOnline}
	b := &protocol.Frame{Type: protocol.TypePresence, Name: "bob", Status: protocol.StatusOffline}
	ev := &event.Event{Kind: event.Presence, Batch: []*protocol.Frame{a, b}}
	want := append(protocol.Encode(a), protocol.Encode(b)...)
	if got := ev.JSON(); !bytes.Equal(got, want) {
		t.Errorf("JSON = %q, want %q", got, want)
	}
	if fs := ev.Frames(); len(fs) != 2 || fs[0] != a || fs[1] != b {
		t.Errorf("Frames = %v", fs)
	}
}

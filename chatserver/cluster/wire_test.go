package cluster

import (
	"bytes"
	"testing"

	"github.com/parley-chat/parley/chatserver/event"
	"github.com/parley-chat/parley/shared/protocol"
)

// collect records what a batch applies.
type collect struct {
	delivered []string
	closed    []string
}

func (c *collect) deliver(s uint64, ev *event.Event) {
	c.delivered = append(c.delivered, string(rune('0'+s))+":"+ev.Kind.String()+":"+string(ev.JSON()))
}

func (c *collect) close(s uint64, code, message string) {
	c.closed = append(c.closed, string(rune('0'+s))+":"+code+":"+message)
}

func sampleBatch() []byte {
	b := newBatch(header{7, 2, 3})
	msg := event.New(event.Message, &protocol.Frame{Type: protocol.TypeMessage, ID: 41, Room: "go", From: "ann", Text: "hi"})
	pres := &event.Event{Kind: event.Presence, Batch: []*protocol.Frame{
		{Type: protocol.TypePresence, Name: "ann", Status: protocol.StatusOnline},
		{Type: protocol.TypePresence, Name: "bob", Status: protocol.StatusOffline}}}
	b.deliver(1, msg)
	b.deliver(2, msg)
	b.deliver(2, pres)
	b.close(1, protocol.CodeReplaced, "logged in elsewhere")
	return b.b
}

// A batch defines each event once however many sessions it goes to, and
// applies its records in order.
func TestBatchRoundTrip(t *testing.T) {
	b := sampleBatch()
	if n := bytes.Count(b, []byte(`"text":"hi"`)); n != 1 {
		t.Errorf("the message is in the batch %d times, want 1", n)
	}
	h, err := readHeader(b)
	if err != nil || h != (header{7, 2, 3}) {
		t.Fatalf("header = %+v, %v", h, err)
	}
	var c collect
	if err := decodeBatch(b, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.delivered) != 3 || len(c.closed) != 1 {
		t.Fatalf("applied %q and %q", c.delivered, c.closed)
	}
	if c.delivered[0][2:] != c.delivered[1][2:] || c.closed[0] != "1:replaced:logged in elsewhere" {
		t.Errorf("applied %q and %q", c.delivered, c.closed)
	}
}

func TestRequestRoundTrip(t *testing.T) {
	r := request{term: 3, op: opLogin, node: "n2", session: 99, body: []byte("{}\n"), extra: []byte("192.0.2.1")}
	got, err := decodeRequest(encodeRequest(r))
	if err != nil || got.term != 3 || got.op != opLogin || got.node != "n2" || got.session != 99 ||
		string(got.body) != "{}\n" || string(got.extra) != "192.0.2.1" {
		t.Fatalf("decoded %+v, %v", got, err)
	}
	if _, err := decodeRequest(encodeRequest(r)[:5]); err == nil {
		t.Error("a request cut short was decoded")
	}
}

// FuzzBatch feeds arbitrary bytes to the batch decoder: it must never
// panic, and every event it rebuilds must encode.
func FuzzBatch(f *testing.F) {
	f.Add(sampleBatch())
	f.Add(newBatch(header{1, 1, 0}).b)
	f.Add([]byte{1, 1, 0, recDeliver, 1, 0})
	f.Add([]byte{1, 1, 0, recEvent, byte(event.Presence), 3, '{', '}', '\n'})
	f.Fuzz(func(t *testing.T, b []byte) {
		var c collect
		decodeBatch(b, &c)
	})
}

// FuzzRequest: the request decoder never panics, and what it decodes
// encodes back to the same bytes.
func FuzzRequest(f *testing.F) {
	f.Add(encodeRequest(request{term: 3, op: opHandle, node: "n1", session: 5, body: []byte(`{"type":"ping","id":1}` + "\n")}))
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRequest(b)
		if err != nil {
			return
		}
		if again := encodeRequest(r); !bytes.Equal(again, b) {
			// Varints have one shortest form; a longer one decodes to
			// the same value, so only a decoded request's own encoding
			// must decode the same.
			r2, err := decodeRequest(again)
			if err != nil || r2.term != r.term || r2.node != r.node || r2.session != r.session || !bytes.Equal(r2.body, r.body) {
				t.Fatalf("%+v re-encoded decodes as %+v, %v", r, r2, err)
			}
		}
	})
}

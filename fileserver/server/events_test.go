package server_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/fileserver/server"
)

// A subscriber that reconnects with Last-Event-ID gets exactly what it
// missed, in order, then what is new: the same events, with the same
// ids, that a subscriber who never left was sent.
func TestEventsReplayExactly(t *testing.T) {
	ts := start(t, nil)
	live := ts.events("alice", "")
	away := ts.events("bob", "")
	var all []sseEvent
	for i := range 30 {
		p := fmt.Sprintf("f%02d.txt", i)
		resp, b := ts.do("alice", "PUT", "/files/"+p, strings.NewReader("x"))
		want(t, resp, b, 201, "")
		ev := live.waitFor("created", p)
		all = append(all, ev)
		if i == 9 {
			// bob has seen the first ten, and goes away.
			for j := range 10 {
				if got := away.next(); got.ID != all[j].ID || got.Data.Path != all[j].Data.Path {
					t.Fatalf("bob's event %d: %+v, want %+v", j, got, all[j])
				}
			}
			away.close()
		}
	}
	back := ts.events("bob", all[9].ID)
	for j := 10; j < 30; j++ {
		got := back.next()
		if got.ID != all[j].ID || got.Type != all[j].Type || got.Data.Path != all[j].Data.Path || got.Data.Entry == nil {
			t.Fatalf("replayed event %d: %+v, want %+v", j, got, all[j])
		}
	}
	resp, b := ts.do("alice", "PUT", "/files/after.txt", strings.NewReader("x"))
	want(t, resp, b, 201, "")
	if got := back.next(); got.Data.Path != "after.txt" {
		t.Fatalf("after the replay: %+v, want after.txt", got)
	}
}

// One person may have MaxStreams event streams open; more is 429 with
// a clear message, and closing one makes room.
func TestEventStreamsPerPerson(t *testing.T) {
	ts := start(t, func(c *server.Config) { c.MaxStreams = 2 })
	a1 := ts.events("alice", "")
	ts.events("Alice", "")
	// (A stream let in would never end: only the status is read.)
	req, _ := http.NewRequest("GET", ts.srv.URL()+"/api/events", nil)
	req.Header.Set("Authorization", "Bearer "+token(t, "ALICE"))
	resp, err := ts.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 429 {
		resp.Body.Close()
		t.Fatalf("a third stream: %d, want 429", resp.StatusCode)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want(t, resp, b, 429, "too_many_streams")
	if !strings.Contains(string(b), "2 event streams open") {
		t.Errorf("429 message %s", b)
	}
	// Others are not held up.
	ts.events("bob", "")
	// The server notices a closed stream when its connection ends; wait
	// for that, then alice has room again.
	a1.close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequest("GET", ts.srv.URL()+"/api/events", nil)
		req.Header.Set("Authorization", "Bearer "+token(t, "alice"))
		resp, err := ts.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 200 {
			break
		}
		if resp.StatusCode != 429 || time.Now().After(deadline) {
			t.Fatalf("after closing a stream: %d", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

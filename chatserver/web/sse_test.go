package web_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/chromedp/chromedp"
)

// The web client's decoder of the file server's event stream
// (resources/web/sse.js) runs in the browser; these tests load it there.

type sseEvent struct {
	Type string  `json:"type"`
	Data string  `json:"data"`
	ID   *string `json:"id"`
}

// sseResult is what decoding gives: the events and the last id.
type sseResult struct {
	Events []sseEvent `json:"events"`
	LastID *string    `json:"lastId"`
}

// sseTab is a tab on a page of the web client's origin, where sse.js
// can be imported.
func sseTab(t testing.TB) context.Context {
	ts := httptest.NewServer(handler())
	t.Cleanup(ts.Close)
	ctx := tab(t, 800, 600)
	rctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	if err := chromedp.Do(rctx, chromedp.Navigate(ts.URL+"/")); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// decode decodes the chunks, one push each, in the browser.
func decode(t testing.TB, ctx context.Context, chunks ...string) sseResult {
	t.Helper()
	b, _ := json.Marshal(chunks)
	return eval[sseResult](t, ctx, `(async () => {
		const { SSEDecoder } = await import('/sse.js');
		const d = new SSEDecoder();
		const events = [];
		for (const c of `+string(b)+`) events.push(...d.push(c));
		return { events: events.map(e => ({ type: e.type, data: e.data, id: e.id ?? null })), lastId: d.lastId ?? null };
	})()`)
}

func ptr(s string) *string { return &s }

func TestSSEDecoder(t *testing.T) {
	ctx := sseTab(t)
	for _, tc := range []struct {
		name   string
		chunks []string
		want   sseResult
	}{
		{"the file server's events", []string{"id: lq3k0x-17\nevent: created\ndata: {\"path\":\"a.pdf\"}\n\n"},
			sseResult{[]sseEvent{{"created", `{"path":"a.pdf"}`, ptr("lq3k0x-17")}}, ptr("lq3k0x-17")}},
		{"comments and keep-alives", []string{": keep-alive\n\n", "data: x\n\n"},
			sseResult{[]sseEvent{{"message", "x", nil}}, nil}},
		{"several data lines", []string{"data: one\ndata:two\ndata\n\n"},
			sseResult{[]sseEvent{{"message", "one\ntwo\n", nil}}, nil}},
		{"no data, no event", []string{"event: created\n\n", "id: 5\n\n"},
			sseResult{nil, ptr("5")}},
		{"unfinished event", []string{"data: half"},
			sseResult{nil, nil}},
		{"CRLF split between chunks", []string{"data: a\r", "\n\r", "\n"},
			sseResult{[]sseEvent{{"message", "a", nil}}, nil}},
		{"lone CRs", []string{"data: a\rdata: b\r\r"},
			sseResult{[]sseEvent{{"message", "a\nb", nil}}, nil}},
		{"chunks split anywhere", []string{"ev", "ent: rem", "oved\nda", "ta: {}", "\n", "\n"},
			sseResult{[]sseEvent{{"removed", "{}", nil}}, nil}},
		{"an id with NUL is ignored", []string{"id: a\x00b\ndata: x\n\n"},
			sseResult{[]sseEvent{{"message", "x", nil}}, nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := decode(t, ctx, tc.chunks...)
			if !reflect.DeepEqual(got, tc.want) && !(len(got.Events) == 0 && len(tc.want.Events) == 0 && reflect.DeepEqual(got.LastID, tc.want.LastID)) {
				gb, _ := json.Marshal(got)
				wb, _ := json.Marshal(tc.want)
				t.Fatalf("got %s\nwant %s", gb, wb)
			}
		})
	}
}

// FuzzSSEDecoder checks that however a stream is cut into chunks, the
// decoder gives the same events as from the stream in one piece.
func FuzzSSEDecoder(f *testing.F) {
	f.Add("id: 1\nevent: created\ndata: {}\n\n", []byte{3, 9, 1})
	f.Add("data: a\r\n\r\ndata: b\r\r", []byte{7, 1, 1})
	f.Add(": c\ndata:x\ndata\n\nid\n\n", []byte{0, 2, 5})
	ctx := sseTab(f)
	f.Fuzz(func(t *testing.T, stream string, cuts []byte) {
		runes := []rune(stream)
		var chunks []string
		at := 0
		for _, c := range cuts {
			n := int(c) % (len(runes) - at + 1)
			chunks = append(chunks, string(runes[at:at+n]))
			at += n
		}
		chunks = append(chunks, string(runes[at:]))
		whole := decode(t, ctx, string(runes))
		cut := decode(t, ctx, chunks...)
		if !reflect.DeepEqual(whole, cut) {
			wb, _ := json.Marshal(whole)
			cb, _ := json.Marshal(cut)
			t.Fatalf("chunks %q:\n%s\nwhole:\n%s", chunks, cb, wb)
		}
	})
}

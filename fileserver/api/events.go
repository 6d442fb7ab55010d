package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/parley-chat/parley/fileserver/auth"
	"github.com/parley-chat/parley/fileserver/httperr"
	"github.com/parley-chat/parley/fileserver/watch"
	"github.com/parley-chat/parley/shared/protocol"
)

// events streams the folder's changes as server-sent events:
//
//	id: EPOCH-SEQ
//	event: created
//	data: {"id":"…","type":"created","path":"a.txt","entry":{…}}
//
// A client that reconnects with Last-Event-ID (or ?last_event_id=) gets
// the events it missed, or a "reset" event if they are no longer kept,
// after which it should list the folder again. A reader too slow to keep
// up is disconnected and resumes the same way.
func (a *api) events(w http.ResponseWriter, r *http.Request) {
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("last_event_id")
	}
	key := streamKey(r)
	if !a.openStream(key) {
		httperr.WriteError(w, httperr.New(http.StatusTooManyRequests, httperr.CodeTooManyStreams,
			"you have %d event streams open, the most one person may; close one (one client needs only one)", a.cfg.MaxStreams))
		return
	}
	defer a.closeStream(key)
	sub, err := a.w.Subscribe(last)
	if err != nil {
		httperr.WriteError(w, httperr.New(http.StatusServiceUnavailable, httperr.CodeUnavailable, "the server is shutting down"))
		return
	}
	defer sub.Close()
	rc := http.NewResponseController(w)
	// The stream has no body to read, and may last as long as the client
	// wants it to.
	rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	send := func(frames ...[]byte) bool {
		rc.SetWriteDeadline(time.Now().Add(a.cfg.Stall))
		for _, f := range frames {
			if _, err := w.Write(f); err != nil {
				return false
			}
		}
		return rc.Flush() == nil
	}
	if !send(greeting) {
		return
	}
	heartbeat := time.NewTicker(a.cfg.Heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-sub.Ready():
			// The frames are the watcher's, shared with every
			// subscriber; they are written as they are.
			frames, err := sub.Read(64 << 10)
			if err != nil {
				if errors.Is(err, watch.ErrSlow) {
					a.log.Info("event stream reader too slow; disconnected", "remote", r.RemoteAddr)
				}
				return
			}
			if len(frames) > 0 && !send(frames...) {
				return
			}
		case <-sub.Done():
			return
		case <-heartbeat.C:
			if !send(keepalive) {
				return
			}
		case <-r.Context().Done():
			return
		}
	}
}

var (
	greeting  = []byte("retry: 2000\n: watching the shared folder\n\n")
	keepalive = []byte(": keepalive\n\n")
)

// EncodeEvent is an event as a server-sent event: the watcher encodes
// each event with it once, for every subscriber.
func EncodeEvent(ev watch.Event) []byte {
	data, _ := json.Marshal(ev)
	var b bytes.Buffer
	b.Grow(len(data) + len(ev.ID) + len(ev.Type) + 24)
	b.WriteString("id: ")
	b.WriteString(ev.ID)
	b.WriteString("\nevent: ")
	b.WriteString(ev.Type)
	b.WriteString("\ndata: ")
	b.Write(data) // JSON has no raw newlines
	b.WriteString("\n\n")
	return b.Bytes()
}

// streamKey is who an event stream counts against: the token's user, or
// without a token, the client's address.
func streamKey(r *http.Request) string {
	if u := auth.User(r.Context()); u != "" {
		if n, err := protocol.ParseName(u); err == nil {
			return "user:" + n.Key
		}
		return "user:" + u
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "addr:" + host
}

// openStream counts a new stream for key, unless key has as many open as
// it may.
func (a *api) openStream(key string) bool {
	a.smu.Lock()
	defer a.smu.Unlock()
	if a.cfg.MaxStreams > 0 && a.streams[key] >= a.cfg.MaxStreams {
		return false
	}
	a.streams[key]++
	return true
}

func (a *api) closeStream(key string) {
	a.smu.Lock()
	defer a.smu.Unlock()
	if a.streams[key]--; a.streams[key] <= 0 {
		delete(a.streams, key)
	}
}

package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/parley-chat/parley/fileserver/httperr"
	"github.com/parley-chat/parley/fileserver/watch"
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

	var buf bytes.Buffer
	send := func() bool {
		rc.SetWriteDeadline(time.Now().Add(a.cfg.Stall))
		_, err := w.Write(buf.Bytes())
		buf.Reset()
		return err == nil && rc.Flush() == nil
	}
	buf.WriteString("retry: 2000\n: watching the shared folder\n\n")
	if !send() {
		return
	}
	heartbeat := time.NewTicker(a.cfg.Heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case ev, ok := <-sub.C():
			if !ok {
				if errors.Is(sub.Err(), watch.ErrSlow) {
					a.log.Info("event stream reader too slow; disconnected", "remote", r.RemoteAddr)
				}
				return
			}
			writeEvent(&buf, ev)
			// Send what else is ready in the same write.
			for more := true; more && buf.Len() < 64<<10; {
				select {
				case ev, ok := <-sub.C():
					if !ok {
						more = false
						break
					}
					writeEvent(&buf, ev)
				default:
					more = false
				}
			}
			if !send() {
				return
			}
		case <-heartbeat.C:
			buf.WriteString(": keepalive\n\n")
			if !send() {
				return
			}
		case <-r.Context().Done():
			return
		}
	}
}

func writeEvent(buf *bytes.Buffer, ev watch.Event) {
	data, _ := json.Marshal(ev)
	buf.WriteString("id: ")
	buf.WriteString(ev.ID)
	buf.WriteString("\nevent: ")
	buf.WriteString(ev.Type)
	buf.WriteString("\ndata: ")
	buf.Write(data) // JSON has no raw newlines
	buf.WriteString("\n\n")
}

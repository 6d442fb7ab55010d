package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-chat/parley/fileserver/server"
	"github.com/parley-chat/parley/shared/filetoken"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var secret = []byte("test-secret-0123456789abcdef")

// tserver is a file server started the way the command starts one, on a
// loopback port, with its folders in a temporary directory.
type tserver struct {
	t      *testing.T
	srv    *server.Server
	dir    string
	state  string
	client *http.Client
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func start(t *testing.T, edit func(*server.Config)) *tserver {
	t.Helper()
	base := t.TempDir()
	cfg := server.Config{
		Addr:      "127.0.0.1:0",
		Dir:       filepath.Join(base, "files"),
		State:     filepath.Join(base, "state"),
		Secret:    secret,
		Settle:    50 * time.Millisecond,
		Heartbeat: time.Hour,
		Logger:    slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&cfg)
	}
	srv, err := server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := &tserver{t: t, srv: srv, dir: srv.Folder().Dir(), state: srv.Folder().StateDir(),
		client: &http.Client{Transport: &http.Transport{}}}
	t.Cleanup(func() { ts.stop() })
	return ts
}

func (ts *tserver) stop() {
	if ts.srv == nil {
		return
	}
	ts.client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		ts.t.Errorf("shutdown: %v", err)
	}
	ts.srv = nil
}

func token(t *testing.T, user string) string {
	t.Helper()
	tok, _, err := filetoken.Issue(secret, user, time.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// do sends a request as user ("" for none) and returns the response with
// its body read.
func (ts *tserver) do(user, method, path string, body io.Reader, hdr ...string) (*http.Response, []byte) {
	ts.t.Helper()
	req, err := http.NewRequest(method, ts.srv.URL()+path, body)
	if err != nil {
		ts.t.Fatal(err)
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+token(ts.t, user))
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, b
}

// want checks a response's status and, for errors, that the body is a
// JSON error with the given code.
func want(t *testing.T, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d; body %s", resp.Request.Method, resp.Request.URL.EscapedPath(), resp.StatusCode, status, body)
	}
	if code == "" {
		return
	}
	var e struct{ Code, Message string }
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body is not JSON: %q", body)
	}
	if e.Code != code || e.Message == "" {
		t.Fatalf("error %+v, want code %q with a message", e, code)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type %q", ct)
	}
}

type entry struct {
	Name, Path, Uploader, SHA256 string
	Size                         int64
	Dir                          bool
	Mtime                        time.Time
}

func (ts *tserver) list(user, sub string) []entry {
	ts.t.Helper()
	q := ""
	if sub != "" {
		q = "?path=" + sub
	}
	resp, b := ts.do(user, "GET", "/api/files"+q, nil)
	want(ts.t, resp, b, 200, "")
	var l struct {
		Path    string
		Entries []entry
	}
	if err := json.Unmarshal(b, &l); err != nil {
		ts.t.Fatalf("listing: %v: %s", err, b)
	}
	return l.Entries
}

func names(es []entry) string {
	var s []string
	for _, e := range es {
		s = append(s, e.Name)
	}
	return strings.Join(s, ",")
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// payload returns n bytes that differ from position to position.
func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// raw sends bytes on a fresh TCP connection and returns the status line
// and the rest of the reply; with keepOpen false it stops writing and
// reads the reply.
func (ts *tserver) raw(request string) (int, string) {
	ts.t.Helper()
	c, err := net.Dial("tcp", ts.srv.Addr())
	if err != nil {
		ts.t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		ts.t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		ts.t.Fatalf("reading reply to %q: %v", firstLine(request), err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\r\n")
	return l
}

// cut sends the head of a request and part of its body on a TCP
// connection, then closes it, as a client whose network failed would.
// It waits for the server to have read what was sent: the server's
// reply to the next request on the same upload proves it.
func (ts *tserver) cut(head string, body []byte) {
	ts.t.Helper()
	c, err := net.Dial("tcp", ts.srv.Addr())
	if err != nil {
		ts.t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, head); err != nil {
		ts.t.Fatal(err)
	}
	if _, err := c.Write(body); err != nil {
		ts.t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	// The server sees the body end early and answers or closes.
	io.Copy(io.Discard, c)
	c.Close()
}

func (ts *tserver) writeFile(rel string, data []byte) {
	ts.t.Helper()
	p := filepath.Join(ts.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		ts.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		ts.t.Fatal(err)
	}
}

func hdrs(kv ...string) string {
	var b bytes.Buffer
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", kv[i], kv[i+1])
	}
	return b.String()
}

// sse is a reader of the server's event stream.
type sse struct {
	t    *testing.T
	resp *http.Response
	ch   chan sseEvent
}

type sseEvent struct {
	ID, Type string
	Data     struct {
		ID, Type, Path string
		Dir            bool
		Entry          *entry
	}
}

// events opens the event stream as user, resuming after lastID if set,
// and returns once the server has subscribed it.
func (ts *tserver) events(user, lastID string) *sse {
	ts.t.Helper()
	req, _ := http.NewRequest("GET", ts.srv.URL()+"/api/events", nil)
	req.Header.Set("Authorization", "Bearer "+token(ts.t, user))
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		ts.t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &sse{t: ts.t, resp: resp, ch: make(chan sseEvent, 100)}
	br := bufio.NewReader(resp.Body)
	// The first block is the greeting, sent after subscribing.
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			ts.t.Fatal(err)
		}
		if l == "\n" {
			break
		}
	}
	go func() {
		defer close(s.ch)
		var ev sseEvent
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			l = strings.TrimRight(l, "\n")
			switch {
			case l == "":
				if ev.Type != "" {
					s.ch <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(l, "id: "):
				ev.ID = l[4:]
			case strings.HasPrefix(l, "event: "):
				ev.Type = l[7:]
			case strings.HasPrefix(l, "data: "):
				if err := json.Unmarshal([]byte(l[6:]), &ev.Data); err != nil {
					s.t.Errorf("event data %q: %v", l, err)
				}
			}
		}
	}()
	ts.t.Cleanup(s.close)
	return s
}

func (s *sse) close() { s.resp.Body.Close() }

// next returns the next event. The time limit is a safety net against a
// hang, not a measurement.
func (s *sse) next() sseEvent {
	s.t.Helper()
	select {
	case ev, ok := <-s.ch:
		if !ok {
			s.t.Fatal("event stream ended")
		}
		return ev
	case <-time.After(30 * time.Second):
		s.t.Fatal("no event")
	}
	return sseEvent{}
}

// waitFor returns the first event of type typ for path p.
func (s *sse) waitFor(typ, p string) sseEvent {
	s.t.Helper()
	for {
		ev := s.next()
		if ev.Type == typ && ev.Data.Path == p {
			return ev
		}
	}
}

// drop writes a file into the folder by hand and waits until the server
// has announced it.
func (ts *tserver) drop(rel string, data []byte) {
	ts.t.Helper()
	s := ts.events("watcher", "")
	defer s.close()
	ts.writeFile(rel, data)
	s.waitFor("created", rel)
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// startAt starts a server on existing folders, as after a restart.
func startAt(t *testing.T, dir, state string) *tserver {
	t.Helper()
	return start(t, func(c *server.Config) { c.Dir, c.State = dir, state })
}

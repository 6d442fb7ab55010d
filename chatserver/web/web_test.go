package web_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/parley-chat/parley/chatserver/web"
	"github.com/parley-chat/parley/shared/protocol"
)

func handler() http.Handler {
	return web.Handler(web.Config{
		WS:       http.NotFoundHandler(),
		Metrics:  http.NotFoundHandler(),
		Alive:    func(context.Context) error { return nil },
		FilesURL: "http://{host}:7780",
	})
}

func get(t *testing.T, h http.Handler, target string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestServesClient(t *testing.T) {
	h := handler()
	for _, tc := range []struct {
		path, ctype, contains string
	}{
		{"/", "text/html", `<script type="module" src="app.js">`},
		{"/app.js", "javascript", "function connect()"},
		{"/style.css", "text/css", "prefers-color-scheme"},
		{"/emoji.json", "application/json", `"tada":"🎉"`},
		{"/stickers/cat.png", "image/png", "\x89PNG"},
	} {
		rec := get(t, h, "http://chat.lan:7701"+tc.path)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Header().Get("Content-Type"), tc.ctype) || !strings.Contains(rec.Body.String(), tc.contains) {
			t.Errorf("%s: %d %q, body holds %q: %v", tc.path, rec.Code, rec.Header().Get("Content-Type"), tc.contains, strings.Contains(rec.Body.String(), tc.contains))
		}
		if rec.Header().Get("Content-Security-Policy") == "" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: security headers missing: %v", tc.path, rec.Header())
		}
	}
	rec := get(t, h, "http://chat.lan:7701/stickers/")
	var names []string
	if err := json.Unmarshal(rec.Body.Bytes(), &names); err != nil || len(names) == 0 || names[0] != "cat" {
		t.Errorf("sticker list: %v %q", err, rec.Body.String())
	}
	for _, path := range []string{"/nope.js", "/stickers/nope.png", "/index.html/x", "/a/b"} {
		rec := get(t, h, "http://chat.lan:7701"+path)
		if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "not_found") {
			t.Errorf("%s: %d %s", path, rec.Code, rec.Body.String())
		}
	}
}

func TestCSP(t *testing.T) {
	h := handler()
	rec := get(t, h, "http://chat.lan:7701/")
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self' ws://chat.lan:7701 http://chat.lan:7780", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("CSP allows something unsafe: %q", csp)
	}

	req := httptest.NewRequest(http.MethodGet, "https://[2001:db8::1]:7701/", nil)
	req.TLS = &tls.ConnectionState{}
	if csp := web.CSP(req, "https://{host}:7780/"); !strings.Contains(csp, "connect-src 'self' wss://[2001:db8::1]:7701 https://[2001:db8::1]:7780;") {
		t.Errorf("CSP over TLS and IPv6: %q", csp)
	}
	if csp := web.CSP(req, "javascript:alert(1)"); !strings.Contains(csp, "connect-src 'self' wss://[2001:db8::1]:7701;") {
		t.Errorf("CSP with a files URL that is not http: %q", csp)
	}
}

// The cluster's nodes' /ws are allowed, ws:// or wss:// as their HTTP
// doors are http:// or https://; a node without a usable HTTP URL adds
// nothing.
func TestCSPNodes(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "http://chat-a.lan:7701/", nil)
	csp := web.CSP(req, "", protocol.Node{TCP: "chat-a.lan:7700", HTTP: "http://chat-a.lan:7701"},
		protocol.Node{HTTP: "https://chat-b.lan:7701/"}, protocol.Node{TCP: "chat-c.lan:7700"},
		protocol.Node{HTTP: "javascript:alert(1)"}, protocol.Node{HTTP: "http://x.lan;script-src *"})
	if !strings.Contains(csp, "connect-src 'self' ws://chat-a.lan:7701 wss://chat-b.lan:7701;") {
		t.Errorf("CSP with nodes: %q", csp)
	}
	h := web.Handler(web.Config{
		WS: http.NotFoundHandler(), Metrics: http.NotFoundHandler(), Alive: func(context.Context) error { return nil },
		Nodes: func() []protocol.Node { return []protocol.Node{{HTTP: "http://chat-b.lan:7701"}} },
	})
	rec := get(t, h, "http://chat-a.lan:7701/")
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self' ws://chat-a.lan:7701 ws://chat-b.lan:7701;") {
		t.Errorf("served CSP with nodes: %q", csp)
	}
}

// FuzzCSPNodes checks that no node URL can add a directive, or a source
// other than a WebSocket origin, to the policy.
func FuzzCSPNodes(f *testing.F) {
	f.Add("http://chat-b.lan:7701")
	f.Add("https://[::1]:7701/ws?x")
	f.Add("http://x.lan;script-src *")
	f.Add("http://a b'")
	f.Fuzz(func(t *testing.T, nodeURL string) {
		req := httptest.NewRequest(http.MethodGet, "http://chat-a.lan:7701/", nil)
		csp := web.CSP(req, "", protocol.Node{HTTP: nodeURL})
		parts := strings.Split(csp, "; ")
		if len(parts) != 9 {
			t.Fatalf("%d directives: %q", len(parts), csp)
		}
		for _, p := range parts {
			if !strings.HasPrefix(p, "connect-src ") {
				continue
			}
			srcs := strings.Fields(p)[1:]
			if len(srcs) > 3 {
				t.Fatalf("sources %q", srcs)
			}
			for _, src := range srcs[min(2, len(srcs)):] {
				if strings.ContainsAny(src, "';,*") || !(strings.HasPrefix(src, "ws://") || strings.HasPrefix(src, "wss://")) {
					t.Fatalf("source %q in %q", src, csp)
				}
			}
		}
	})
}

// FuzzCSP checks that no Host header and no files URL can add a
// directive or a source other than their own host to the policy.
func FuzzCSP(f *testing.F) {
	f.Add("chat.lan:7701", "http://{host}:7780")
	f.Add("chat.lan:7701;script-src *", "http://{host}:7780")
	f.Add("chat.lan", "http://files.lan:7780 'unsafe-inline'; script-src *")
	f.Add("[::1]:7701", "https://{host}:7780/x?y")
	f.Fuzz(func(t *testing.T, host, filesURL string) {
		req := httptest.NewRequest(http.MethodGet, "http://x/", nil)
		req.Host = host
		csp := web.CSP(req, filesURL)
		parts := strings.Split(csp, "; ")
		if len(parts) != 9 {
			t.Fatalf("%d directives: %q", len(parts), csp)
		}
		for _, p := range parts {
			if strings.HasPrefix(p, "connect-src ") {
				for _, src := range strings.Fields(p)[1:] {
					if src == "'self'" {
						continue
					}
					if strings.ContainsAny(src, "';,*") || !(strings.HasPrefix(src, "ws://") || strings.HasPrefix(src, "wss://") || strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://")) {
						t.Fatalf("source %q in %q", src, csp)
					}
				}
			} else if strings.Contains(p, "*") || strings.Contains(p, "unsafe") {
				t.Fatalf("directive %q", p)
			}
		}
		io.Discard.Write([]byte(csp))
	})
}

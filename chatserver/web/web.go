// Package web is the chat server's HTTP door: the web client at /, the
// chat protocol over WebSocket at /ws, a health check at /healthz, and
// the server's metrics at /metrics.
package web

import (
	"context"
	"encoding/json"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/parley-chat/parley/resources"
	"github.com/parley-chat/parley/shared/protocol"
)

// Config says what the door serves.
type Config struct {
	// WS serves the chat protocol over WebSocket.
	WS http.Handler
	// Metrics serves the metrics in Prometheus's text format.
	Metrics http.Handler
	// Alive reports whether the chat server answers: it is called for
	// each health check, and must not take long.
	Alive func(ctx context.Context) error
	// FilesURL is the file server's URL as the chat server tells it to
	// clients ("{host}" becomes the host the browser reached): the web
	// client's Content-Security-Policy lets it connect there and
	// nowhere else besides this server.
	FilesURL string
	// Nodes, if set, returns the cluster's nodes: the web client's
	// Content-Security-Policy lets it open their /ws too, to move to
	// another node when this one goes away.
	Nodes func() []protocol.Node
	// Client is the web client's files; nil means resources.Web().
	Client fs.FS
}

// Handler returns the door's routes.
func Handler(cfg Config) http.Handler {
	client := cfg.Client
	if client == nil {
		client = resources.Web()
	}
	mux := http.NewServeMux()
	mux.Handle("GET /ws", cfg.WS)
	mux.Handle("GET /metrics", cfg.Metrics)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := cfg.Alive(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	static := http.FileServerFS(client)
	stickerFS := resources.Stickers()
	stickers := http.StripPrefix("/stickers/", http.FileServerFS(stickerFS))
	mux.Handle("GET /stickers/{name}", secured(cfg.FilesURL, cfg.Nodes, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := fs.Stat(stickerFS, r.PathValue("name")); err != nil {
			notFound(w)
			return
		}
		stickers.ServeHTTP(w, r)
	})))
	mux.Handle("GET /stickers/{$}", secured(cfg.FilesURL, cfg.Nodes, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(resources.StickerNames())
	})))
	mux.Handle("GET /{$}", secured(cfg.FilesURL, cfg.Nodes, static))
	mux.Handle("GET /{file}", secured(cfg.FilesURL, cfg.Nodes, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := fs.Stat(client, r.PathValue("file")); err != nil || r.PathValue("file") == "index.html" {
			notFound(w)
			return
		}
		static.ServeHTTP(w, r)
	})))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { notFound(w) })
	return mux
}

func notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, map[string]string{"code": "not_found",
		"message": "nothing here; the web client is at /, the chat protocol at /ws (WebSocket), the health check at /healthz, metrics at /metrics"})
}

// secured adds the headers every page and file of the web client is
// served with: a Content-Security-Policy that runs only this server's
// scripts (no inline script, no eval) and connects only to this server
// and the file server, and headers that keep the page out of frames and
// its URLs out of Referer.
func secured(filesURL string, nodes func() []protocol.Node, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		var cluster []protocol.Node
		if nodes != nil {
			cluster = nodes()
		}
		hd.Set("Content-Security-Policy", CSP(r, filesURL, cluster...))
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		// The files are embedded in the binary, which has no time to
		// give them: revalidate each time, so that a new binary's
		// client is used at once.
		hd.Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

// CSP is the Content-Security-Policy for a request that reached the
// server as r.Host: scripts, styles and images from this server only
// (images also from blob: URLs, which the client makes of thumbnails
// it fetched with its token), and connections to this server (HTTP and
// WebSocket), to the file server's origin, and to the WebSocket of each
// of the cluster's nodes given.
func CSP(r *http.Request, filesURL string, nodes ...protocol.Node) string {
	connect := []string{"'self'"}
	// 'self' covers ws: and wss: to this host in CSP 3; older browsers
	// need them named. A Host that is not a plain host[:port] is left
	// to 'self', so that it cannot add sources to the policy.
	if validHost(r.Host) {
		if r.TLS != nil {
			connect = append(connect, "wss://"+r.Host)
		} else {
			connect = append(connect, "ws://"+r.Host)
		}
	}
	if o := filesOrigin(filesURL, hostOf(r)); o != "" {
		connect = append(connect, o)
	}
	for _, n := range nodes {
		if src := nodeSource(n); src != "" && !slices.Contains(connect, src) {
			connect = append(connect, src)
		}
	}
	return strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self' blob: data:",
		"connect-src " + strings.Join(connect, " "),
		"manifest-src 'self'",
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
}

// filesOrigin is the scheme, host and port of the file server's URL as
// told to a client that reached this server at host, or "" if there is
// none or it cannot be parsed.
func filesOrigin(filesURL, host string) string {
	if filesURL == "" {
		return ""
	}
	if strings.Contains(filesURL, "{host}") {
		if host == "" {
			return ""
		}
		if ip, err := netip.ParseAddr(host); err == nil && ip.Is6() && !ip.Is4In6() {
			host = "[" + host + "]"
		}
		filesURL = strings.ReplaceAll(filesURL, "{host}", host)
	}
	u, err := url.Parse(filesURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	if !validHost(u.Host) {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// nodeSource is the WebSocket origin of a node's HTTP door (ws:// for
// http://, wss:// for https://), or "" if it has none or its URL cannot
// be parsed.
func nodeSource(n protocol.Node) string {
	u, err := url.Parse(n.HTTP)
	if err != nil || u.Host == "" || !validHost(u.Host) {
		return ""
	}
	switch u.Scheme {
	case "http":
		return "ws://" + u.Host
	case "https":
		return "wss://" + u.Host
	}
	return ""
}

// validHost says whether h is a host name or address with an optional
// port, and nothing that could end a CSP source.
func validHost(h string) bool {
	if h == "" {
		return false
	}
	for _, c := range h {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-:[]", c)
		if !ok {
			return false
		}
	}
	return true
}

// hostOf is the host the client reached, without the port.
func hostOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	if len(host) > 1 && host[0] == '[' {
		host = host[1 : len(host)-1]
	}
	return host
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

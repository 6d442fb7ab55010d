package server

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/rs/cors"
)

// DefaultAllowOrigins are the web pages that may call the file server
// from a browser when no -allow-origin is given: Parley's web client as
// a chat server on the same host serves it, on its default HTTP port,
// over HTTP or HTTPS. "{host}" is the host the browser reached the file
// server by.
var DefaultAllowOrigins = []string{"http://{host}:7701", "https://{host}:7701"}

// withCORS answers the browser's cross-origin checks (preflights
// included, before any token is looked at) for the origins allowed, and
// lets their pages read the headers tus and downloads need. Requests
// carry the token in Authorization, never in a cookie, so credentials
// are not allowed.
func withCORS(allow []string, h http.Handler) http.Handler {
	if len(allow) == 0 {
		return h
	}
	c := cors.New(cors.Options{
		AllowOriginVaryRequestFunc: func(r *http.Request, origin string) (bool, []string) {
			return originAllowed(allow, r, origin), nil
		},
		AllowedMethods: []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete},
		AllowedHeaders: []string{"Authorization", "Content-Type", "Range", "If-None-Match", "If-Range", "Last-Event-ID",
			"Tus-Resumable", "Upload-Length", "Upload-Offset", "Upload-Metadata", "X-Parley-Sha256", "Repr-Digest"},
		ExposedHeaders: []string{"Location", "Upload-Offset", "Upload-Length", "Upload-Metadata", "Tus-Resumable", "Tus-Version",
			"Tus-Extension", "Tus-Max-Size", "ETag", "Repr-Digest", "Content-Length", "Content-Range", "WWW-Authenticate"},
		MaxAge: 600,
	})
	return c.Handler(h)
}

// originAllowed says whether a page at origin may call this server. An
// entry is an origin ("https://chat.example.org:7701"), one with
// "{host}" for the host the request reached this server by, or "*".
func originAllowed(allow []string, r *http.Request, origin string) bool {
	host := requestHost(r)
	for _, a := range allow {
		if a == "*" {
			return true
		}
		if strings.Contains(a, "{host}") {
			if host == "" {
				continue
			}
			a = strings.ReplaceAll(a, "{host}", host)
		}
		if strings.EqualFold(strings.TrimRight(a, "/"), origin) {
			return true
		}
	}
	return false
}

// requestHost is the host of r.Host without its port, IPv6 in brackets
// as an origin writes it.
func requestHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	host = strings.Trim(host, "[]")
	if ip, err := netip.ParseAddr(host); err == nil && ip.Is6() {
		return "[" + host + "]"
	}
	return host
}

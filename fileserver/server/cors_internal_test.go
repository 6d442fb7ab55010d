package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestCORS(t *testing.T) {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/uploads/abc")
		w.WriteHeader(http.StatusCreated)
	})
	h := withCORS(DefaultAllowOrigins, inner)
	for _, tc := range []struct {
		name, host, origin string
		allowed            bool
	}{
		{"web client on this host", "files.lan:7780", "http://files.lan:7701", true},
		{"web client over https", "192.168.1.20:7780", "https://192.168.1.20:7701", true},
		{"ipv6", "[::1]:7780", "http://[::1]:7701", true},
		{"another port", "files.lan:7780", "http://files.lan:8080", false},
		{"another host", "files.lan:7780", "http://evil.example:7701", false},
		{"a look-alike suffix", "files.lan:7780", "http://files.lan.evil.example:7701", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The preflight is answered before the route (and its
			// token check) is reached.
			req := httptest.NewRequest(http.MethodOptions, "http://"+tc.host+"/uploads/", nil)
			req.Host = tc.host
			req.Header.Set("Origin", tc.origin)
			req.Header.Set("Access-Control-Request-Method", "PATCH")
			// As browsers send it: lower case, sorted, no spaces.
			req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,tus-resumable,upload-offset")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			got := rec.Header().Get("Access-Control-Allow-Origin")
			if tc.allowed && got != tc.origin {
				t.Fatalf("preflight: Access-Control-Allow-Origin %q, want %q (status %d)", got, tc.origin, rec.Code)
			}
			if !tc.allowed && got != "" {
				t.Fatalf("preflight from %s allowed: %q", tc.origin, got)
			}
			if rec.Code == http.StatusCreated {
				t.Fatal("the preflight reached the route")
			}

			req = httptest.NewRequest(http.MethodPost, "http://"+tc.host+"/uploads/", nil)
			req.Host = tc.host
			req.Header.Set("Origin", tc.origin)
			rec = httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if tc.allowed {
				if rec.Header().Get("Access-Control-Allow-Origin") != tc.origin {
					t.Fatalf("request: no Access-Control-Allow-Origin")
				}
				if exp := rec.Header().Get("Access-Control-Expose-Headers"); exp == "" || !containsFold(exp, "Location") || !containsFold(exp, "Upload-Offset") {
					t.Fatalf("exposed headers %q", exp)
				}
				if rec.Header().Get("Access-Control-Allow-Credentials") != "" {
					t.Fatal("credentials allowed")
				}
			} else if rec.Header().Get("Access-Control-Allow-Origin") != "" {
				t.Fatal("request from a foreign origin allowed")
			}
		})
	}
}

func TestCORSNone(t *testing.T) {
	h := withCORS(nil, http.NotFoundHandler())
	req := httptest.NewRequest(http.MethodGet, "http://files.lan:7780/api/files", nil)
	req.Header.Set("Origin", "http://files.lan:7701")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("allowed with no origins configured")
	}
}

func containsFold(list, name string) bool {
	for _, f := range splitComma(list) {
		if http.CanonicalHeaderKey(f) == http.CanonicalHeaderKey(name) {
			return true
		}
	}
	return false
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			f := s[start:i]
			for len(f) > 0 && f[0] == ' ' {
				f = f[1:]
			}
			out = append(out, f)
			start = i + 1
		}
	}
	return out
}

// Package web is the chat server's HTTP door: the chat protocol over
// WebSocket at /ws, a health check at /healthz, and the server's
// metrics at /metrics.
package web

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
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
}

// Handler returns the door's routes.
func Handler(cfg Config) http.Handler {
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
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"code": "not_found",
			"message": "nothing here; the chat protocol is at /ws (WebSocket), the health check at /healthz, metrics at /metrics"})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

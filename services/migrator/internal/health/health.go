// Package health serves the migrator's contract endpoints while it runs:
// /livez (always 200), /readyz (200 once the schema is current) and /version.
package health

import (
	"encoding/json"
	"net/http"
	"sync/atomic"
)

// Version is the /version document.
type Version struct {
	SHA         string `json:"sha"`
	Service     string `json:"service"`
	BuildTS     string `json:"buildTs"`
	ImageDigest string `json:"imageDigest"`
}

// Handler serves the endpoints; SetReady flips /readyz.
type Handler struct {
	version Version
	ready   atomic.Bool
	mux     *http.ServeMux
}

// New returns a handler, not ready.
func New(v Version) *Handler {
	h := &Handler{version: v, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) { text(w, http.StatusOK, "ok") })
	h.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if h.ready.Load() {
			text(w, http.StatusOK, "ok")
			return
		}
		text(w, http.StatusServiceUnavailable, "not ready")
	})
	h.mux.HandleFunc("GET /version", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(h.version)
	})
	return h
}

// SetReady sets what /readyz answers.
func (h *Handler) SetReady(ready bool) { h.ready.Store(ready) }

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func text(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body + "\n"))
}

package health

import (
	"encoding/json"
	"net/http"
)

// Version is the /version document.
type Version struct {
	SHA         string `json:"sha"`
	Service     string `json:"service"`
	BuildTS     string `json:"buildTs"`
	ImageDigest string `json:"imageDigest"`
}

// Handler returns the contract endpoints over state. metrics serves
// /metrics; nil leaves it out.
func Handler(state *State, v Version, metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) {
		// Alive while this process answers, whatever its dependencies do.
		text(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		p, reason := state.Phase()
		if p == Ready {
			text(w, http.StatusOK, "ok")
			return
		}
		text(w, http.StatusServiceUnavailable, "not ready: "+p.String()+": "+reason)
	})
	body, _ := json.Marshal(v)
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(append(body, '\n'))
	})
	if metrics != nil {
		mux.Handle("GET /metrics", metrics)
	}
	return mux
}

func text(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body + "\n"))
}

// Command slowapp stands in for the app's API in the Compose deploy test:
// it accepts graph runs on :8080 (POST /internal/v1/graph-runs) but holds
// each request open until released, so that a test can stop the worker
// with an activity in flight. Its control port :8081 answers GET /inflight
// (how many requests it holds) and POST /release (answer them all, and
// every later one at once).
package main

import (
	"fmt"
	"log"
	"net/http"
	"sync"
	"time"
)

type app struct {
	mu       sync.Mutex
	inflight int
	released chan struct{}
	once     sync.Once
}

func main() {
	a := &app{released: make(chan struct{})}
	api := http.NewServeMux()
	api.HandleFunc("POST /internal/v1/graph-runs", a.graphRun)
	ctl := http.NewServeMux()
	ctl.HandleFunc("GET /inflight", func(w http.ResponseWriter, _ *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		fmt.Fprint(w, a.inflight)
	})
	ctl.HandleFunc("POST /release", func(w http.ResponseWriter, _ *http.Request) {
		a.once.Do(func() { close(a.released) })
		w.WriteHeader(http.StatusNoContent)
	})
	go func() {
		log.Fatal((&http.Server{Addr: ":8081", Handler: ctl, ReadHeaderTimeout: 5 * time.Second}).ListenAndServe())
	}()
	log.Fatal((&http.Server{Addr: ":8080", Handler: api, ReadHeaderTimeout: 5 * time.Second}).ListenAndServe())
}

func (a *app) graphRun(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.inflight++
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.inflight--
		a.mu.Unlock()
	}()
	select {
	case <-a.released:
	case <-r.Context().Done():
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprint(w, `{"runId":"graph-run-1"}`)
}

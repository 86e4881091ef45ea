// Package faultproxy is a loopback reverse proxy for tests that sits in
// front of a registry and, on command, answers 500, drops connections (TCP
// reset) or stalls, for the next N matching requests or for good.
package faultproxy

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
)

// Fault is what the proxy does to a matching request.
type Fault int

const (
	// Status500 answers 500 Internal Server Error.
	Status500 Fault = iota + 1
	// Drop resets the client's connection without an answer.
	Drop
	// Stall never answers; the request hangs until the client gives up or
	// the proxy closes.
	Stall
)

// String names the fault.
func (f Fault) String() string {
	switch f {
	case Status500:
		return "500"
	case Drop:
		return "drop"
	case Stall:
		return "stall"
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// Forever makes a rule persistent.
const Forever = -1

// Match selects requests; nil matches all.
type Match func(*http.Request) bool

// Request matches a method (empty: any) and a path containing part.
func Request(method, part string) Match {
	return func(r *http.Request) bool {
		return (method == "" || r.Method == method) && strings.Contains(r.URL.Path, part)
	}
}

type rule struct {
	fault Fault
	left  int
	match Match
}

// Proxy is a running fault proxy.
type Proxy struct {
	srv     *http.Server
	ln      net.Listener
	stopped chan struct{}

	mu    sync.Mutex
	rules []*rule
	log   []string
}

// New starts a proxy on 127.0.0.1 in front of targetHost ("host:port").
func New(targetHost string) (*Proxy, error) {
	target, err := url.Parse("http://" + targetHost)
	if err != nil {
		return nil, fmt.Errorf("parsing target %q: %w", targetHost, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening: %w", err)
	}
	p := &Proxy{ln: ln, stopped: make(chan struct{})}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // the registry builds upload URLs from it
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch f := p.take(r); f {
		case Status500:
			http.Error(w, `{"errors":[{"code":"UNKNOWN","message":"injected fault"}]}`, http.StatusInternalServerError)
		case Drop:
			hj, ok := w.(http.Hijacker)
			if !ok {
				panic("faultproxy: response writer cannot hijack")
			}
			conn, _, err := hj.Hijack()
			if err != nil {
				return
			}
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0) // close with RST: a connection reset
			}
			conn.Close()
		case Stall:
			select {
			case <-r.Context().Done():
			case <-p.stopped:
			}
		default:
			rp.ServeHTTP(w, r)
		}
	}), ErrorLog: log.New(io.Discard, "", 0)}
	go p.srv.Serve(ln)
	return p, nil
}

func (p *Proxy) take(r *http.Request) Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ru := range p.rules {
		if ru.left == 0 || (ru.match != nil && !ru.match(r)) {
			continue
		}
		if ru.left > 0 {
			ru.left--
		}
		p.log = append(p.log, fmt.Sprintf("%s %s %s", ru.fault, r.Method, r.URL.Path))
		return ru.fault
	}
	p.log = append(p.log, fmt.Sprintf("pass %s %s", r.Method, r.URL.Path))
	return 0
}

// Inject applies f to the next n requests that match (n == Forever: all).
// Rules are tried in the order they were added.
func (p *Proxy) Inject(f Fault, n int, match Match) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, &rule{fault: f, left: n, match: match})
}

// Clear removes every rule.
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = nil
}

// Log returns one line per request seen: "<fault|pass> METHOD PATH".
func (p *Proxy) Log() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.log...)
}

// Host returns "127.0.0.1:<port>".
func (p *Proxy) Host() string { return p.ln.Addr().String() }

// Close releases stalled requests and stops the proxy.
func (p *Proxy) Close() error {
	close(p.stopped)
	return p.srv.Close()
}

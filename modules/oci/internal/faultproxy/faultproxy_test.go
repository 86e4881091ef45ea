package faultproxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestFaults(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok "+r.Host)
	}))
	defer backend.Close()
	p, err := New(strings.TrimPrefix(backend.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// No keep-alive: net/http silently retries an idempotent request whose
	// reused connection was dropped, which would hide the fault.
	c := &http.Client{Timeout: 300 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(path string) (int, string, error) {
		resp, err := c.Get("http://" + p.Host() + path)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}

	p.Inject(Status500, 1, Request(http.MethodGet, "/a"))
	p.Inject(Drop, 1, Request("", "/b"))
	p.Inject(Stall, Forever, Request("", "/c"))

	tests := []struct {
		name     string
		path     string
		wantCode int
		wantErr  bool
	}{
		{name: "500 once", path: "/a", wantCode: 500},
		{name: "then passes", path: "/a", wantCode: 200},
		{name: "drop once", path: "/b", wantErr: true},
		{name: "then passes", path: "/b", wantCode: 200},
		{name: "stall", path: "/c", wantErr: true},
		{name: "stall forever", path: "/c", wantErr: true},
		{name: "unmatched", path: "/d", wantCode: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body, err := get(tt.path)
			if tt.wantErr != (err != nil) || code != tt.wantCode {
				t.Fatalf("GET %s = %d, %v; want code %d, error %v", tt.path, code, err, tt.wantCode, tt.wantErr)
			}
			if code == 200 && body != "ok "+p.Host() {
				t.Errorf("body %q: the Host header was not kept", body)
			}
		})
	}
	p.Clear()
	if code, _, err := get("/c"); err != nil || code != 200 {
		t.Errorf("after Clear: %d, %v", code, err)
	}
	if got := len(p.Log()); got != 8 {
		t.Errorf("Log has %d lines, want 8: %q", got, p.Log())
	}
}

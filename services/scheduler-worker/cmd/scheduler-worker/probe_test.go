package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{name: "200 is healthy", args: []string{srv.URL + "/livez"}, wantCode: 0},
		{name: "503 is unhealthy", args: []string{srv.URL + "/readyz"}, wantCode: 1, wantErr: "answered 503"},
		{name: "nothing listening", args: []string{closed.URL + "/livez"}, wantCode: 1, wantErr: "probe: "},
		{name: "no url", args: nil, wantCode: 2, wantErr: "usage: scheduler-worker probe"},
		{name: "not http", args: []string{"ftp://x/readyz"}, wantCode: 2, wantErr: "is not an http(s) URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := probe(tc.args, &stderr); code != tc.wantCode || !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("probe(%q) = %d, stderr %q; want %d and %q", tc.args, code, stderr.String(), tc.wantCode, tc.wantErr)
			}
		})
	}
}

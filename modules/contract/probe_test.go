package contract

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const goodVersion = `{"sha":"abc1234","service":"alpha","buildTs":"2026-11-27T07:00:00Z","imageDigest":"sha256:0123"}`

// serviceFake plays a service: each path answers the given status and body.
type serviceFake map[string]struct {
	status int
	body   string
}

func (f serviceFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a, ok := f[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.WriteHeader(a.status)
	_, _ = w.Write([]byte(a.body))
}

func goodService() serviceFake {
	return serviceFake{
		"/livez":   {200, "ok"},
		"/readyz":  {200, "ok"},
		"/version": {200, goodVersion},
	}
}

func with(f serviceFake, path string, status int, body string) serviceFake {
	out := serviceFake{}
	for k, v := range f {
		out[k] = v
	}
	out[path] = struct {
		status int
		body   string
	}{status, body}
	return out
}

func TestProbe(t *testing.T) {
	tests := []struct {
		name string
		svc  serviceFake
		opts []ProbeOption
		// failed lists the checks that must fail; empty means all pass.
		failed    []string
		wantErr   string
		retryable bool
		starting  bool
	}{
		{name: "good service", svc: goodService()},
		{name: "good service, expected name", svc: goodService(), opts: []ProbeOption{WithServiceName("alpha")}},
		{name: "wrong service name", svc: goodService(), opts: []ProbeOption{WithServiceName("beta")},
			failed: []string{CheckVersion}, wantErr: `probing version at URL/version: service is "alpha", want "beta"`},
		{name: "livez 404", svc: with(goodService(), "/livez", 404, ""),
			failed: []string{CheckLivez}, wantErr: "probing livez at URL/livez: status 404, want 200"},
		{name: "readyz 503 refused by default", svc: with(goodService(), "/readyz", 503, "starting"),
			failed: []string{CheckReadyz}, wantErr: "status 503, want 200", retryable: true},
		{name: "readyz 503 accepted while starting", svc: with(goodService(), "/readyz", 503, "starting"),
			opts: []ProbeOption{WithStartingAllowed()}, starting: true},
		{name: "readyz 500 still fails while starting allowed", svc: with(goodService(), "/readyz", 500, ""),
			opts: []ProbeOption{WithStartingAllowed()}, failed: []string{CheckReadyz}, wantErr: "status 500", retryable: true},
		{name: "version missing key", svc: with(goodService(), "/version", 200, `{"sha":"a","service":"alpha","buildTs":"t"}`),
			failed: []string{CheckVersion}, wantErr: `missing key "imageDigest"`},
		{name: "version extra key", svc: with(goodService(), "/version", 200, `{"sha":"a","service":"alpha","buildTs":"t","imageDigest":"","go":"1.26"}`),
			failed: []string{CheckVersion}, wantErr: `unexpected key "go"`},
		{name: "version non-string value", svc: with(goodService(), "/version", 200, `{"sha":1,"service":"alpha","buildTs":"t","imageDigest":null}`),
			failed: []string{CheckVersion}, wantErr: `key "imageDigest" is not a string; key "sha" is not a string`},
		{name: "version not JSON", svc: with(goodService(), "/version", 200, `sha=abc`),
			failed: []string{CheckVersion}, wantErr: "not a JSON object"},
		{name: "version JSON array", svc: with(goodService(), "/version", 200, `["sha"]`),
			failed: []string{CheckVersion}, wantErr: "not a JSON object"},
		{name: "everything broken", svc: serviceFake{},
			failed: []string{CheckLivez, CheckReadyz, CheckVersion}, wantErr: "probing livez at URL/livez: status 404"},
		{name: "custom paths", svc: serviceFake{"/healthz": {200, ""}, "/ready": {200, ""}, "/v": {200, goodVersion}},
			opts: []ProbeOption{ForService(Service{Name: "alpha", Health: Health{Livez: "/healthz", Readyz: "/ready", Version: "/v"}})}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.svc)
			defer srv.Close()
			r, err := Probe(t.Context(), srv.URL+"/", tc.opts...)
			if r == nil {
				t.Fatalf("Probe returned no report (err %v)", err)
			}
			var failed []string
			for _, c := range r.Checks {
				if c.Err != nil {
					failed = append(failed, c.Name)
				}
			}
			if strings.Join(failed, ",") != strings.Join(tc.failed, ",") {
				t.Errorf("failed checks = %v, want %v (err %v)", failed, tc.failed, err)
			}
			if len(r.Checks) != 3 {
				t.Errorf("ran %d checks, want 3", len(r.Checks))
			}
			if r.OK() != (len(tc.failed) == 0) || (err == nil) != r.OK() {
				t.Errorf("OK() = %v, err = %v", r.OK(), err)
			}
			if r.Starting != tc.starting {
				t.Errorf("Starting = %v, want %v", r.Starting, tc.starting)
			}
			if tc.wantErr == "" {
				if r.Version == nil || r.Version.SHA != "abc1234" || r.Version.ImageDigest != "sha256:0123" {
					t.Errorf("Version = %+v", r.Version)
				}
				return
			}
			want := strings.ReplaceAll(tc.wantErr, "URL", srv.URL)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v, want it to contain %q", err, want)
			}
			if IsRetryable(err) != tc.retryable {
				t.Errorf("IsRetryable = %v, want %v", IsRetryable(err), tc.retryable)
			}
			if errors.Is(err, ErrContractViolation) == tc.retryable {
				t.Errorf("errors.Is(err, ErrContractViolation) = %v", !tc.retryable)
			}
		})
	}
}

func TestProbeNoService(t *testing.T) {
	srv := httptest.NewServer(goodService())
	url := srv.URL
	srv.Close() // nothing listens there any more
	r, err := Probe(t.Context(), url)
	if err == nil || !IsRetryable(err) {
		t.Fatalf("err = %v, want a retryable error", err)
	}
	if len(r.Checks) != 3 || r.Checks[0].Status != 0 {
		t.Errorf("checks = %+v", r.Checks)
	}
}

func TestProbeTimeout(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := Probe(ctx, srv.URL)
	if err == nil || !IsRetryable(err) || !strings.Contains(err.Error(), "no answer") {
		t.Fatalf("err = %v, want a retryable 'no answer'", err)
	}
}

func TestProbeBadInput(t *testing.T) {
	tests := []struct {
		name, url string
		opts      []ProbeOption
		want      string
	}{
		{name: "not a URL", url: "::", want: `probing "::": not an http(s) base URL`},
		{name: "wrong scheme", url: "ftp://127.0.0.1", want: "not an http(s) base URL"},
		{name: "no host", url: "http://", want: "not an http(s) base URL"},
		{name: "nil client", url: "http://127.0.0.1:1", opts: []ProbeOption{WithHTTPClient(nil)}, want: "WithHTTPClient: nil client"},
		{name: "relative path", url: "http://127.0.0.1:1", opts: []ProbeOption{WithHealth(Health{Livez: "livez", Readyz: "/r", Version: "/v"})}, want: `path "livez" must start with /`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Probe(t.Context(), tc.url, tc.opts...)
			if r != nil || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Probe = %v, %v; want nil and %q", r, err, tc.want)
			}
		})
	}
}

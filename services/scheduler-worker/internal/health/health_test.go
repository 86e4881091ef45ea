package health_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ferry-ci/ferry/services/scheduler-worker/internal/health"
)

func TestTransitions(t *testing.T) {
	phases := []health.Phase{health.Starting, health.Ready, health.Degraded, health.Draining, health.Stopped}
	legal := map[[2]health.Phase]bool{
		{health.Starting, health.Ready}: true, {health.Starting, health.Degraded}: true, {health.Starting, health.Draining}: true,
		{health.Ready, health.Degraded}: true, {health.Ready, health.Starting}: true, {health.Ready, health.Draining}: true,
		{health.Degraded, health.Ready}: true, {health.Degraded, health.Starting}: true, {health.Degraded, health.Draining}: true,
		{health.Draining, health.Stopped}: true,
	}
	// walk reaches from from Starting along legal edges.
	walk := map[health.Phase][]health.Phase{
		health.Starting: nil,
		health.Ready:    {health.Ready},
		health.Degraded: {health.Degraded},
		health.Draining: {health.Draining},
		health.Stopped:  {health.Draining, health.Stopped},
	}
	for _, from := range phases {
		for _, to := range phases {
			name := from.String() + "->" + to.String()
			t.Run(name, func(t *testing.T) {
				s := health.NewState()
				for _, p := range walk[from] {
					if !s.Set(p, "setup") {
						t.Fatalf("setup step to %s refused", p)
					}
				}
				want := legal[[2]health.Phase{from, to}] || from == to
				if got := s.Set(to, "test"); got != want {
					t.Fatalf("Set(%s) from %s = %v, want %v", to, from, got, want)
				}
				wantPhase := from
				if want {
					wantPhase = to
				}
				if p, _ := s.Phase(); p != wantPhase {
					t.Fatalf("phase = %s, want %s", p, wantPhase)
				}
				if s.Ready() != (wantPhase == health.Ready) {
					t.Fatalf("Ready() = %v in %s", s.Ready(), wantPhase)
				}
			})
		}
	}
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

func TestEndpointsFollowTheState(t *testing.T) {
	s := health.NewState()
	v := health.Version{SHA: "abc", Service: "scheduler-worker", BuildTS: "2026-11-27T00:00:00Z", ImageDigest: "sha256:1"}
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "m 1\n") })
	h := health.Handler(s, v, metrics)

	steps := []struct {
		name      string
		to        health.Phase
		wantReady int
	}{
		{name: "starting", to: health.Starting, wantReady: 503},
		{name: "ready", to: health.Ready, wantReady: 200},
		{name: "postgres lost", to: health.Degraded, wantReady: 503},
		{name: "postgres back", to: health.Ready, wantReady: 200},
		{name: "sigterm", to: health.Draining, wantReady: 503},
		{name: "drained", to: health.Stopped, wantReady: 503},
	}
	for _, st := range steps {
		s.Set(st.to, st.name)
		if code, body := get(t, h, "/readyz"); code != st.wantReady {
			t.Fatalf("%s: /readyz = %d %q, want %d", st.name, code, body, st.wantReady)
		}
		if code, _ := get(t, h, "/livez"); code != 200 {
			t.Fatalf("%s: /livez = %d, want 200", st.name, code)
		}
	}
	if _, body := get(t, h, "/readyz"); !strings.Contains(body, "stopped: drained") {
		t.Fatalf("/readyz body %q lacks phase and reason", body)
	}
	code, body := get(t, h, "/version")
	var got map[string]string
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil {
		t.Fatalf("/version = %d %q (%v)", code, body, err)
	}
	want := map[string]string{"sha": "abc", "service": "scheduler-worker", "buildTs": "2026-11-27T00:00:00Z", "imageDigest": "sha256:1"}
	if len(got) != len(want) {
		t.Fatalf("/version = %v, want exactly %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Fatalf("/version[%s] = %q, want %q", k, got[k], w)
		}
	}
	if code, body := get(t, h, "/metrics"); code != 200 || body != "m 1\n" {
		t.Fatalf("/metrics = %d %q", code, body)
	}
}

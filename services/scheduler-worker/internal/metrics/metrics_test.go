package metrics_test

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ferry-ci/ferry/services/scheduler-worker/internal/metrics"
)

func TestMetricsExposeBuildInfoAndTemporalMetrics(t *testing.T) {
	m, err := metrics.New("abc123", "2026-11-27T00:00:00Z", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	// What the SDK does when a poll request fails.
	m.Temporal().WithTags(map[string]string{"operation": "PollActivityTaskQueue"}).Counter("temporal_request_failure").Inc(2)

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Result().Body)
	out := string(body)
	for _, want := range []string{
		`scheduler_worker_build_info{build_ts="2026-11-27T00:00:00Z",go_version="`,
		`sha="abc123"} 1`,
		`temporal_request_failure_total{operation="PollActivityTaskQueue"} 2`,
		"go_goroutines",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", out)
	}
}

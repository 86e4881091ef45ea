package appapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ci/ferry/services/scheduler-worker/internal/appapi"
)

const token = "tok-appapi-5521"

func TestStartGraphRun(t *testing.T) {
	at := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	tests := []struct {
		name          string
		status        int
		body          string
		wantErr       bool
		wantRetryable bool
		wantRunID     string
	}{
		{name: "created", status: 201, body: `{"runId":"gr-1"}`, wantRunID: "gr-1"},
		{name: "ok without JSON", status: 200, body: "fine"},
		{name: "server error", status: 503, wantErr: true, wantRetryable: true},
		{name: "rate limited", status: 429, wantErr: true, wantRetryable: true},
		{name: "same key in progress", status: 409, wantErr: true, wantRetryable: true},
		{name: "forbidden", status: 403, body: token, wantErr: true},
		{name: "bad request", status: 400, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *http.Request
			var body map[string]any
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r
				_ = json.NewDecoder(r.Body).Decode(&body)
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			c, err := appapi.New(srv.URL+"/base/", token, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.StartGraphRun(context.Background(), appapi.Request{IdempotencyKey: "sr1-abc", ScheduleID: "nightly", ScheduledAt: &at, GraphID: "g-1"})
			if got == nil {
				t.Fatal("no request reached the server")
			}
			if got.Method != http.MethodPost || got.URL.Path != "/base"+appapi.Path {
				t.Fatalf("request = %s %s, want POST /base%s", got.Method, got.URL.Path, appapi.Path)
			}
			if got.Header.Get("Authorization") != "Bearer "+token || got.Header.Get("Idempotency-Key") != "sr1-abc" {
				t.Fatalf("headers = %v", got.Header)
			}
			if body["scheduleId"] != "nightly" || body["graphId"] != "g-1" || body["scheduledAt"] != "2026-11-27T06:00:00Z" {
				t.Fatalf("body = %v", body)
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				if appapi.Retryable(err) != tt.wantRetryable {
					t.Fatalf("Retryable(%v) = %v, want %v", err, appapi.Retryable(err), tt.wantRetryable)
				}
				if strings.Contains(err.Error(), token) {
					t.Fatalf("error %q carries the token", err)
				}
				return
			}
			if resp.RunID != tt.wantRunID || resp.StatusCode != tt.status {
				t.Fatalf("response = %+v", resp)
			}
		})
	}
}

func TestTransportErrorsAreRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := appapi.New(url, token, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.StartGraphRun(context.Background(), appapi.Request{IdempotencyKey: "k"})
	if err == nil || !appapi.Retryable(err) || strings.Contains(err.Error(), token) {
		t.Fatalf("error = %v, want a retryable error without the token", err)
	}
}

func TestBadInputIsTerminal(t *testing.T) {
	c, err := appapi.New("http://127.0.0.1:1", token, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.StartGraphRun(context.Background(), appapi.Request{})
	if err == nil || appapi.Retryable(err) {
		t.Fatalf("error = %v, want a terminal error for a missing key", err)
	}
	var se *appapi.StatusError
	if errors.As(err, &se) {
		t.Fatal("bad input reported as a status")
	}
	if _, err := appapi.New("ftp://x", token, nil); err == nil {
		t.Fatal("New accepted an ftp URL")
	}
}

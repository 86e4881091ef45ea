// Package appapi calls the app's internal API to start one graph run. The
// request carries the scheduler's bearer token and the slot's
// Idempotency-Key, so the app can answer a repeated request for one slot
// with the run it already started.
package appapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Path is where graph runs are started, below the base URL.
const Path = "/internal/v1/graph-runs"

// Request is one graph run to start.
type Request struct {
	IdempotencyKey string     `json:"-"`
	ScheduleID     string     `json:"scheduleId"`
	ScheduledAt    *time.Time `json:"scheduledAt,omitempty"`
	GraphID        string     `json:"graphId"`
}

// Response is the app's answer.
type Response struct {
	StatusCode int    `json:"-"`
	RunID      string `json:"runId,omitempty"`
}

// StatusError is a non-2xx answer. It never carries the body or headers:
// the token must not travel into errors, histories or logs.
type StatusError struct {
	Code int
}

// Error implements error.
func (e *StatusError) Error() string {
	return fmt.Sprintf("app API answered %d %s", e.Code, http.StatusText(e.Code))
}

// Retryable reports whether another attempt may succeed: 5xx, 408, 429 and
// 409 (the app is still processing a request with this key).
func (e *StatusError) Retryable() bool {
	switch {
	case e.Code >= 500, e.Code == http.StatusRequestTimeout, e.Code == http.StatusTooManyRequests, e.Code == http.StatusConflict:
		return true
	}
	return false
}

// Retryable reports whether err is worth another attempt: transport errors
// and retryable statuses are; other answers and bad input are terminal.
func Retryable(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Retryable()
	}
	return !errors.Is(err, errBadRequest)
}

var errBadRequest = errors.New("bad request")

// Client calls the API.
type Client struct {
	endpoint string
	token    string
	http     *http.Client
}

// New returns a client for baseURL (http or https) sending token.
// httpClient nil means a client with a 60 s overall timeout.
func New(baseURL, token string, httpClient *http.Client) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("creating app API client: base URL must be http(s)://host[:port][/path]")
	}
	if token == "" {
		return nil, errors.New("creating app API client: empty token")
	}
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 60 * time.Second}
	}
	return &Client{endpoint: u.JoinPath(Path).String(), token: token, http: httpClient}, nil
}

// StartGraphRun POSTs r. ctx bounds the call: the worker's stop timeout
// cancels it.
func (c *Client) StartGraphRun(ctx context.Context, r Request) (Response, error) {
	if r.IdempotencyKey == "" {
		return Response{}, fmt.Errorf("starting graph run: %w: empty idempotency key", errBadRequest)
	}
	body, err := json.Marshal(r)
	if err != nil {
		return Response{}, fmt.Errorf("starting graph run: %w: %v", errBadRequest, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return Response{}, fmt.Errorf("starting graph run: %w: %v", errBadRequest, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Idempotency-Key", r.IdempotencyKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		// url.Error names the method and URL, never headers.
		return Response{}, fmt.Errorf("starting graph run: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return Response{StatusCode: resp.StatusCode}, fmt.Errorf("starting graph run: %w", &StatusError{Code: resp.StatusCode})
	}
	out := Response{StatusCode: resp.StatusCode}
	// The run ID is informational; a body that is not JSON is not an error.
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&out)
	return out, nil
}

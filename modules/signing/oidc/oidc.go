// Package oidc supplies the OIDC identity tokens keyless signing exchanges
// for a Fulcio certificate: a token given directly, or one requested from
// GitHub Actions (ACTIONS_ID_TOKEN_REQUEST_URL and
// ACTIONS_ID_TOKEN_REQUEST_TOKEN, audience "sigstore"). Tokens never appear
// in errors.
package oidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Audience is the audience Fulcio requires.
const Audience = "sigstore"

// ErrMalformedToken reports a token that is not a JWT with issuer, subject
// and expiry claims. It is terminal.
var ErrMalformedToken = errors.New("malformed identity token")

// ErrExpiredToken reports a token past its expiry.
var ErrExpiredToken = errors.New("identity token has expired")

// Claims are the token claims keyless signing cares about.
type Claims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Expiry   int64  `json:"exp"`
	Audience any    `json:"aud"`
}

// Parse checks the token's shape and returns its claims without verifying
// the signature (Fulcio does that); it catches a wrong or truncated token
// before any request is made.
func Parse(token string, now time.Time) (*Claims, error) {
	parts := strings.Split(strings.TrimSpace(token), ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("parsing identity token: %w: want 3 dot-separated parts, got %d", ErrMalformedToken, len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, fmt.Errorf("parsing identity token: %w: claims are not base64url", ErrMalformedToken)
	}
	var c Claims
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("parsing identity token: %w: claims are not JSON", ErrMalformedToken)
	}
	if c.Issuer == "" || c.Subject == "" || c.Expiry == 0 {
		return nil, fmt.Errorf("parsing identity token: %w: iss, sub and exp are required", ErrMalformedToken)
	}
	if now.Unix() >= c.Expiry {
		return nil, fmt.Errorf("parsing identity token: %w (issuer %q)", ErrExpiredToken, c.Issuer)
	}
	return &c, nil
}

// Static is a token given directly (e.g. from SIGSTORE_ID_TOKEN).
type Static string

// Token checks and returns the token.
func (s Static) Token(context.Context) (string, error) {
	if _, err := Parse(string(s), time.Now()); err != nil {
		return "", err
	}
	return string(s), nil
}

// GitHubActions requests a token from the GitHub Actions OIDC provider of
// the running job (the job needs `permissions: id-token: write`).
type GitHubActions struct {
	// RequestURL is ACTIONS_ID_TOKEN_REQUEST_URL.
	RequestURL string
	// RequestToken is ACTIONS_ID_TOKEN_REQUEST_TOKEN; a secret.
	RequestToken string
	// Client makes the request (default: a client with a 30s timeout).
	Client *http.Client
}

// ErrNotInGitHubActions reports that the GitHub OIDC variables are unset:
// not in Actions, or the job lacks `id-token: write` (fork pull requests).
var ErrNotInGitHubActions = errors.New("ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set (not in GitHub Actions, or the job lacks permissions: id-token: write)")

// GitHubActionsFromEnv reads the request URL and token from the environment.
func GitHubActionsFromEnv() (*GitHubActions, error) {
	u, t := os.Getenv("ACTIONS_ID_TOKEN_REQUEST_URL"), os.Getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	if u == "" || t == "" {
		return nil, ErrNotInGitHubActions
	}
	return &GitHubActions{RequestURL: u, RequestToken: t}, nil
}

// Token requests a fresh token with audience sigstore, retrying transient
// failures twice.
func (g *GitHubActions) Token(ctx context.Context) (string, error) {
	u, err := url.Parse(g.RequestURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", errors.New("requesting GitHub identity token: ACTIONS_ID_TOKEN_REQUEST_URL is not a URL")
	}
	q := u.Query()
	q.Set("audience", Audience)
	u.RawQuery = q.Encode()
	client := g.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return "", fmt.Errorf("requesting GitHub identity token: %w", ctx.Err())
			case <-time.After(time.Duration(attempt) * 500 * time.Millisecond):
			}
		}
		tok, retry, err := g.request(ctx, client, u.String())
		if err == nil {
			return tok, nil
		}
		lastErr = err
		if !retry {
			break
		}
	}
	return "", lastErr
}

func (g *GitHubActions) request(ctx context.Context, client *http.Client, u string) (string, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", false, fmt.Errorf("requesting GitHub identity token: %w", err)
	}
	req.Header.Set("Authorization", "bearer "+g.RequestToken)
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		// The URL may carry no secret, but keep it out anyway: only the host.
		return "", true, fmt.Errorf("requesting GitHub identity token from %s: %w", req.URL.Host, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", true, fmt.Errorf("reading GitHub identity token: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		retry := resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
		return "", retry, fmt.Errorf("requesting GitHub identity token: status %d", resp.StatusCode)
	}
	var v struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Value == "" {
		return "", false, fmt.Errorf("requesting GitHub identity token: %w: response has no value", ErrMalformedToken)
	}
	if _, err := Parse(v.Value, time.Now()); err != nil {
		return "", false, err
	}
	return v.Value, false, nil
}

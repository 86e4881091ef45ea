package oidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func jwt(t *testing.T, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc(b) + ".c2ln"
}

func validClaims() map[string]any {
	return map[string]any{"iss": "https://token.actions.githubusercontent.com", "sub": "repo:o/r:ref:refs/heads/main", "aud": "sigstore", "exp": time.Now().Add(time.Hour).Unix()}
}

func TestParse(t *testing.T) {
	expired := validClaims()
	expired["exp"] = time.Now().Add(-time.Minute).Unix()
	noSub := validClaims()
	delete(noSub, "sub")
	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"valid", jwt(t, validClaims()), nil},
		{"two parts", "abc.def", ErrMalformedToken},
		{"not base64", "a.!!!.c", ErrMalformedToken},
		{"not json", "a." + base64.RawURLEncoding.EncodeToString([]byte("nope")) + ".c", ErrMalformedToken},
		{"no subject", jwt(t, noSub), ErrMalformedToken},
		{"expired", jwt(t, expired), ErrExpiredToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Static(tc.token).Token(context.Background())
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), tc.token) {
				t.Fatalf("error leaks the token: %v", err)
			}
		})
	}
}

// TestGitHubActionsFake serves GitHub's documented token endpoint contract.
func TestGitHubActionsFake(t *testing.T) {
	tok := jwt(t, validClaims())
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.Header.Get("Authorization") != "bearer request-secret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.URL.Query().Get("audience") != Audience || r.URL.Query().Get("api-version") != "2.0" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // retried
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"value": tok})
	}))
	defer srv.Close()
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", srv.URL+"/token?api-version=2.0")
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-secret")
	g, err := GitHubActionsFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	got, err := g.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got != tok || calls.Load() != 2 {
		t.Fatalf("token %q after %d calls", got, calls.Load())
	}

	g.RequestToken = "wrong-secret"
	_, err = g.Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), "status 401") || strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("err = %v, want status 401 without the secret", err)
	}
}

func TestGitHubActionsFromEnvUnset(t *testing.T) {
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", "")
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "")
	if _, err := GitHubActionsFromEnv(); !errors.Is(err, ErrNotInGitHubActions) {
		t.Fatalf("err = %v", err)
	}
}

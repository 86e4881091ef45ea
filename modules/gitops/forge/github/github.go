// Package github is the GitHub (and GitHub Enterprise Server) forge over the
// REST API, authenticated by a token or a GitHub App installation token,
// with optional native auto-merge (GraphQL enablePullRequestAutoMerge).
package github

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ferry-ci/ferry/modules/gitops/forge"
	"github.com/ferry-ci/ferry/modules/gitops/forge/internal/restjson"
)

// BodyLimit is GitHub's maximum pull request body, in characters.
const BodyLimit = 65536

// TokenSource yields a bearer token for each request.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// StaticToken is a personal access or workflow token.
type StaticToken string

// Token returns the token.
func (t StaticToken) Token(context.Context) (string, error) { return string(t), nil }

// Client is a GitHub forge for one repository.
type Client struct {
	api       *url.URL
	owner     string
	repo      string
	tokens    TokenSource
	http      *http.Client
	autoMerge string
}

// Option configures a Client.
type Option func(*Client) error

// WithBaseURL sets the API root: https://HOST/api/v3 for GitHub Enterprise
// Server. Default https://api.github.com.
func WithBaseURL(u string) Option {
	return func(c *Client) error {
		p, err := url.Parse(strings.TrimSuffix(u, "/"))
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return fmt.Errorf("parsing base URL %q: not an http(s) URL", u)
		}
		c.api = p
		return nil
	}
}

// WithHTTPClient sets the HTTP client. Default: http.Client with a 30 s timeout.
func WithHTTPClient(h *http.Client) Option {
	return func(c *Client) error { c.http = h; return nil }
}

// WithAutoMerge enables native auto-merge on opened pull requests with the
// given method (MERGE, SQUASH or REBASE). Default: off.
func WithAutoMerge(method string) Option {
	return func(c *Client) error {
		switch method {
		case "MERGE", "SQUASH", "REBASE":
			c.autoMerge = method
			return nil
		}
		return fmt.Errorf("auto-merge method %q: want MERGE, SQUASH or REBASE", method)
	}
}

// New returns a client for owner/repo.
func New(owner, repo string, tokens TokenSource, opts ...Option) (*Client, error) {
	if owner == "" || repo == "" || tokens == nil {
		return nil, errors.New("creating GitHub client: owner, repo and a token source are required")
	}
	api, _ := url.Parse("https://api.github.com")
	c := &Client{api: api, owner: owner, repo: repo, tokens: tokens, http: &http.Client{Timeout: 30 * time.Second}}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// BodyLimit is the longest body GitHub accepts.
func (c *Client) BodyLimit() int { return BodyLimit }

type apiPull struct {
	Number         int    `json:"number"`
	NodeID         string `json:"node_id"`
	HTMLURL        string `json:"html_url"`
	State          string `json:"state"`
	Title          string `json:"title"`
	Body           string `json:"body"`
	MergedAt       string `json:"merged_at"`
	MergeCommitSHA string `json:"merge_commit_sha"`
	Head           struct {
		Ref string `json:"ref"`
		SHA string `json:"sha"`
	} `json:"head"`
	Base struct {
		Ref string `json:"ref"`
	} `json:"base"`
}

func (p apiPull) pr() *forge.PullRequest {
	st := forge.State(p.State)
	if p.MergedAt != "" {
		st = forge.Merged
	}
	return &forge.PullRequest{Number: p.Number, URL: p.HTMLURL, Head: p.Head.Ref, Base: p.Base.Ref, HeadSHA: p.Head.SHA,
		Title: p.Title, Body: p.Body, State: st, MergeSHA: p.MergeCommitSHA}
}

func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	u := *c.api
	u.Path = c.api.Path + path
	u.RawQuery = query.Encode()
	tok, err := c.tokens.Token(ctx)
	if err != nil {
		return fmt.Errorf("getting a GitHub token: %w", err)
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+tok)
	h.Set("Accept", "application/vnd.github+json")
	h.Set("X-GitHub-Api-Version", "2022-11-28")
	h.Set("User-Agent", "ferry")
	status, raw, err := restjson.Call(ctx, c.http, method, &u, h, in)
	if err != nil {
		return err
	}
	if status/100 != 2 {
		var e struct {
			Message string `json:"message"`
			Errors  []struct {
				Message string `json:"message"`
			} `json:"errors"`
		}
		_ = json.Unmarshal(raw, &e)
		se := &forge.StatusError{Method: method, URL: u.Scheme + "://" + u.Host + u.Path, StatusCode: status, Message: e.Message}
		for _, m := range e.Errors {
			if m.Message != "" {
				se.Message += ": " + m.Message
			}
			if strings.Contains(m.Message, "pull request already exists") {
				return fmt.Errorf("%w: %w", forge.ErrAlreadyExists, se)
			}
		}
		return se
	}
	return restjson.Decode(method, &u, raw, out)
}

func (c *Client) repoPath() string {
	return "/repos/" + url.PathEscape(c.owner) + "/" + url.PathEscape(c.repo)
}

// OpenPullRequest opens a pull request (and enables auto-merge if set).
func (c *Client) OpenPullRequest(ctx context.Context, n forge.NewPullRequest) (*forge.PullRequest, error) {
	var p apiPull
	in := map[string]string{"title": n.Title, "head": n.Head, "base": n.Base, "body": n.Body}
	if err := c.do(ctx, http.MethodPost, c.repoPath()+"/pulls", nil, in, &p); err != nil {
		return nil, err
	}
	if c.autoMerge != "" {
		if err := c.enableAutoMerge(ctx, p.NodeID); err != nil {
			return p.pr(), err
		}
	}
	return p.pr(), nil
}

func (c *Client) enableAutoMerge(ctx context.Context, nodeID string) error {
	// REST /api/v3 -> GraphQL /api/graphql on GHES; /graphql on github.com.
	path := "/graphql"
	if strings.HasSuffix(c.api.Path, "/api/v3") {
		u := *c.api
		u.Path = strings.TrimSuffix(u.Path, "/v3")
		ghes := *c
		ghes.api = &u
		c = &ghes
	}
	q := map[string]any{
		"query":     "mutation($id: ID!, $method: PullRequestMergeMethod!) { enablePullRequestAutoMerge(input: {pullRequestId: $id, mergeMethod: $method}) { pullRequest { number } } }",
		"variables": map[string]string{"id": nodeID, "method": c.autoMerge},
	}
	var out struct {
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := c.do(ctx, http.MethodPost, path, nil, q, &out); err != nil {
		return fmt.Errorf("enabling auto-merge: %w", err)
	}
	if len(out.Errors) > 0 {
		return fmt.Errorf("enabling auto-merge: %s", out.Errors[0].Message)
	}
	return nil
}

// FindPullRequest returns the open pull request from head into base, or nil.
func (c *Client) FindPullRequest(ctx context.Context, head, base string) (*forge.PullRequest, error) {
	var ps []apiPull
	q := url.Values{"state": {"open"}, "head": {c.owner + ":" + head}, "base": {base}}
	if err := c.do(ctx, http.MethodGet, c.repoPath()+"/pulls", q, nil, &ps); err != nil {
		return nil, err
	}
	for _, p := range ps {
		if p.Head.Ref == head && p.Base.Ref == base {
			return p.pr(), nil
		}
	}
	return nil, nil
}

// UpdatePullRequest sets the title and body of pull request number.
func (c *Client) UpdatePullRequest(ctx context.Context, number int, title, body string) (*forge.PullRequest, error) {
	var p apiPull
	if err := c.do(ctx, http.MethodPatch, c.repoPath()+"/pulls/"+strconv.Itoa(number), nil, map[string]string{"title": title, "body": body}, &p); err != nil {
		return nil, err
	}
	return p.pr(), nil
}

// List returns pull requests in a state (open, closed; empty: all), first 100.
func (c *Client) List(ctx context.Context, state forge.State) ([]forge.PullRequest, error) {
	s := string(state)
	if s == "" || state == forge.Merged {
		s = "all"
	}
	var ps []apiPull
	if err := c.do(ctx, http.MethodGet, c.repoPath()+"/pulls", url.Values{"state": {s}, "per_page": {"100"}}, nil, &ps); err != nil {
		return nil, err
	}
	out := make([]forge.PullRequest, 0, len(ps))
	for _, p := range ps {
		if pr := p.pr(); state != forge.Merged || pr.State == forge.Merged {
			out = append(out, *pr)
		}
	}
	return out, nil
}

// Merge merges pull request number with method (merge, squash or rebase),
// requiring its head to still be sha when given.
func (c *Client) Merge(ctx context.Context, number int, method, sha string) (string, error) {
	in := map[string]string{"merge_method": method}
	if sha != "" {
		in["sha"] = sha
	}
	var out struct {
		SHA    string `json:"sha"`
		Merged bool   `json:"merged"`
	}
	err := c.do(ctx, http.MethodPut, c.repoPath()+"/pulls/"+strconv.Itoa(number)+"/merge", nil, in, &out)
	var se *forge.StatusError
	if errors.As(err, &se) && (se.StatusCode == http.StatusMethodNotAllowed || se.StatusCode == http.StatusConflict) {
		return "", fmt.Errorf("merging #%d: %w: %w", number, forge.ErrNotMergeable, err)
	}
	if err != nil {
		return "", err
	}
	return out.SHA, nil
}

// Comment comments on pull request number.
func (c *Client) Comment(ctx context.Context, number int, body string) error {
	return c.do(ctx, http.MethodPost, c.repoPath()+"/issues/"+strconv.Itoa(number)+"/comments", nil, map[string]string{"body": body}, nil)
}

// AppTokenSource mints GitHub App installation tokens (a JWT signed with
// the App's RS256 key, exchanged at POST /app/installations/{id}/access_tokens)
// and caches each until a minute before it expires.
type AppTokenSource struct {
	appID          string
	installationID int64
	key            *rsa.PrivateKey
	client         *Client

	mu      sync.Mutex
	token   string
	expires time.Time
}

// NewAppTokenSource returns installation tokens for an App; baseURL as in
// WithBaseURL (empty: github.com).
func NewAppTokenSource(appID string, installationID int64, key *rsa.PrivateKey, baseURL string, h *http.Client) (*AppTokenSource, error) {
	a := &AppTokenSource{appID: appID, installationID: installationID, key: key}
	opts := []Option{}
	if baseURL != "" {
		opts = append(opts, WithBaseURL(baseURL))
	}
	if h != nil {
		opts = append(opts, WithHTTPClient(h))
	}
	c, err := New("-", "-", StaticToken(""), opts...)
	if err != nil {
		return nil, err
	}
	c.tokens = jwtSource{a}
	a.client = c
	return a, nil
}

type jwtSource struct{ a *AppTokenSource }

func (j jwtSource) Token(context.Context) (string, error) { return j.a.jwt(time.Now()) }

func (a *AppTokenSource) jwt(now time.Time) (string, error) {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))
	claims, _ := json.Marshal(map[string]any{"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(9 * time.Minute).Unix(), "iss": a.appID})
	signing := header + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, a.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("signing the App JWT: %w", err)
	}
	return signing + "." + enc.EncodeToString(sig), nil
}

// Token returns a cached or fresh installation token.
func (a *AppTokenSource) Token(ctx context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token != "" && time.Until(a.expires) > time.Minute {
		return a.token, nil
	}
	var out struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := a.client.do(ctx, http.MethodPost, "/app/installations/"+strconv.FormatInt(a.installationID, 10)+"/access_tokens", nil, struct{}{}, &out); err != nil {
		return "", fmt.Errorf("minting an installation token: %w", err)
	}
	a.token, a.expires = out.Token, out.ExpiresAt
	return a.token, nil
}

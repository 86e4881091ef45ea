// Package gitea is the Gitea and Forgejo forge over their REST API
// (/api/v1), authenticated by an access token.
package gitea

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-ci/ferry/modules/gitops/forge"
	"github.com/ferry-ci/ferry/modules/gitops/forge/internal/restjson"
)

// Client is a Gitea forge for one repository.
type Client struct {
	api   *url.URL
	owner string
	repo  string
	token string
	http  *http.Client
	limit int
}

// Option configures a Client.
type Option func(*Client) error

// WithHTTPClient sets the HTTP client. Default: http.Client with a 30 s timeout.
func WithHTTPClient(h *http.Client) Option { return func(c *Client) error { c.http = h; return nil } }

// WithBodyLimit sets the longest body written. Default 65536, as GitHub.
func WithBodyLimit(n int) Option {
	return func(c *Client) error {
		if n < 1024 {
			return fmt.Errorf("body limit %d: want at least 1024", n)
		}
		c.limit = n
		return nil
	}
}

// New returns a client for owner/repo on the server at baseURL (the web
// root, e.g. https://gitea.example.com).
func New(baseURL, owner, repo, token string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(baseURL, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("parsing Gitea URL %q: not an http(s) URL", baseURL)
	}
	if owner == "" || repo == "" || token == "" {
		return nil, errors.New("creating Gitea client: owner, repo and token are required")
	}
	u.Path += "/api/v1"
	c := &Client{api: u, owner: owner, repo: repo, token: token, http: &http.Client{Timeout: 30 * time.Second}, limit: 65536}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// BodyLimit is the longest body the client writes.
func (c *Client) BodyLimit() int { return c.limit }

type apiPull struct {
	Number         int    `json:"number"`
	HTMLURL        string `json:"html_url"`
	State          string `json:"state"`
	Title          string `json:"title"`
	Body           string `json:"body"`
	Merged         bool   `json:"merged"`
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
	if p.Merged {
		st = forge.Merged
	}
	return &forge.PullRequest{Number: p.Number, URL: p.HTMLURL, Head: p.Head.Ref, Base: p.Base.Ref, HeadSHA: p.Head.SHA,
		Title: p.Title, Body: p.Body, State: st, MergeSHA: p.MergeCommitSHA}
}

func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	u := *c.api
	u.Path += path
	u.RawQuery = query.Encode()
	h := http.Header{}
	h.Set("Authorization", "token "+c.token)
	h.Set("Accept", "application/json")
	status, raw, err := restjson.Call(ctx, c.http, method, &u, h, in)
	if err != nil {
		return err
	}
	if status/100 != 2 {
		var e struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(raw, &e)
		se := &forge.StatusError{Method: method, URL: u.Scheme + "://" + u.Host + u.Path, StatusCode: status, Message: e.Message}
		if status == http.StatusConflict || (status == http.StatusUnprocessableEntity && strings.Contains(e.Message, "already exists")) {
			return fmt.Errorf("%w: %w", forge.ErrAlreadyExists, se)
		}
		return se
	}
	return restjson.Decode(method, &u, raw, out)
}

func (c *Client) repoPath() string {
	return "/repos/" + url.PathEscape(c.owner) + "/" + url.PathEscape(c.repo)
}

// OpenPullRequest opens a pull request; an open one for the same head and
// base returns forge.ErrAlreadyExists.
func (c *Client) OpenPullRequest(ctx context.Context, n forge.NewPullRequest) (*forge.PullRequest, error) {
	var p apiPull
	in := map[string]string{"title": n.Title, "head": n.Head, "base": n.Base, "body": n.Body}
	if err := c.do(ctx, http.MethodPost, c.repoPath()+"/pulls", nil, in, &p); err != nil {
		return nil, err
	}
	return p.pr(), nil
}

// FindPullRequest returns the open pull request from head into base, or nil.
func (c *Client) FindPullRequest(ctx context.Context, head, base string) (*forge.PullRequest, error) {
	prs, err := c.List(ctx, forge.Open)
	if err != nil {
		return nil, err
	}
	for _, p := range prs {
		if p.Head == head && p.Base == base {
			return &p, nil
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

// List returns pull requests in a state (open, closed, merged; empty: all),
// reading every page.
func (c *Client) List(ctx context.Context, state forge.State) ([]forge.PullRequest, error) {
	s := string(state)
	if s == "" || state == forge.Merged {
		s = "all"
	}
	var out []forge.PullRequest
	for page := 1; page <= 100; page++ {
		var ps []apiPull
		q := url.Values{"state": {s}, "limit": {"50"}, "page": {strconv.Itoa(page)}}
		if err := c.do(ctx, http.MethodGet, c.repoPath()+"/pulls", q, nil, &ps); err != nil {
			return nil, err
		}
		for _, p := range ps {
			if pr := p.pr(); state != forge.Merged || pr.State == forge.Merged {
				out = append(out, *pr)
			}
		}
		if len(ps) < 50 {
			break
		}
	}
	return out, nil
}

// mergeAttempts bounds the waits for Gitea's background check of a pull
// request (about 15 s in all).
const mergeAttempts = 12

// Merge merges pull request number with method (merge, squash, rebase),
// requiring its head to still be sha when given.
func (c *Client) Merge(ctx context.Context, number int, method, sha string) error {
	in := map[string]any{"Do": method}
	if sha != "" {
		in["head_commit_id"] = sha
	}
	// Gitea checks a new or updated pull request in the background and
	// answers 405 "Please try again later" until it is done: wait for that
	// (bounded), never for a real refusal.
	var err error
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err = c.do(ctx, http.MethodPost, c.repoPath()+"/pulls/"+strconv.Itoa(number)+"/merge", nil, in, nil)
		var se *forge.StatusError
		if attempt == mergeAttempts || !errors.As(err, &se) || se.StatusCode != http.StatusMethodNotAllowed ||
			!strings.Contains(strings.ToLower(se.Message), "try again later") {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("merging #%d: %w", number, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
	var se *forge.StatusError
	if errors.As(err, &se) && (se.StatusCode == http.StatusMethodNotAllowed || se.StatusCode == http.StatusConflict) {
		return fmt.Errorf("merging #%d: %w: %w", number, forge.ErrNotMergeable, err)
	}
	return err
}

// Comment comments on pull request number.
func (c *Client) Comment(ctx context.Context, number int, body string) error {
	return c.do(ctx, http.MethodPost, c.repoPath()+"/issues/"+strconv.Itoa(number)+"/comments", nil, map[string]string{"body": body}, nil)
}

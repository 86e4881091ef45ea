package github

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ci/ferry/modules/gitops/forge"
)

// FakeGitHub is an httptest server that enforces the documented shapes of
// the REST endpoints the client calls (headers, methods, required fields,
// the 422 for a duplicate head, the 65536-character body limit) and answers
// with GitHub's response fields.
type FakeGitHub struct {
	t       *testing.T
	prefix  string // "" for github.com, "/api/v3" for GHES
	token   string
	appKey  *rsa.PublicKey
	mu      sync.Mutex
	pulls   []*apiPull
	comment map[int][]string
	auto    map[string]string
	srv     *httptest.Server
	faults  int
	fault   openFault
}

func newFake(t *testing.T, prefix, token string) *FakeGitHub {
	f := &FakeGitHub{t: t, prefix: prefix, token: token, comment: map[int][]string{}, auto: map[string]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// openFault makes the next POST …/pulls fail: status answers it with that
// status, drop closes the connection without an answer, dropAfter opens the
// pull request and then closes the connection (the answer is lost).
type openFault struct {
	status          int
	drop, dropAfter bool
}

// failOpens makes the next n pull-request openings fail with fault.
func (f *FakeGitHub) failOpens(n int, fault openFault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults, f.fault = n, fault
}

func hangUp(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

func (f *FakeGitHub) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/pulls") && f.faults > 0 {
		f.faults--
		switch {
		case f.fault.status != 0:
			writeJSON(w, f.fault.status, map[string]string{"message": http.StatusText(f.fault.status)})
			return
		case f.fault.drop:
			hangUp(w)
			return
		case f.fault.dropAfter:
			f.handle(httptest.NewRecorder(), r)
			hangUp(w)
			return
		}
	}
	f.handle(w, r)
}

func (f *FakeGitHub) handle(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Accept") != "application/vnd.github+json" || r.Header.Get("X-GitHub-Api-Version") != "2022-11-28" {
		writeJSON(w, 415, map[string]string{"message": "missing media type or API version"})
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, f.prefix)
	if !ok && !(f.prefix == "/api/v3" && r.URL.Path == "/api/graphql") {
		writeJSON(w, 404, map[string]string{"message": "Not Found"})
		return
	}
	auth := r.Header.Get("Authorization")
	if strings.HasPrefix(path, "/app/installations/") {
		f.installationToken(w, r, path, auth)
		return
	}
	if auth != "Bearer "+f.token {
		writeJSON(w, 401, map[string]string{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
		return
	}
	if (r.Method == "POST" || r.Method == "PATCH" || r.Method == "PUT") && r.Header.Get("Content-Type") != "application/json" {
		writeJSON(w, 415, map[string]string{"message": "Unsupported Media Type"})
		return
	}
	var in map[string]any
	if r.Body != nil && r.Method != "GET" {
		_ = json.NewDecoder(r.Body).Decode(&in)
	}
	str := func(k string) string { s, _ := in[k].(string); return s }
	validation := func(msg string) {
		writeJSON(w, 422, map[string]any{"message": "Validation Failed", "errors": []map[string]string{{"resource": "PullRequest", "code": "custom", "message": msg}}})
	}
	switch {
	case r.URL.Path == "/graphql" || r.URL.Path == "/api/graphql":
		vars, _ := in["variables"].(map[string]any)
		id, _ := vars["id"].(string)
		if !strings.Contains(str("query"), "enablePullRequestAutoMerge") || id == "" {
			writeJSON(w, 200, map[string]any{"errors": []map[string]string{{"message": "bad query"}}})
			return
		}
		f.auto[id], _ = vars["method"].(string)
		writeJSON(w, 200, map[string]any{"data": map[string]any{"enablePullRequestAutoMerge": map[string]any{"pullRequest": map[string]int{"number": 1}}}})
	case path == "/repos/acme/deployments/pulls" && r.Method == "POST":
		if str("title") == "" || str("head") == "" || str("base") == "" {
			validation("title, head and base are required")
			return
		}
		if len([]rune(str("body"))) > BodyLimit {
			validation("body is too long (maximum is 65536 characters)")
			return
		}
		for _, p := range f.pulls {
			if p.State == "open" && p.Head.Ref == str("head") && p.Base.Ref == str("base") {
				validation("A pull request already exists for acme:" + str("head") + ".")
				return
			}
		}
		p := &apiPull{Number: len(f.pulls) + 1, State: "open", Title: str("title"), Body: str("body")}
		p.NodeID = "PR_" + strconv.Itoa(p.Number)
		p.HTMLURL = fmt.Sprintf("https://github.com/acme/deployments/pull/%d", p.Number)
		p.Head.Ref, p.Head.SHA, p.Base.Ref = str("head"), strings.Repeat("a", 40), str("base")
		f.pulls = append(f.pulls, p)
		writeJSON(w, 201, p)
	case path == "/repos/acme/deployments/pulls" && r.Method == "GET":
		q := r.URL.Query()
		head := q.Get("head")
		if head != "" && !strings.HasPrefix(head, "acme:") {
			writeJSON(w, 200, []any{}) // GitHub ignores a head without the owner prefix
			return
		}
		out := []*apiPull{}
		for _, p := range f.pulls {
			state := q.Get("state")
			if (state == "" || state == "open") && p.State != "open" || state == "closed" && p.State != "closed" {
				continue
			}
			if (head == "" || p.Head.Ref == strings.TrimPrefix(head, "acme:")) && (q.Get("base") == "" || p.Base.Ref == q.Get("base")) {
				out = append(out, p)
			}
		}
		writeJSON(w, 200, out)
	case strings.HasPrefix(path, "/repos/acme/deployments/pulls/"):
		rest := strings.TrimPrefix(path, "/repos/acme/deployments/pulls/")
		num, _ := strconv.Atoi(strings.TrimSuffix(rest, "/merge"))
		if num < 1 || num > len(f.pulls) {
			writeJSON(w, 404, map[string]string{"message": "Not Found"})
			return
		}
		p := f.pulls[num-1]
		switch {
		case r.Method == "PATCH" && !strings.HasSuffix(rest, "/merge"):
			if len([]rune(str("body"))) > BodyLimit {
				validation("body is too long (maximum is 65536 characters)")
				return
			}
			p.Title, p.Body = str("title"), str("body")
			writeJSON(w, 200, p)
		case r.Method == "PUT" && strings.HasSuffix(rest, "/merge"):
			if p.State != "open" {
				writeJSON(w, 405, map[string]string{"message": "Pull Request is not mergeable"})
				return
			}
			if sha := str("sha"); sha != "" && sha != p.Head.SHA {
				writeJSON(w, 409, map[string]string{"message": "Head branch was modified. Review and try the merge again."})
				return
			}
			p.State, p.MergedAt, p.MergeCommitSHA = "closed", time.Now().UTC().Format(time.RFC3339), strings.Repeat("m", 40)
			writeJSON(w, 200, map[string]any{"sha": p.MergeCommitSHA, "merged": true, "message": "Pull Request successfully merged"})
		default:
			writeJSON(w, 404, map[string]string{"message": "Not Found"})
		}
	case strings.HasPrefix(path, "/repos/acme/deployments/issues/") && strings.HasSuffix(path, "/comments") && r.Method == "POST":
		num, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(path, "/repos/acme/deployments/issues/"), "/comments"))
		if str("body") == "" {
			validation("body is required")
			return
		}
		f.comment[num] = append(f.comment[num], str("body"))
		writeJSON(w, 201, map[string]any{"id": 1, "body": str("body")})
	case strings.HasPrefix(path, "/repos/acme/private/"):
		writeJSON(w, 403, map[string]string{"message": "Resource not accessible by integration"})
	default:
		writeJSON(w, 404, map[string]string{"message": "Not Found"})
	}
}

// installationToken checks the App JWT (RS256 signature, iss, exp - iat at
// most 10 minutes) before answering with a token.
func (f *FakeGitHub) installationToken(w http.ResponseWriter, r *http.Request, path, auth string) {
	jwt, ok := strings.CutPrefix(auth, "Bearer ")
	parts := strings.Split(jwt, ".")
	if r.Method != "POST" || !strings.HasSuffix(path, "/access_tokens") || !ok || len(parts) != 3 || f.appKey == nil {
		writeJSON(w, 401, map[string]string{"message": "A JSON web token could not be decoded"})
		return
	}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(f.appKey, crypto.SHA256, sum[:], sig) != nil {
		writeJSON(w, 401, map[string]string{"message": "'Issued at' claim or signature invalid"})
		return
	}
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		Iat, Exp int64
		Iss      string
	}
	_ = json.Unmarshal(raw, &c)
	if c.Iss != "12345" || c.Exp-c.Iat > 600 {
		writeJSON(w, 401, map[string]string{"message": "bad claims"})
		return
	}
	writeJSON(w, 201, map[string]any{"token": f.token, "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
}

func TestClientAgainstFakeGitHub(t *testing.T) {
	for _, prefix := range []string{"", "/api/v3"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			f := newFake(t, prefix, "ghs_token")
			c, err := New("acme", "deployments", StaticToken("ghs_token"), WithBaseURL(f.srv.URL+prefix), WithAutoMerge("SQUASH"))
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			if pr, err := c.FindPullRequest(ctx, "promote/staging/api", "main"); err != nil || pr != nil {
				t.Fatalf("Find before open: %v %v", pr, err)
			}
			pr, err := c.OpenPullRequest(ctx, forge.NewPullRequest{Head: "promote/staging/api", Base: "main", Title: "Promote api", Body: "b"})
			if err != nil || pr.Number != 1 || pr.State != forge.Open || pr.URL != "https://github.com/acme/deployments/pull/1" {
				t.Fatalf("Open: %+v %v", pr, err)
			}
			if f.auto["PR_1"] != "SQUASH" {
				t.Fatalf("auto-merge not enabled: %v", f.auto)
			}
			if _, err := c.OpenPullRequest(ctx, forge.NewPullRequest{Head: "promote/staging/api", Base: "main", Title: "again"}); !errors.Is(err, forge.ErrAlreadyExists) {
				t.Fatalf("duplicate Open: %v", err)
			}
			found, err := c.FindPullRequest(ctx, "promote/staging/api", "main")
			if err != nil || found == nil || found.Number != 1 {
				t.Fatalf("Find: %+v %v", found, err)
			}
			upd, err := c.UpdatePullRequest(ctx, 1, "Promote api", "new body")
			if err != nil || upd.Body != "new body" {
				t.Fatalf("Update: %+v %v", upd, err)
			}
			if err := c.Comment(ctx, 1, "superseded"); err != nil || len(f.comment[1]) != 1 {
				t.Fatalf("Comment: %v", err)
			}
			if _, err := c.Merge(ctx, 1, "squash", "bad"); !errors.Is(err, forge.ErrNotMergeable) {
				t.Fatalf("Merge with a stale sha: %v", err)
			}
			sha, err := c.Merge(ctx, 1, "squash", strings.Repeat("a", 40))
			if err != nil || sha == "" {
				t.Fatalf("Merge: %v", err)
			}
			merged, err := c.List(ctx, forge.Merged)
			if err != nil || len(merged) != 1 || merged[0].MergeSHA != sha {
				t.Fatalf("List merged: %+v %v", merged, err)
			}
			if _, err := c.UpdatePullRequest(ctx, 1, "t", strings.Repeat("x", BodyLimit+1)); !errors.Is(err, forge.ErrUnprocessable) {
				t.Fatalf("oversized body: %v", err)
			}
		})
	}
}

func TestClientErrorsFakeGitHub(t *testing.T) {
	f := newFake(t, "", "right")
	tests := []struct {
		name  string
		repo  string
		token string
		want  error
		text  string
	}{
		{name: "401 bad token", repo: "deployments", token: "wrong", want: forge.ErrUnauthorized, text: "401 Unauthorized: Bad credentials"},
		{name: "403 no permission", repo: "private", token: "right", want: forge.ErrForbidden, text: "403 Forbidden: Resource not accessible by integration"},
		{name: "404 unknown", repo: "nope", token: "right", want: forge.ErrNotFound, text: "404 Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := New("acme", tt.repo, StaticToken(tt.token), WithBaseURL(f.srv.URL))
			_, err := c.OpenPullRequest(t.Context(), forge.NewPullRequest{Head: "h", Base: "main", Title: "t"})
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("got %v, want %v (%s)", err, tt.want, tt.text)
			}
			if strings.Contains(err.Error(), tt.token) {
				t.Fatal("error leaks the token")
			}
		})
	}
}

func TestAppInstallationTokenFakeGitHub(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := newFake(t, "/api/v3", "ghs_installation")
	f.appKey = &key.PublicKey
	src, err := NewAppTokenSource("12345", 99, key, f.srv.URL+"/api/v3", nil)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := New("acme", "deployments", src, WithBaseURL(f.srv.URL+"/api/v3"))
	if _, err := c.OpenPullRequest(t.Context(), forge.NewPullRequest{Head: "h", Base: "main", Title: "t"}); err != nil {
		t.Fatalf("Open with an App token: %v", err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	bad, _ := NewAppTokenSource("12345", 99, other, f.srv.URL+"/api/v3", nil)
	if _, err := bad.Token(t.Context()); !errors.Is(err, forge.ErrUnauthorized) {
		t.Fatalf("token with a wrong key: %v", err)
	}
}

package native

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-ci/ferry/modules/oci"
	"github.com/ferry-ci/ferry/modules/pipeline"
)

// fakeGitHub is GitHub's pull request REST contract for one repository,
// under /api/v3 as on GitHub Enterprise Server, requiring one token.
type fakeGitHub struct {
	token string
	mu    sync.Mutex
	pulls []map[string]any
}

func (f *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/v3/repos/acme/deployments/pulls":
		out := []map[string]any{}
		for _, p := range f.pulls {
			head := p["head"].(map[string]any)["ref"].(string)
			if h := r.URL.Query().Get("head"); h != "" && h != "acme:"+head {
				continue
			}
			out = append(out, p)
		}
		_ = json.NewEncoder(w).Encode(out)
	case r.Method == http.MethodPost && r.URL.Path == "/api/v3/repos/acme/deployments/pulls":
		var in struct{ Title, Body, Head, Base string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		n := len(f.pulls) + 1
		p := map[string]any{"number": n, "node_id": "PR_" + in.Head, "html_url": "https://ghes.example/acme/deployments/pull/" + strconv.Itoa(n),
			"state": "open", "title": in.Title, "body": in.Body, "head": map[string]any{"ref": in.Head, "sha": ""}, "base": map[string]any{"ref": in.Base}}
		f.pulls = append(f.pulls, p)
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(p)
	default:
		http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
	}
}

// gitServer serves the bare repositories under dir over smart HTTP with
// git http-backend, pushes allowed.
func gitServer(t *testing.T, dir string) string {
	t.Helper()
	backend, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(backend, "--exec-path").Output()
	if err != nil {
		t.Fatal(err)
	}
	h := &cgi.Handler{Path: filepath.Join(strings.TrimSpace(string(out)), "git-http-backend"),
		Env: []string{"GIT_PROJECT_ROOT=" + dir, "GIT_HTTP_EXPORT_ALL=1", "REMOTE_USER=ferry", "GIT_CONFIG_COUNT=1",
			"GIT_CONFIG_KEY_0=http.receivepack", "GIT_CONFIG_VALUE_0=true"}}
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}

// TestGitHubForgeFake wires --deployments (an HTTPS-style remote, here
// git over HTTP on loopback) with --forge github and --forge-url (a GitHub
// Enterprise Server web root) and promotes through the runner: the branch
// lands in the repository and the pull request is opened with the token
// from GITHUB_TOKEN at the server's /api/v3. A wrong token is refused
// before anything else happens.
func TestGitHubForgeFake(t *testing.T) {
	const token = "github-token-value"
	root := filepath.Join("..", "..", "..")
	repos := t.TempDir()
	bare := filepath.Join(repos, "acme", "deployments.git")
	if err := os.MkdirAll(filepath.Dir(bare), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := seedDeployments(root, bare, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	gh := &fakeGitHub{token: token}
	api := httptest.NewServer(gh)
	t.Cleanup(api.Close)
	reg := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	host := strings.TrimPrefix(reg.URL, "http://")
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv(PasswordEnv, "")
	cfgFor := func(tok string) Config {
		cfg := Config{Root: root, State: t.TempDir(), Registry: host + "/ferry",
			Deployments: gitServer(t, repos) + "/acme/deployments.git", Forge: ForgeGitHub, ForgeURL: api.URL,
			Getenv: func(k string) string { return map[string]string{GitHubTokenEnv: tok}[k] }}
		if err := cfg.validate(); err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	ctx := context.Background()

	_, err := open(ctx, cfgFor("wrong-token"))
	if err == nil || !strings.Contains(err.Error(), "checking the github forge for acme/deployments") ||
		pipeline.Classify(err) != pipeline.Terminal || strings.Contains(err.Error(), "wrong-token") {
		t.Fatalf("open with a wrong token = %v, want a terminal forge error without the token", err)
	}

	r, err := open(ctx, cfgFor(token))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	svc, err := r.service("migrator")
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.ParseReference(host + "/ferry/" + svc.Image + ":t")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	ref, err := oci.ParsePinned(host + "/ferry/" + svc.Image + "@" + d.String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.signer.Sign(ctx, ref); err != nil {
		t.Fatal(err)
	}
	p, err := (&GitOpsPromoter{Promoter: r.promoter}).PromotePR(ctx, "staging", pipeline.Target{Service: svc, Name: svc.Name}, ref)
	if err != nil {
		t.Fatal(err)
	}
	if p.Action != "created" || p.PullRequest == nil || p.PullRequest.Branch != "promote/staging/migrator" {
		t.Fatalf("promotion = %+v, want a created pull request", p)
	}
	gh.mu.Lock()
	pulls := gh.pulls
	gh.mu.Unlock()
	if len(pulls) != 1 || !strings.Contains(pulls[0]["body"].(string), d.String()) {
		t.Fatalf("GitHub pull requests = %v, want one naming %s", pulls, d)
	}
	out, err := exec.Command("git", "--git-dir", bare, "show", "promote/staging/migrator:deployments/overlays/staging/kustomization.yaml").CombinedOutput()
	if err != nil || !strings.Contains(string(out), d.String()) {
		t.Fatalf("the promotion branch in the repository: %v\n%s", err, out)
	}
}

package nativetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Gitea is a real Gitea server on loopback with an admin user "bot" and
// its API token.
type Gitea struct {
	// URL is the web root, http://127.0.0.1:PORT.
	URL string
	// Token is bot's access token (repository, issue and user scopes).
	Token string
}

const nobody = 65534

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// StartGitea runs the pinned Gitea (.ci/tools.sh gitea) with SQLite in a
// temporary folder. Gitea refuses to run as root: as root, it runs as
// nobody from a folder nobody owns.
func StartGitea(t testing.TB) *Gitea {
	t.Helper()
	bin := Tool(t, "gitea")
	real, err := filepath.EvalSymlinks(bin)
	if err != nil {
		t.Fatal(err)
	}
	work, err := os.MkdirTemp("", "ferry-gitea-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	toolDir := filepath.Dir(real)
	b, err := os.ReadFile(real)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "gitea"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	real = filepath.Join(work, "gitea")
	for _, d := range []string{"options", "templates"} {
		if err := os.CopyFS(filepath.Join(work, d), os.DirFS(filepath.Join(toolDir, d))); err != nil {
			t.Fatalf("copying gitea %s: %v", d, err)
		}
	}
	addr := freeAddr(t)
	_, port, _ := strings.Cut(addr, ":")
	url := "http://" + addr
	ini := fmt.Sprintf(`APP_NAME = ferry-test
RUN_MODE = prod
WORK_PATH = %[1]s
[database]
DB_TYPE = sqlite3
PATH = %[1]s/data/gitea.db
[repository]
ROOT = %[1]s/repos
[server]
HTTP_ADDR = 127.0.0.1
HTTP_PORT = %[2]s
ROOT_URL = %[3]s/
OFFLINE_MODE = true
DISABLE_SSH = true
START_SSH_SERVER = false
LFS_START_SERVER = false
APP_DATA_PATH = %[1]s/data
[security]
INSTALL_LOCK = true
SECRET_KEY = %[4]s
INTERNAL_TOKEN = %[5]s
[oauth2]
ENABLED = false
[service]
DISABLE_REGISTRATION = true
[mailer]
ENABLED = false
[session]
PROVIDER = memory
[cache]
ADAPTER = memory
[indexer]
ISSUE_INDEXER_TYPE = db
[log]
MODE = console
LEVEL = warn
`, work, port, url, randHex(16), randHex(32))
	conf := filepath.Join(work, "app.ini")
	if err := os.WriteFile(conf, []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chmod(work, 0o755); err != nil {
			t.Fatal(err)
		}
		_ = filepath.WalkDir(work, func(p string, _ fs.DirEntry, _ error) error { return os.Lchown(p, nobody, nobody) })
	}
	command := func(ctx context.Context, args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, real, append(args, "--config", conf, "--work-path", work)...)
		cmd.Dir = work
		cmd.Env = []string{"HOME=" + work, "USER=nobody", "GITEA_WORK_DIR=" + work, "PATH=" + os.Getenv("PATH")}
		if os.Geteuid() == 0 {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		}
		return cmd
	}
	var logs bytes.Buffer
	web := command(context.Background(), "web")
	web.Stdout, web.Stderr = &logs, &logs
	if err := web.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = web.Process.Signal(syscall.SIGTERM)
		_ = web.Wait()
	})
	deadline := time.Now().Add(120 * time.Second)
	for {
		resp, err := http.Get(url + "/api/v1/version")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("gitea did not start:\n%s", logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	password := randHex(12) + "Aa1!"
	out, err := command(context.Background(), "admin", "user", "create", "--username", "bot", "--email", "bot@ferry.invalid",
		"--password", password, "--admin", "--must-change-password=false").CombinedOutput()
	if err != nil {
		t.Fatalf("gitea admin user create: %v\n%s", err, out)
	}
	g := &Gitea{URL: url}
	var tok struct {
		SHA1 string `json:"sha1"`
	}
	g.call(t, "POST", "/api/v1/users/bot/tokens", "bot:"+password, map[string]any{"name": "ferry", "scopes": []string{"write:repository", "write:issue", "write:user"}}, &tok)
	if tok.SHA1 == "" {
		t.Fatal("gitea gave no token")
	}
	g.Token = tok.SHA1
	return g
}

// API calls the REST API at path (under /api/v1) with the token, fails the
// test unless it answers 2xx, and decodes the answer into out.
func (g *Gitea) API(t testing.TB, method, path string, in, out any) {
	t.Helper()
	g.call(t, method, "/api/v1"+path, "", in, out)
}

func (g *Gitea) call(t testing.TB, method, path, basic string, in, out any) {
	t.Helper()
	var body bytes.Buffer
	if in != nil {
		if err := json.NewEncoder(&body).Encode(in); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, g.URL+path, &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if u, p, ok := strings.Cut(basic, ":"); ok {
		req.SetBasicAuth(u, p)
	} else {
		req.Header.Set("Authorization", "token "+g.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var e map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&e)
		t.Fatalf("gitea %s %s: %d %v", method, path, resp.StatusCode, e)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("gitea %s %s: decoding: %v", method, path, err)
		}
	}
}

// CreateRepo creates bot/name, pushes main of the local repository src to
// it and waits until Gitea has processed the push (until then the
// repository counts as empty and its pull request routes answer 404). It
// returns the clone URL.
func (g *Gitea) CreateRepo(t testing.TB, name, src string) string {
	t.Helper()
	g.API(t, "POST", "/user/repos", map[string]any{"name": name, "default_branch": "main"}, nil)
	remote := g.URL + "/bot/" + name + ".git"
	cmd := exec.Command("git", "-C", src, "push", "-q", remote, "main")
	cmd.Env = append(os.Environ(), "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.extraHeader", "GIT_CONFIG_VALUE_0=Authorization: token "+g.Token)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pushing %s to gitea: %v\n%s", src, err, out)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var r struct {
			Empty bool `json:"empty"`
		}
		g.API(t, "GET", "/repos/bot/"+name, nil, &r)
		if !r.Empty {
			return remote
		}
		if time.Now().After(deadline) {
			t.Fatalf("bot/%s still empty 60 s after the push", name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// PullRequest is what the tests read of a Gitea pull request.
type PullRequest struct {
	Number int    `json:"number"`
	Title  string `json:"title"`
	Body   string `json:"body"`
	State  string `json:"state"`
	Head   struct {
		Ref string `json:"ref"`
		SHA string `json:"sha"`
	} `json:"head"`
	Base struct {
		Ref string `json:"ref"`
	} `json:"base"`
}

// PullRequests lists bot/repo's pull requests in state (open, closed, all).
func (g *Gitea) PullRequests(t testing.TB, repo, state string) []PullRequest {
	t.Helper()
	var prs []PullRequest
	g.API(t, "GET", "/repos/bot/"+repo+"/pulls?state="+state, nil, &prs)
	return prs
}

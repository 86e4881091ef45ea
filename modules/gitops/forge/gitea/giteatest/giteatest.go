// Package giteatest starts a real Gitea server on loopback for tests: the
// pinned binary (.ci/tools.sh gitea) with SQLite in a temporary folder, an
// admin user "bot" with an API token and, optionally, Gitea's built-in SSH
// server with a host key the test knows. A missing binary skips the test,
// or fails it when CI is set. Only tests and test-support packages import
// it.
package giteatest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// Server is a real Gitea process on loopback with an admin user "bot" and
// its API token.
type Server struct {
	// URL is the web root, http://127.0.0.1:PORT.
	URL string
	// Token is bot's access token (repository, issue and user scopes).
	Token string
	// SSHAddr is the built-in SSH server's host:port, when started
	// WithSSH; empty otherwise.
	SSHAddr string
	// SSHHostKey is the built-in SSH server's public host key, when
	// started WithSSH; nil otherwise.
	SSHHostKey ssh.PublicKey
}

// Option changes how Start runs Gitea.
type Option func(*config)

type config struct {
	ssh bool
}

// WithSSH also starts Gitea's built-in SSH server on a loopback port, with
// an ed25519 host key made for the test (Server.SSHAddr, Server.SSHHostKey).
func WithSSH() Option {
	return func(c *config) { c.ssh = true }
}

// Binary returns the pinned gitea from PATH or
// $HOME/.cache/ferry/tools/bin; without it the test fails when CI is set,
// else it is skipped.
func Binary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("gitea"); err == nil {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cache", "ferry", "tools", "bin", "gitea")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("gitea not found: run .ci/tools.sh gitea")
	}
	t.Skip("gitea not found: run .ci/tools.sh gitea")
	return ""
}

// nobody is the uid and gid Gitea runs as when the test runs as root
// (Gitea refuses to run as root).
const nobody = 65534

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start runs Gitea until the test ends and returns it once its API answers
// and bot's token exists. Gitea refuses to run as root: as root, it runs
// as nobody from a folder nobody owns, with a copy of the binary there.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	bin := Binary(t)
	real, err := filepath.EvalSymlinks(bin)
	if err != nil {
		t.Fatal(err)
	}
	work, err := os.MkdirTemp("", "ferry-gitea-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	// A copy of the binary and its assets: nobody cannot reach the tool
	// cache under root's home.
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
	port := freePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	s := &Server{URL: url}
	sshIni := "DISABLE_SSH = true\nSTART_SSH_SERVER = false\n"
	if cfg.ssh {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		block, err := ssh.MarshalPrivateKey(priv, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, "host_ed25519"), pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		if s.SSHHostKey, err = ssh.NewPublicKey(pub); err != nil {
			t.Fatal(err)
		}
		sshPort := freePort(t)
		s.SSHAddr = fmt.Sprintf("127.0.0.1:%d", sshPort)
		sshIni = fmt.Sprintf("DISABLE_SSH = false\nSTART_SSH_SERVER = true\nBUILTIN_SSH_SERVER_USER = git\nSSH_DOMAIN = 127.0.0.1\n"+
			"SSH_LISTEN_HOST = 127.0.0.1\nSSH_LISTEN_PORT = %[1]d\nSSH_PORT = %[1]d\nSSH_SERVER_HOST_KEYS = %[2]s/host_ed25519\n", sshPort, work)
	}
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
HTTP_PORT = %[2]d
ROOT_URL = %[3]s/
OFFLINE_MODE = true
%[6]sLFS_START_SERVER = false
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
`, work, port, url, randHex(16), randHex(32), sshIni)
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
	var tok struct {
		SHA1 string `json:"sha1"`
	}
	s.call(t, "POST", "/api/v1/users/bot/tokens", "bot:"+password, map[string]any{"name": "ferry", "scopes": []string{"write:repository", "write:issue", "write:user"}}, &tok)
	if tok.SHA1 == "" {
		t.Fatal("gitea gave no token")
	}
	s.Token = tok.SHA1
	if cfg.ssh {
		waitListening(t, s.SSHAddr)
	}
	return s
}

// waitListening waits until addr accepts TCP connections.
func waitListening(t testing.TB, addr string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not listening: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// API calls the REST API at path (under /api/v1) with bot's token, fails
// the test unless it answers 2xx, and decodes the answer into out when out
// is not nil.
func (s *Server) API(t testing.TB, method, path string, in, out any) {
	t.Helper()
	s.call(t, method, "/api/v1"+path, "", in, out)
}

// call sends in as JSON to path with basic auth ("user:password") or,
// when basic is empty, with bot's token.
func (s *Server) call(t testing.TB, method, path, basic string, in, out any) {
	t.Helper()
	var body bytes.Buffer
	if in != nil {
		if err := json.NewEncoder(&body).Encode(in); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, s.URL+path, &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if u, p, ok := strings.Cut(basic, ":"); ok {
		req.SetBasicAuth(u, p)
	} else {
		req.Header.Set("Authorization", "token "+s.Token)
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

// GitEnv returns the environment for a git command that talks to the
// server over HTTP as bot: the current environment plus an Authorization
// header with the token, passed through GIT_CONFIG_* so the token is on no
// command line.
func (s *Server) GitEnv() []string {
	return append(os.Environ(), "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.extraHeader", "GIT_CONFIG_VALUE_0=Authorization: token "+s.Token)
}

// CreateRepo creates bot/name, pushes main of the local repository src to
// it and waits until Gitea has processed the push (until then the
// repository counts as empty and its pull request routes answer 404). It
// returns the clone URL.
func (s *Server) CreateRepo(t testing.TB, name, src string) string {
	t.Helper()
	s.API(t, "POST", "/user/repos", map[string]any{"name": name, "default_branch": "main"}, nil)
	remote := s.URL + "/bot/" + name + ".git"
	cmd := exec.Command("git", "-C", src, "push", "-q", remote, "main")
	cmd.Env = s.GitEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pushing %s to gitea: %v\n%s", src, err, out)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var r struct {
			Empty bool `json:"empty"`
		}
		s.API(t, "GET", "/repos/bot/"+name, nil, &r)
		if !r.Empty {
			return remote
		}
		if time.Now().After(deadline) {
			t.Fatalf("bot/%s still empty 60 s after the push", name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// PullRequest is what tests read of a Gitea pull request.
type PullRequest struct {
	// Number is the pull request's number in its repository.
	Number int `json:"number"`
	// Title is the pull request's title.
	Title string `json:"title"`
	// Body is the pull request's description.
	Body string `json:"body"`
	// State is "open" or "closed".
	State string `json:"state"`
	// Head is the branch proposed and its commit.
	Head struct {
		Ref string `json:"ref"`
		SHA string `json:"sha"`
	} `json:"head"`
	// Base is the branch the pull request merges into.
	Base struct {
		Ref string `json:"ref"`
	} `json:"base"`
}

// PullRequests lists bot/repo's pull requests in state (open, closed, all).
func (s *Server) PullRequests(t testing.TB, repo, state string) []PullRequest {
	t.Helper()
	var prs []PullRequest
	s.API(t, "GET", "/repos/bot/"+repo+"/pulls?state="+state, nil, &prs)
	return prs
}

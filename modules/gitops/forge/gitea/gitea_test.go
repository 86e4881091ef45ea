package gitea

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
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
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/ferry-ci/ferry/modules/gitops"
	"github.com/ferry-ci/ferry/modules/gitops/forge"
	"github.com/ferry-ci/ferry/modules/gitops/gitrepo"
	"github.com/ferry-ci/ferry/modules/gitops/internal/gittest"
)

// giteaBinary finds the pinned gitea build (.ci/tools.sh gitea).
func giteaBinary(t *testing.T) string {
	if p, err := exec.LookPath("gitea"); err == nil {
		return p
	}
	home, _ := os.UserHomeDir()
	p := filepath.Join(home, ".cache", "ferry", "tools", "bin", "gitea")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("gitea not found: run .ci/tools.sh gitea")
	}
	t.Skip("gitea not found: run .ci/tools.sh gitea")
	return ""
}

// server is a real Gitea process on loopback with a bot user and token.
type server struct {
	url, token string
	// sshAddr is the built-in SSH server's host:port and sshHostKey its
	// public host key, when started withSSH.
	sshAddr    string
	sshHostKey ssh.PublicKey
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

const nobody = 65534

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// startGitea starts Gitea; withSSH also starts its built-in SSH server on
// loopback with a host key made here, so the test knows it.
func startGitea(t *testing.T, withSSH bool) *server {
	bin := giteaBinary(t)
	real, err := filepath.EvalSymlinks(bin)
	if err != nil {
		t.Fatal(err)
	}
	// Gitea refuses to run as root: as root, run it as nobody in a folder
	// nobody owns.
	work, err := os.MkdirTemp("", "ferry-gitea-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	// A copy of the binary too: nobody cannot reach the tool cache under
	// root's home.
	toolDir := filepath.Dir(real)
	if err := copyFile(real, filepath.Join(work, "gitea")); err != nil {
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
	srv := &server{url: url}
	sshIni := "DISABLE_SSH = true\nSTART_SSH_SERVER = false\n"
	if withSSH {
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
		if srv.sshHostKey, err = ssh.NewPublicKey(pub); err != nil {
			t.Fatal(err)
		}
		sshPort := freePort(t)
		srv.sshAddr = fmt.Sprintf("127.0.0.1:%d", sshPort)
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
	deadline := time.Now().Add(90 * time.Second)
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
	out, err := command(t.Context(), "admin", "user", "create", "--username", "bot", "--email", "bot@ferry.invalid",
		"--password", password, "--admin", "--must-change-password=false").CombinedOutput()
	if err != nil {
		t.Fatalf("gitea admin user create: %v\n%s", err, out)
	}
	// Token from the API with basic auth.
	var tok struct {
		SHA1 string `json:"sha1"`
	}
	api(t, "POST", url+"/api/v1/users/bot/tokens", "bot:"+password, "", map[string]any{"name": "ferry", "scopes": []string{"write:repository", "write:issue", "write:user"}}, &tok)
	if tok.SHA1 == "" {
		t.Fatal("no token")
	}
	srv.token = tok.SHA1
	if withSSH {
		waitListening(t, srv.sshAddr)
	}
	return srv
}

// waitListening waits until addr accepts TCP connections.
func waitListening(t *testing.T, addr string) {
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

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o755)
}

func api(t *testing.T, method, url, basic, token string, in, out any) {
	t.Helper()
	b, _ := json.Marshal(in)
	req, _ := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if basic != "" {
		u, p, _ := strings.Cut(basic, ":")
		req.SetBasicAuth(u, p)
	}
	if token != "" {
		req.Header.Set("Authorization", "token "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var e map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&e)
		t.Fatalf("%s %s: %d %v", method, url, resp.StatusCode, e)
	}
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
}

// waitNotEmpty waits until Gitea has processed the first push to repo: it
// handles pushes in a background queue, and until then the repository
// counts as empty and its pull-request routes answer 404.
func waitNotEmpty(t *testing.T, s *server, repo string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var r struct {
			Empty bool `json:"empty"`
		}
		api(t, "GET", s.url+"/api/v1/repos/"+repo, "", s.token, nil, &r)
		if !r.Empty {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still empty 60 s after the seeding push", repo)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type fakeGates struct{}

func (fakeGates) Exists(context.Context, string) (bool, error) { return true, nil }
func (fakeGates) Verify(context.Context, string, string) (gitops.Signature, error) {
	return gitops.Signature{Identity: "ci@acme"}, nil
}

// TestPromoteThroughRealGitea runs promotions against a real Gitea: git
// over its smart HTTP with the token, pull requests over its REST API.
func TestPromoteThroughRealGitea(t *testing.T) {
	s := startGitea(t, false)
	ctx := t.Context()
	api(t, "POST", s.url+"/api/v1/user/repos", "", s.token, map[string]any{"name": "deployments", "default_branch": "main"}, nil)
	bare := gittest.NewBare(t, "../../testdata/seed")
	cmd := exec.Command("git", "push", "-q", s.url+"/bot/deployments.git", "main")
	cmd.Dir = bare
	cmd.Env = append(os.Environ(), "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.extraHeader", "GIT_CONFIG_VALUE_0=Authorization: token "+s.token)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("seeding: %v\n%s", err, out)
	}
	waitNotEmpty(t, s, "bot/deployments")

	c, err := New(s.url, "bot", "deployments", s.token)
	if err != nil {
		t.Fatal(err)
	}
	p, err := gitops.New(s.url+"/bot/deployments.git", c, gitops.WithAuth(gitrepo.Auth{Username: "bot", Token: s.token}),
		gitops.WithDigestChecker(fakeGates{}), gitops.WithSignatureVerifier(fakeGates{}))
	if err != nil {
		t.Fatal(err)
	}
	img := func(d string) gitops.Request {
		return gitops.Request{Env: "staging", Images: []gitops.Image{{Service: "api", Name: "ghcr.io/acme/api", Tag: "staging-2-api", Digest: "sha256:" + strings.Repeat(d, 64)}}}
	}
	res, err := p.Promote(ctx, img("a"))
	if err != nil || res.Action != gitops.Created || res.PullRequest == nil {
		t.Fatalf("Promote: %+v %v", res, err)
	}
	if !strings.HasPrefix(res.PullRequest.URL, s.url+"/bot/deployments/pulls/") {
		t.Fatalf("PR URL %s", res.PullRequest.URL)
	}
	again, err := p.Promote(ctx, img("a"))
	if err != nil || again.Action != gitops.Noop || again.PullRequest.Number != res.PullRequest.Number {
		t.Fatalf("re-run: %+v %v", again, err)
	}
	upd, err := p.Promote(ctx, img("b"))
	if err != nil || upd.Action != gitops.Updated || upd.PullRequest.Number != res.PullRequest.Number {
		t.Fatalf("update: %+v %v", upd, err)
	}
	if _, err := c.OpenPullRequest(ctx, forge.NewPullRequest{Head: "promote/staging/api", Base: "main", Title: "dup"}); !errors.Is(err, forge.ErrAlreadyExists) {
		t.Fatalf("duplicate open: %v", err)
	}
	open, err := c.List(ctx, forge.Open)
	if err != nil || len(open) != 1 || !strings.Contains(open[0].Body, strings.Repeat("b", 64)) {
		t.Fatalf("open pull requests: %+v %v", open, err)
	}
	if err := c.Comment(ctx, open[0].Number, "merging"); err != nil {
		t.Fatal(err)
	}
	if err := c.Merge(ctx, open[0].Number, "merge", upd.HeadSHA); err != nil {
		t.Fatalf("Merge: %v", err)
	}
	noop, err := p.Promote(ctx, img("b"))
	if err != nil || noop.Action != gitops.Noop || noop.PullRequest != nil {
		t.Fatalf("after merge: %+v %v", noop, err)
	}

	// The network breaks in the middle of a push (a TCP proxy in front of
	// Gitea cuts it inside the pack): a retryable error, no branch on
	// Gitea (the git CLI's ls-remote), no pull request; once the network
	// is back the same promotion lands.
	proxy := gittest.NewCutProxy(t, s.url)
	pc, err := gitops.New(proxy.URL+"/bot/deployments.git", c, gitops.WithAuth(gitrepo.Auth{Username: "bot", Token: s.token}),
		gitops.WithDigestChecker(fakeGates{}), gitops.WithSignatureVerifier(fakeGates{}), gitops.WithRetry(2, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	web := gitops.Request{Env: "staging", Images: []gitops.Image{{Service: "web", Name: "ghcr.io/acme/web", Tag: "staging-2-web", Digest: "sha256:" + strings.Repeat("7", 64)}}}
	lsRemote := func() string {
		cmd := exec.Command("git", "ls-remote", s.url+"/bot/deployments.git")
		cmd.Env = append(os.Environ(), "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.extraHeader", "GIT_CONFIG_VALUE_0=Authorization: token "+s.token)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git ls-remote: %v\n%s", err, out)
		}
		return string(out)
	}
	refsBefore := lsRemote()
	proxy.CutPushesAfter(300)
	if _, err := pc.Promote(ctx, web); !errors.Is(err, gitrepo.ErrNetwork) || proxy.Cuts.Load() == 0 {
		t.Fatalf("cut push: %v (%d cuts), want ErrNetwork", err, proxy.Cuts.Load())
	}
	if refs := lsRemote(); refs != refsBefore || strings.Contains(refs, "promote/staging/web") {
		t.Fatalf("refs after a cut push:\n%s\nwant\n%s", refs, refsBefore)
	}
	if open, err := c.List(ctx, forge.Open); err != nil || len(open) != 0 {
		t.Fatalf("open pull requests after a cut push: %+v %v", open, err)
	}
	proxy.CutPushesAfter(0)
	if res, err := pc.Promote(ctx, web); err != nil || res.Action != gitops.Created {
		t.Fatalf("after the network is back: %+v %v", res, err)
	}

	bad, _ := New(s.url, "bot", "deployments", "wrong-token")
	if _, err := bad.OpenPullRequest(ctx, forge.NewPullRequest{Head: "x", Base: "main", Title: "t"}); !errors.Is(err, forge.ErrUnauthorized) {
		t.Fatalf("wrong token: %v", err)
	}
}

// TestPromoteOverSSHThroughRealGitea pushes over Gitea's built-in SSH
// server with the bot's key, checking the host key against a known_hosts
// file (a host key it does not list is refused), and cross-checks the
// pushed branch with the git CLI over SSH.
func TestPromoteOverSSHThroughRealGitea(t *testing.T) {
	s := startGitea(t, true)
	ctx := t.Context()
	api(t, "POST", s.url+"/api/v1/user/repos", "", s.token, map[string]any{"name": "deployments", "default_branch": "main"}, nil)
	bare := gittest.NewBare(t, "../../testdata/seed")
	seed := exec.Command("git", "push", "-q", s.url+"/bot/deployments.git", "main")
	seed.Dir = bare
	seed.Env = append(os.Environ(), "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.extraHeader", "GIT_CONFIG_VALUE_0=Authorization: token "+s.token)
	if out, err := seed.CombinedOutput(); err != nil {
		t.Fatalf("seeding: %v\n%s", err, out)
	}
	waitNotEmpty(t, s, "bot/deployments")

	// The bot's key, registered through the API.
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(block)
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	api(t, "POST", s.url+"/api/v1/user/keys", "", s.token, map[string]any{"title": "ferry-bot", "key": string(ssh.MarshalAuthorizedKey(sshPub))}, nil)

	dir := t.TempDir()
	keyFile := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	knownHosts := func(name string, key ssh.PublicKey) string {
		p := filepath.Join(dir, name)
		line := knownhosts.Line([]string{knownhosts.Normalize(s.sshAddr)}, key) + "\n"
		if err := os.WriteFile(p, []byte(line), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := knownHosts("known_hosts", s.sshHostKey)
	otherPub, _, _ := ed25519.GenerateKey(rand.Reader)
	other, _ := ssh.NewPublicKey(otherPub)
	wrong := knownHosts("known_hosts_wrong", other)

	c, err := New(s.url, "bot", "deployments", s.token)
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(s.sshAddr)
	sshURL := "ssh://git@127.0.0.1:" + port + "/bot/deployments.git"
	req := gitops.Request{Env: "staging", Images: []gitops.Image{{Service: "api", Name: "ghcr.io/acme/api", Tag: "staging-2-api", Digest: "sha256:" + strings.Repeat("5", 64)}}}
	promoter := func(knownHosts string) *gitops.Promoter {
		p, err := gitops.New(sshURL, c, gitops.WithAuth(gitrepo.Auth{SSHKey: keyPEM, SSHKnownHosts: knownHosts}),
			gitops.WithDigestChecker(fakeGates{}), gitops.WithSignatureVerifier(fakeGates{}), gitops.WithRetry(2, 10*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	// A host key the known_hosts file does not list: refused, terminal.
	_, err = promoter(wrong).Promote(ctx, req)
	if err == nil || gitops.Retryable(err) || !strings.Contains(err.Error(), "knownhosts: key mismatch") {
		t.Fatalf("unknown host key: %v, want a terminal key mismatch", err)
	}
	if strings.Contains(err.Error(), "PRIVATE KEY") {
		t.Fatal("error leaks the key")
	}

	res, err := promoter(good).Promote(ctx, req)
	if err != nil || res.Action != gitops.Created || res.PullRequest == nil {
		t.Fatalf("Promote over SSH: %+v %v", res, err)
	}
	// The git CLI over SSH, strict about the host key, sees the branch.
	ls := exec.Command("git", "ls-remote", sshURL, "refs/heads/promote/staging/api")
	ls.Env = append(os.Environ(), "GIT_SSH_COMMAND=ssh -i "+keyFile+" -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="+good)
	out, err := ls.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), res.HeadSHA+"\trefs/heads/promote/staging/api") {
		t.Fatalf("git ls-remote over SSH: %v\n%s\nwant head %s", err, out, res.HeadSHA)
	}
	open, err := c.List(ctx, forge.Open)
	if err != nil || len(open) != 1 || open[0].Head != "promote/staging/api" {
		t.Fatalf("open pull requests: %+v %v", open, err)
	}
}

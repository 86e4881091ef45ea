package gitea

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/ferry-ci/ferry/modules/gitops"
	"github.com/ferry-ci/ferry/modules/gitops/forge"
	"github.com/ferry-ci/ferry/modules/gitops/forge/gitea/giteatest"
	"github.com/ferry-ci/ferry/modules/gitops/gitrepo"
	"github.com/ferry-ci/ferry/modules/gitops/internal/gittest"
)

type fakeGates struct{}

func (fakeGates) Exists(context.Context, string) (bool, error) { return true, nil }
func (fakeGates) Verify(context.Context, string, string) (gitops.Signature, error) {
	return gitops.Signature{Identity: "ci@acme"}, nil
}

// TestPromoteThroughRealGitea runs promotions against a real Gitea: git
// over its smart HTTP with the token, pull requests over its REST API.
func TestPromoteThroughRealGitea(t *testing.T) {
	s := giteatest.Start(t)
	ctx := t.Context()
	s.CreateRepo(t, "deployments", gittest.NewBare(t, "../../testdata/seed"))

	c, err := New(s.URL, "bot", "deployments", s.Token)
	if err != nil {
		t.Fatal(err)
	}
	p, err := gitops.New(s.URL+"/bot/deployments.git", c, gitops.WithAuth(gitrepo.Auth{Username: "bot", Token: s.Token}),
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
	if !strings.HasPrefix(res.PullRequest.URL, s.URL+"/bot/deployments/pulls/") {
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
	proxy := gittest.NewCutProxy(t, s.URL)
	pc, err := gitops.New(proxy.URL+"/bot/deployments.git", c, gitops.WithAuth(gitrepo.Auth{Username: "bot", Token: s.Token}),
		gitops.WithDigestChecker(fakeGates{}), gitops.WithSignatureVerifier(fakeGates{}), gitops.WithRetry(2, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	web := gitops.Request{Env: "staging", Images: []gitops.Image{{Service: "web", Name: "ghcr.io/acme/web", Tag: "staging-2-web", Digest: "sha256:" + strings.Repeat("7", 64)}}}
	lsRemote := func() string {
		cmd := exec.Command("git", "ls-remote", s.URL+"/bot/deployments.git")
		cmd.Env = s.GitEnv()
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

	bad, _ := New(s.URL, "bot", "deployments", "wrong-token")
	if _, err := bad.OpenPullRequest(ctx, forge.NewPullRequest{Head: "x", Base: "main", Title: "t"}); !errors.Is(err, forge.ErrUnauthorized) {
		t.Fatalf("wrong token: %v", err)
	}
}

// TestPromoteOverSSHThroughRealGitea pushes over Gitea's built-in SSH
// server with the bot's key, checking the host key against a known_hosts
// file (a host key it does not list is refused), and cross-checks the
// pushed branch with the git CLI over SSH.
func TestPromoteOverSSHThroughRealGitea(t *testing.T) {
	s := giteatest.Start(t, giteatest.WithSSH())
	ctx := t.Context()
	s.CreateRepo(t, "deployments", gittest.NewBare(t, "../../testdata/seed"))

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
	s.API(t, "POST", "/user/keys", map[string]any{"title": "ferry-bot", "key": string(ssh.MarshalAuthorizedKey(sshPub))}, nil)

	dir := t.TempDir()
	keyFile := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	knownHosts := func(name string, key ssh.PublicKey) string {
		p := filepath.Join(dir, name)
		line := knownhosts.Line([]string{knownhosts.Normalize(s.SSHAddr)}, key) + "\n"
		if err := os.WriteFile(p, []byte(line), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := knownHosts("known_hosts", s.SSHHostKey)
	otherPub, _, _ := ed25519.GenerateKey(rand.Reader)
	other, _ := ssh.NewPublicKey(otherPub)
	wrong := knownHosts("known_hosts_wrong", other)

	c, err := New(s.URL, "bot", "deployments", s.Token)
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(s.SSHAddr)
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

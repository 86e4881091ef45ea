package native

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/ferry-ci/ferry/modules/gitops"
	"github.com/ferry-ci/ferry/modules/gitops/forge"
	"github.com/ferry-ci/ferry/modules/gitops/forge/gitea"
	"github.com/ferry-ci/ferry/modules/gitops/forge/github"
	"github.com/ferry-ci/ferry/modules/gitops/gitrepo"
	"github.com/ferry-ci/ferry/modules/pipeline"
)

// seedDeployments creates the bare repository bare, once, holding one
// commit on main with the repository's deployments/ folder at the same
// path (so overlays are at deployments/overlays/<env>). It is built aside
// and renamed into place, so a crash never leaves half a repository.
func seedDeployments(root, bare, tmp string) error {
	if _, err := os.Stat(filepath.Join(bare, "HEAD")); err == nil {
		return nil
	}
	src := filepath.Join(root, "deployments")
	if fi, err := os.Stat(src); err != nil || !fi.IsDir() {
		return fmt.Errorf("seeding the local deployments repository: %s is not a folder", src)
	}
	work, err := os.MkdirTemp(tmp, "seed-")
	if err != nil {
		return fmt.Errorf("seeding the local deployments repository: %w", err)
	}
	defer os.RemoveAll(work)
	tree := filepath.Join(work, "tree")
	if err := os.CopyFS(filepath.Join(tree, "deployments"), os.DirFS(src)); err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	staged := filepath.Join(work, "deployments.git")
	steps := [][]string{
		{"init", "-q", "-b", "main", tree},
		{"-C", tree, "add", "-A"},
		{"-C", tree, "commit", "-q", "-m", seedMessage},
		{"init", "-q", "--bare", "-b", "main", staged},
		{"-C", tree, "push", "-q", staged, "main"},
	}
	for _, args := range steps {
		if err := git(args...); err != nil {
			return fmt.Errorf("seeding the local deployments repository: %w", err)
		}
	}
	if err := os.Rename(staged, bare); err != nil && !errors.Is(err, os.ErrExist) {
		if _, serr := os.Stat(filepath.Join(bare, "HEAD")); serr == nil {
			return nil // another run seeded it meanwhile
		}
		return fmt.Errorf("seeding the local deployments repository: %w", err)
	}
	return nil
}

func git(args ...string) error {
	cmd := exec.Command("git", args...)
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=ferry", "GIT_AUTHOR_EMAIL=ferry@localhost",
		"GIT_COMMITTER_NAME=ferry", "GIT_COMMITTER_EMAIL=ferry@localhost",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git %s: %w: %s", strings.Join(args[:min(len(args), 3)], " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

const seedMessage = "Seed the local deployments repository from deployments/\n"

// The environment variables holding the forge's API token and the git
// token of a remote deployments repository. The forge's own variable
// (GITHUB_TOKEN, GITEA_TOKEN) is read when FERRY_FORGE_TOKEN is unset; git
// falls back to the forge token.
const (
	ForgeTokenEnv  = "FERRY_FORGE_TOKEN"
	GitHubTokenEnv = "GITHUB_TOKEN"
	GiteaTokenEnv  = "GITEA_TOKEN"
	GitTokenEnv    = "FERRY_GIT_TOKEN"
)

// deploymentsSpec is a validated --deployments and --forge: a local bare
// repository with the local forge, or an HTTPS repository on GitHub or
// Gitea.
type deploymentsSpec struct {
	// path is the local repository (bare) when the forge is local.
	path string
	// url is the remote repository, for the other forges.
	url         string
	owner, repo string
	forgeURL    string
	forgeToken  string
	// tokenEnv is the forge's own token variable, for messages.
	tokenEnv string
	gitToken string
}

func (d *deploymentsSpec) local() bool { return d.path != "" }

// parseDeployments validates the deployments repository and the forge
// together, reading the tokens they need: every mistake is reported before
// anything runs.
func parseDeployments(cfg Config) (*deploymentsSpec, error) {
	bad := func(format string, args ...any) (*deploymentsSpec, error) {
		return nil, pipeline.MarkTerminal(fmt.Errorf("configuring the runner: "+format, args...))
	}
	loc := cfg.Deployments
	if loc == "" {
		if cfg.Forge != ForgeLocal {
			return bad("--forge %s needs --deployments, the HTTPS URL of the deployments repository on that forge", cfg.Forge)
		}
		return &deploymentsSpec{path: filepath.Join(cfg.State, "deployments.git")}, nil
	}
	if p, ok := strings.CutPrefix(loc, "file://"); ok || !strings.Contains(loc, "://") {
		if !ok && strings.Contains(loc, "@") && strings.Contains(loc, ":") {
			return bad("deployments repository %q: SSH remotes are not supported; use its HTTPS URL with %s", loc, GitTokenEnv)
		}
		if ok {
			loc = p
		}
		abs, err := filepath.Abs(loc)
		if err != nil {
			return bad("deployments repository %q: %v", cfg.Deployments, err)
		}
		if _, err := os.Stat(filepath.Join(abs, "HEAD")); err != nil {
			return bad("deployments repository %q is not a bare git repository (create one with git init --bare, or name an HTTPS URL)", cfg.Deployments)
		}
		if cfg.Forge != ForgeLocal {
			return bad("deployments repository %q is a local path, which has no %s pull requests; use --forge local, or name the repository's HTTPS URL", cfg.Deployments, cfg.Forge)
		}
		return &deploymentsSpec{path: abs}, nil
	}
	u, err := url.Parse(loc)
	if err != nil {
		return bad("deployments repository: not a URL: %v", errors.Unwrap(err))
	}
	switch {
	case u.User != nil:
		return bad("deployments repository %s: credentials in the URL; put the token in %s instead", u.Redacted(), GitTokenEnv)
	case u.Scheme == "http" && !isLoopback(u.Host):
		return bad("deployments repository %s: plain HTTP off loopback; use https", u.Redacted())
	case u.Scheme != "https" && u.Scheme != "http":
		return bad("deployments repository %s: scheme %q is not supported; use https (or a local path)", u.Redacted(), u.Scheme)
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) < 2 || parts[len(parts)-2] == "" || strings.TrimSuffix(parts[len(parts)-1], ".git") == "" {
		return bad("deployments repository %s: want https://HOST/OWNER/REPO(.git)", u.Redacted())
	}
	d := &deploymentsSpec{url: loc, owner: parts[len(parts)-2], repo: strings.TrimSuffix(parts[len(parts)-1], ".git")}
	web := u.Scheme + "://" + u.Host
	if prefix := strings.Join(parts[:len(parts)-2], "/"); prefix != "" {
		web += "/" + prefix
	}
	var tokenEnv string
	switch cfg.Forge {
	case ForgeLocal:
		return bad("deployments repository %s is remote: the local forge only serves a local path; name --forge github or gitea", u.Redacted())
	case ForgeGitea:
		tokenEnv = GiteaTokenEnv
		d.forgeURL = web
		if cfg.ForgeURL != "" {
			d.forgeURL = cfg.ForgeURL
		}
	case ForgeGitHub:
		tokenEnv = GitHubTokenEnv
		switch {
		case cfg.ForgeURL != "":
			d.forgeURL = cfg.ForgeURL
			if fu, err := url.Parse(cfg.ForgeURL); err == nil && strings.Trim(fu.Path, "/") == "" {
				d.forgeURL = strings.TrimSuffix(cfg.ForgeURL, "/") + "/api/v3" // a GHES web root
			}
		case u.Host != "github.com":
			d.forgeURL = u.Scheme + "://" + u.Host + "/api/v3"
		}
	}
	if cfg.ForgeURL != "" {
		if fu, err := url.Parse(cfg.ForgeURL); err != nil || (fu.Scheme != "https" && fu.Scheme != "http") || fu.Host == "" || fu.User != nil {
			return bad("--forge-url %q: want an http(s) URL without credentials", cfg.ForgeURL)
		} else if fu.Scheme == "http" && !isLoopback(fu.Host) {
			return bad("--forge-url %s: plain HTTP off loopback; use https", fu.Redacted())
		}
	}
	d.tokenEnv = tokenEnv
	d.forgeToken = cfg.getenv(ForgeTokenEnv)
	if d.forgeToken == "" {
		d.forgeToken = cfg.getenv(tokenEnv)
	}
	if d.forgeToken == "" {
		return bad("forge %s needs an API token: set %s or %s", cfg.Forge, tokenEnv, ForgeTokenEnv)
	}
	d.gitToken = cfg.getenv(GitTokenEnv)
	if d.gitToken == "" {
		d.gitToken = d.forgeToken
	}
	return d, nil
}

// prLister is what the forge check needs: every remote forge lists pull
// requests.
type prLister interface {
	List(ctx context.Context, state forge.State) ([]forge.PullRequest, error)
}

// remoteForge returns the forge client of a remote deployments repository.
func (d *deploymentsSpec) remoteForge(forgeName string) (gitops.Forge, prLister, error) {
	switch forgeName {
	case ForgeGitea:
		c, err := gitea.New(d.forgeURL, d.owner, d.repo, d.forgeToken)
		if err != nil {
			return nil, nil, pipeline.MarkTerminal(fmt.Errorf("configuring the Gitea forge: %w", err))
		}
		return c, c, nil
	case ForgeGitHub:
		var opts []github.Option
		if d.forgeURL != "" {
			opts = append(opts, github.WithBaseURL(d.forgeURL))
		}
		c, err := github.New(d.owner, d.repo, github.StaticToken(d.forgeToken), opts...)
		if err != nil {
			return nil, nil, pipeline.MarkTerminal(fmt.Errorf("configuring the GitHub forge: %w", err))
		}
		return c, c, nil
	}
	return nil, nil, pipeline.MarkTerminal(fmt.Errorf("configuring the runner: unknown forge %q", forgeName))
}

// auth is the git credentials of the deployments repository.
func (d *deploymentsSpec) auth() gitrepo.Auth { return gitrepo.Auth{Token: d.gitToken} }

// checkRemote proves, before anything is built, that the forge accepts the
// token and the repository's main branch can be cloned; it returns the
// clone, which later reads the environments' pins.
func (d *deploymentsSpec) checkRemote(ctx context.Context, l prLister, forgeName, dir string) (*gitrepo.Repo, error) {
	if _, err := l.List(ctx, forge.Open); err != nil {
		err = fmt.Errorf("checking the %s forge for %s/%s (token from %s, else %s): %w", forgeName, d.owner, d.repo,
			ForgeTokenEnv, d.tokenEnv, err)
		if gitops.Retryable(err) {
			return nil, pipeline.MarkRetryable(err)
		}
		return nil, pipeline.MarkTerminal(err)
	}
	repo, err := gitrepo.Clone(ctx, d.url, dir, "main", d.auth())
	if err != nil {
		err = fmt.Errorf("checking the deployments repository (token from %s, else the forge token): %w", GitTokenEnv, err)
		if gitops.Retryable(err) {
			return nil, pipeline.MarkRetryable(err)
		}
		return nil, pipeline.MarkTerminal(err)
	}
	return repo, nil
}

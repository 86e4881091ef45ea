package native

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ferry-ci/ferry/modules/gitops"
	"github.com/ferry-ci/ferry/modules/gitops/forge/local"
	"github.com/ferry-ci/ferry/modules/oci"
	"github.com/ferry-ci/ferry/modules/oci/build"
	"github.com/ferry-ci/ferry/modules/oci/embedded"
	"github.com/ferry-ci/ferry/modules/oci/registry"
	"github.com/ferry-ci/ferry/modules/pipeline"
)

// StateDir is where the embedded defaults live, relative to the repository
// root: registry/ (the embedded registry's storage), keys/ (the local
// signing key), deployments.git (the local deployments repository, whose
// pull requests the local forge records beside it) and tmp/.
const StateDir = ".ci/state"

// The forges the runner knows by name.
const (
	ForgeLocal  = "local"
	ForgeGitHub = "github"
	ForgeGitea  = "gitea"
)

// Config is a native run. The zero value of every target field selects the
// embedded default.
type Config struct {
	// Root is the repository root. Required.
	Root string
	// State is the state folder. Default: Root/.ci/state.
	State string
	// Env is the environment releases promote to. Default "staging".
	Env string
	// Registry is where images go ("ghcr.io/org"). Default: the embedded
	// registry. Real registries are validated but not wired yet.
	Registry string
	// Deployments is the deployments repository's git URL. Default: the
	// local repository under State, seeded from Root/deployments on first
	// use. Other URLs are validated but not wired yet.
	Deployments string
	// Forge is local, github or gitea. Default local; only local is wired.
	Forge string
	// Concurrency bounds the services released at once. Default 2.
	Concurrency int
	// Observer receives progress events. Default: none.
	Observer pipeline.Observer
}

func (c *Config) validate() error {
	if c.Root == "" {
		return pipeline.MarkTerminal(errors.New("configuring the runner: the repository root is required"))
	}
	abs, err := filepath.Abs(c.Root)
	if err != nil {
		return pipeline.MarkTerminal(fmt.Errorf("configuring the runner: %w", err))
	}
	c.Root = abs
	if c.State == "" {
		c.State = filepath.Join(c.Root, filepath.FromSlash(StateDir))
	}
	if c.Env == "" {
		c.Env = "staging"
	}
	if c.Concurrency == 0 {
		c.Concurrency = 2
	}
	if c.Forge == "" {
		c.Forge = ForgeLocal
	}
	switch c.Forge {
	case ForgeLocal:
	case ForgeGitHub, ForgeGitea:
		return pipeline.MarkTerminal(fmt.Errorf("configuring the runner: forge %q is not wired into the native runner yet; use %q", c.Forge, ForgeLocal))
	default:
		return pipeline.MarkTerminal(fmt.Errorf("configuring the runner: unknown forge %q (want local, github or gitea)", c.Forge))
	}
	if c.Registry != "" {
		return pipeline.MarkTerminal(fmt.Errorf("configuring the runner: registry %q is not wired into the native runner yet; leave it empty for the embedded registry", c.Registry))
	}
	if c.Deployments != "" {
		return pipeline.MarkTerminal(fmt.Errorf("configuring the runner: deployments repository %q is not wired into the native runner yet; leave it empty for the local one", c.Deployments))
	}
	return nil
}

// Runner holds the embedded defaults of one run: the registry, the key,
// the deployments repository and the forge.
type Runner struct {
	cfg      Config
	reg      *embedded.Registry
	client   *registry.Client
	keys     *KeySigning
	forge    *local.Forge
	promoter *gitops.Promoter
	builder  *build.Builder
}

// Open starts the embedded defaults under cfg.State, creating what is
// missing: the registry storage, the signing key, the deployments
// repository seeded from Root/deployments.
func Open(cfg Config) (*Runner, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(cfg.State, "tmp"), 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", cfg.State, err)
	}
	keys, err := localKey(filepath.Join(cfg.State, filepath.FromSlash(KeyPrefix)))
	if err != nil {
		return nil, err
	}
	bare := filepath.Join(cfg.State, "deployments.git")
	if err := seedDeployments(cfg.Root, bare, filepath.Join(cfg.State, "tmp")); err != nil {
		return nil, err
	}
	forge, err := local.New(bare)
	if err != nil {
		return nil, fmt.Errorf("opening the local forge: %w", err)
	}
	reg, err := embedded.Start(filepath.Join(cfg.State, "registry"))
	if err != nil {
		return nil, fmt.Errorf("starting the embedded registry: %w", err)
	}
	r := &Runner{cfg: cfg, reg: reg, keys: keys, forge: forge}
	if r.client, err = registry.New(registry.WithRetry(registry.Retry{Attempts: 3, Initial: 100 * time.Millisecond, Max: time.Second})); err != nil {
		reg.Close()
		return nil, err
	}
	g := gate{client: r.client, keys: keys}
	if r.promoter, err = gitops.New(bare, forge, gitops.WithDigestChecker(g), gitops.WithSignatureVerifier(g),
		gitops.WithWorkDir(filepath.Join(cfg.State, "tmp"))); err != nil {
		reg.Close()
		return nil, err
	}
	if r.builder, err = build.New(r.client); err != nil {
		reg.Close()
		return nil, err
	}
	return r, nil
}

// Close stops the embedded registry; everything stays on disk.
func (r *Runner) Close() error { return r.reg.Close() }

// RegistryHost is the embedded registry's host:port.
func (r *Runner) RegistryHost() string { return r.reg.Host() }

// DeploymentsRepo is the local deployments repository's path.
func (r *Runner) DeploymentsRepo() string { return filepath.Join(r.cfg.State, "deployments.git") }

// PublicKey is the path of the local signing key's public half.
func (r *Runner) PublicKey() string {
	return filepath.Join(r.cfg.State, filepath.FromSlash(KeyPrefix)) + ".pub"
}

// Selection names the services of a run: by name, or affected since a
// revision.
type Selection struct {
	Services []string
	Since    string
}

// Plan says which services a release would cover, with tags and
// fingerprints.
func (r *Runner) Plan(ctx context.Context, sel Selection) ([]pipeline.Target, error) {
	targets, err := plan(ctx, r.cfg, sel)
	if err != nil {
		return nil, err
	}
	return retarget(targets, r.reg.Host())
}

// plannedRegistry stands in for the embedded registry's host until it runs,
// so that a bad selection fails before anything starts.
const plannedRegistry = "embedded.invalid"

func plan(ctx context.Context, cfg Config, sel Selection) ([]pipeline.Target, error) {
	sha, when := commit(ctx, cfg.Root)
	repoCfg, err := LoadRepoConfig(cfg.Root)
	if err != nil {
		return nil, err
	}
	return pipeline.Plan(ctx, pipeline.PlanRequest{
		Root: cfg.Root, Services: sel.Services, Since: sel.Since, Registry: plannedRegistry,
		Env: cfg.Env, Commit: sha, CommitTime: when, Platforms: []string{"linux/" + runtime.GOARCH},
		AffectsAll: repoCfg.AffectsAll,
	})
}

// retarget points planned targets at the registry host.
func retarget(targets []pipeline.Target, host string) ([]pipeline.Target, error) {
	out := make([]pipeline.Target, len(targets))
	for i, t := range targets {
		repo, err := oci.ParseRepository(host + "/" + t.Service.Image)
		if err != nil {
			return nil, pipeline.MarkTerminal(fmt.Errorf("planning %q: %w", t.Name, err))
		}
		t.Repository = repo
		out[i] = t
	}
	return out, nil
}

// Release plans and releases the selected services into cfg.Env.
func (r *Runner) Release(ctx context.Context, sel Selection) (*pipeline.Report, error) {
	targets, err := plan(ctx, r.cfg, sel)
	if err != nil {
		return nil, err
	}
	return r.release(ctx, targets)
}

func (r *Runner) release(ctx context.Context, targets []pipeline.Target) (*pipeline.Report, error) {
	targets, err := retarget(targets, r.reg.Host())
	if err != nil {
		return nil, err
	}
	return pipeline.Release(ctx, pipeline.Config{
		Steps: pipeline.Steps{
			Tester:   &GoTester{Root: r.cfg.Root},
			Builder:  &GoBuilder{Root: r.cfg.Root, Builder: r.builder, Platforms: []v1.Platform{{OS: "linux", Architecture: runtime.GOARCH}}},
			Pusher:   &GoPusher{Client: r.client},
			Signer:   r.keys,
			Verifier: r.keys,
			Promoter: &GitOpsPromoter{Promoter: r.promoter},
		},
		Env:         r.cfg.Env,
		Concurrency: r.cfg.Concurrency,
		Observer:    r.cfg.Observer,
	}, targets)
}

// Release opens the embedded defaults, releases sel and closes them: the
// native runner's release command in one call.
// A bad selection fails before anything starts.
func Release(ctx context.Context, cfg Config, sel Selection) (*pipeline.Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	targets, err := plan(ctx, cfg, sel)
	if err != nil {
		return nil, err
	}
	r, err := Open(cfg)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.release(ctx, targets)
}

// commit returns HEAD's hash and time; outside git, no hash and the Unix
// epoch (the build stamps a time either way).
func commit(ctx context.Context, root string) (string, time.Time) {
	out, err := exec.CommandContext(ctx, "git", "-C", root, "log", "-1", "--format=%H %ct").Output()
	if err != nil {
		return "", time.Unix(0, 0).UTC()
	}
	sha, ts, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", time.Unix(0, 0).UTC()
	}
	return sha, time.Unix(sec, 0).UTC()
}

// Plan opens the embedded defaults and plans sel: the plan command in one
// call (the registry fixes the image repositories).
func Plan(ctx context.Context, cfg Config, sel Selection) ([]pipeline.Target, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if _, err := plan(ctx, cfg, sel); err != nil {
		return nil, err
	}
	r, err := Open(cfg)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Plan(ctx, sel)
}

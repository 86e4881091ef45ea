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
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-ci/ferry/modules/gitops"
	"github.com/ferry-ci/ferry/modules/gitops/forge/local"
	"github.com/ferry-ci/ferry/modules/gitops/gitrepo"
	"github.com/ferry-ci/ferry/modules/oci"
	"github.com/ferry-ci/ferry/modules/oci/embedded"
	"github.com/ferry-ci/ferry/modules/oci/registry"
	"github.com/ferry-ci/ferry/modules/pipeline"
)

// StateDir is where the embedded defaults live, relative to the repository
// root: registry/ (the embedded registry's storage), keys/ (the local
// signing key), deployments.git (the local deployments repository, whose
// pull requests the local forge records beside it), cache/render (the
// render check's rendered bases, reused across runs) and tmp/.
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
	// Registry is where images go: host[:port]/namespace ("ghcr.io/org");
	// an image's repository is Registry/<image>. Default: the embedded
	// registry. Credentials come from FERRY_REGISTRY_USERNAME and
	// FERRY_REGISTRY_PASSWORD, else the Docker config (docker login, and
	// GITHUB_TOKEN for ghcr.io); push access is checked before anything is
	// built.
	Registry string
	// InsecureRegistry allows plain HTTP to a Registry off loopback
	// (loopback registries may always speak HTTP). Default false.
	InsecureRegistry bool
	// Deployments is the deployments repository: a local bare repository
	// (path or file:// URL) for the local forge, or the HTTPS URL of a
	// repository on GitHub or Gitea, cloned with the token in
	// FERRY_GIT_TOKEN, else the forge token. Default: the local repository
	// under State, seeded from Root/deployments on first use.
	Deployments string
	// Forge is local, github or gitea. Default local. GitHub and Gitea take
	// their API token from FERRY_FORGE_TOKEN, else GITHUB_TOKEN or
	// GITEA_TOKEN.
	Forge string
	// ForgeURL is the forge's address: Gitea's web root, or GitHub
	// Enterprise Server's web root or API root (https://HOST/api/v3).
	// Default: derived from Deployments (api.github.com for github.com).
	ForgeURL string
	// Keyless signs with a Fulcio certificate for an OIDC identity instead
	// of the local key. Default nil: the local key.
	Keyless *Keyless
	// PublicKey is the path of a cosign public key (PEM) that verification
	// checks key signatures with instead of the local key's public half:
	// the release's Verify step, the verify command and the promotion gates
	// of promote, promote-pr and rollback. An image signed by another key
	// fails them, naming the key. Signing then needs the matching private
	// key at State/keys/cosign.key; none is generated. Not with Keyless.
	// Default: the local key's public half.
	PublicKey string
	// Concurrency bounds the services released at once. Default 2.
	Concurrency int
	// AllowDirty releases services whose inputs have uncommitted changes,
	// under their content-addressed tag only (pipeline.Config.AllowDirty).
	AllowDirty bool
	// Observer receives progress events. Default: none.
	Observer pipeline.Observer
	// Getenv reads credentials from the environment. Default os.Getenv.
	Getenv func(string) string

	deployments *deploymentsSpec
}

func (c *Config) getenv(k string) string {
	if c.Getenv == nil {
		return os.Getenv(k)
	}
	return c.Getenv(k)
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
	case ForgeLocal, ForgeGitHub, ForgeGitea:
	default:
		return pipeline.MarkTerminal(fmt.Errorf("configuring the runner: unknown forge %q (want local, github or gitea)", c.Forge))
	}
	if c.ForgeURL != "" && c.Forge == ForgeLocal {
		return pipeline.MarkTerminal(errors.New("configuring the runner: --forge-url names a github or gitea server; the local forge has none"))
	}
	if c.Registry != "" {
		if _, _, err := parseRegistry(c.Registry); err != nil {
			return err
		}
	} else if c.InsecureRegistry {
		return pipeline.MarkTerminal(errors.New("configuring the runner: --insecure-registry needs --registry (the embedded registry is on loopback)"))
	}
	if c.deployments, err = parseDeployments(*c); err != nil {
		return err
	}
	if c.PublicKey != "" {
		if c.Keyless != nil {
			return pipeline.MarkTerminal(errors.New("configuring the runner: --public-key verifies key signatures, --keyless certificate ones; give one of the two"))
		}
		if c.PublicKey, err = filepath.Abs(c.PublicKey); err != nil {
			return pipeline.MarkTerminal(fmt.Errorf("configuring the runner: --public-key: %w", err))
		}
	}
	if c.Keyless != nil {
		k := *c.Keyless
		if err := k.validate(); err != nil {
			return err
		}
		c.Keyless = &k
	}
	return nil
}

// Runner holds the targets of one run: the registry, the signing, the
// deployments repository and the forge, embedded defaults or real ones.
type Runner struct {
	cfg      Config
	reg      *embedded.Registry // nil with a real registry
	target   *registryTarget    // nil with the embedded registry
	prefix   string             // the registry prefix of image repositories
	client   *registry.Client
	signer   pipeline.Signer
	verifier pipeline.Verifier
	deploy   *deploymentsSpec
	clone    *gitrepo.Repo // the remote deployments repository's main
	promoter *gitops.Promoter
	cleanup  []func()
}

// Open starts the run's targets under cfg.State, creating what is missing:
// the embedded registry's storage, the local signing key, the local
// deployments repository seeded from Root/deployments. Real targets are
// checked instead: the forge answers to its token and the deployments
// repository clones (a real registry's push access is checked by Release,
// once it knows the repositories).
func Open(cfg Config) (*Runner, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return open(context.Background(), cfg)
}

// open starts the targets of a validated cfg.
func open(ctx context.Context, cfg Config) (_ *Runner, err error) {
	tmp := filepath.Join(cfg.State, "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", cfg.State, err)
	}
	r := &Runner{cfg: cfg, deploy: cfg.deployments}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	var ropts []remote.Option
	if cfg.Registry != "" {
		if r.target, err = newRegistryTarget(cfg); err != nil {
			return nil, err
		}
		r.prefix = r.target.prefix
		ropts = r.target.remote()
		if r.client, err = r.target.client(); err != nil {
			return nil, err
		}
	} else {
		if r.reg, err = embedded.Start(filepath.Join(cfg.State, "registry")); err != nil {
			return nil, fmt.Errorf("starting the embedded registry: %w", err)
		}
		r.prefix = r.reg.Host()
		if r.client, err = registry.New(registry.WithRetry(registry.Retry{Attempts: 3, Initial: 100 * time.Millisecond, Max: time.Second})); err != nil {
			return nil, err
		}
	}
	if cfg.Keyless != nil {
		// Verifying needs no token; Sign says what is missing.
		tokens, tokenErr := tokenSource(cfg.getenv)
		ks, err := newKeylessSigning(*cfg.Keyless, tokens, tokenErr, ropts)
		if err != nil {
			return nil, err
		}
		r.signer, r.verifier = ks, ks
	} else {
		prefix := filepath.Join(cfg.State, filepath.FromSlash(KeyPrefix))
		var keys *KeySigning
		if cfg.PublicKey != "" {
			keys, err = givenKey(cfg.PublicKey, prefix)
		} else {
			keys, err = localKey(prefix)
		}
		if err != nil {
			return nil, err
		}
		keys.remote = ropts
		r.signer, r.verifier = keys, keys
	}
	var f gitops.Forge
	repoURL := r.deploy.path
	// The rendered bases outlive the run: the next run's render check
	// starts warm (a 200-service overlay's cold render costs seconds).
	opts := []gitops.Option{gitops.WithWorkDir(tmp), gitops.WithRenderCache(filepath.Join(cfg.State, "cache", "render"))}
	if r.deploy.local() {
		if cfg.Deployments == "" {
			if err := seedDeployments(cfg.Root, r.deploy.path, tmp); err != nil {
				return nil, err
			}
		}
		lf, err := local.New(r.deploy.path)
		if err != nil {
			return nil, fmt.Errorf("opening the local forge: %w", err)
		}
		f = lf
	} else {
		rf, lister, err := r.deploy.remoteForge(cfg.Forge)
		if err != nil {
			return nil, err
		}
		dir, err := os.MkdirTemp(tmp, "deployments-")
		if err != nil {
			return nil, fmt.Errorf("creating a clone folder: %w", err)
		}
		r.cleanup = append(r.cleanup, func() { os.RemoveAll(dir) })
		if r.clone, err = r.deploy.checkRemote(ctx, lister, cfg.Forge, dir); err != nil {
			return nil, err
		}
		f, repoURL = rf, r.deploy.url
		opts = append(opts, gitops.WithAuth(r.deploy.auth()))
	}
	g := gate{client: r.client, verifier: r.verifier}
	if r.target != nil {
		g.login = r.target.login()
	}
	opts = append(opts, gitops.WithDigestChecker(g), gitops.WithSignatureVerifier(g))
	if r.promoter, err = gitops.New(repoURL, f, opts...); err != nil {
		return nil, err
	}
	return r, nil
}

// Close stops the embedded registry and drops the run's clones; everything
// else stays on disk.
func (r *Runner) Close() error {
	for _, fn := range r.cleanup {
		fn()
	}
	r.cleanup = nil
	if r.reg != nil {
		return r.reg.Close()
	}
	return nil
}

// RegistryHost is the registry prefix of the run's image repositories: the
// embedded registry's host:port, or --registry.
func (r *Runner) RegistryHost() string { return r.prefix }

// DeploymentsRepo is the local deployments repository's path, or the
// remote one's URL.
func (r *Runner) DeploymentsRepo() string {
	if r.deploy.local() {
		return r.deploy.path
	}
	return r.deploy.url
}

// PublicKey is the path of the public key verification uses: --public-key,
// else the local signing key's public half.
func (r *Runner) PublicKey() string {
	if r.cfg.PublicKey != "" {
		return r.cfg.PublicKey
	}
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
	return retarget(targets, r.prefix)
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

// retarget points planned targets at the registry prefix.
func retarget(targets []pipeline.Target, prefix string) ([]pipeline.Target, error) {
	out := make([]pipeline.Target, len(targets))
	for i, t := range targets {
		repo, err := oci.ParseRepository(prefix + "/" + t.Service.Image)
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
	targets, err := retarget(targets, r.prefix)
	if err != nil {
		return nil, err
	}
	if r.target != nil {
		for _, t := range targets {
			if err := r.target.checkPush(ctx, t.Repository); err != nil {
				return nil, err
			}
		}
	}
	return pipeline.Release(ctx, pipeline.Config{
		Steps: pipeline.Steps{
			Tester:   &GoTester{Root: r.cfg.Root},
			Builder:  &GoBuilder{Root: r.cfg.Root, Bases: r.client, Platforms: []v1.Platform{{OS: "linux", Architecture: runtime.GOARCH}}},
			Pusher:   &GoPusher{Client: r.client},
			Signer:   r.signer,
			Verifier: r.verifier,
			Promoter: &GitOpsPromoter{Promoter: r.promoter, SBOMs: &GoPusher{Client: r.client}},
		},
		Env:         r.cfg.Env,
		Concurrency: r.cfg.Concurrency,
		AllowDirty:  r.cfg.AllowDirty,
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
	if cfg.Keyless != nil && len(targets) > 0 {
		if _, err := tokenSource(cfg.getenv); err != nil {
			return nil, err
		}
	}
	r, err := open(ctx, cfg)
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

// Plan plans sel: the plan command in one call. The registry fixes the
// image repositories: the embedded one is started for its address, a real
// one is only named.
func Plan(ctx context.Context, cfg Config, sel Selection) ([]pipeline.Target, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	targets, err := plan(ctx, cfg, sel)
	if err != nil {
		return nil, err
	}
	if cfg.Registry != "" {
		// A real registry names the repositories alone: nothing to start.
		prefix, _, err := parseRegistry(cfg.Registry)
		if err != nil {
			return nil, err
		}
		return retarget(targets, prefix)
	}
	r, err := open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Plan(ctx, sel)
}

package main

import (
	"context"
	"fmt"
	"strings"

	"dagger/ci/internal/dagger"
	"dagger/ci/internal/policy"
)

// The native runner (go run ./cmd/ci) runs inside a Go container for the
// steps that are not container work: planning, and promotion and rollback
// through pull requests on the deployments repository. The module cannot
// import modules/pipeline itself: those modules declare go 1.26.8, which
// would raise ci/go.mod's go line past the Go the v0.21.9 engine builds
// modules with (see README.md).
const (
	// runnerRoot is where the repository is mounted.
	runnerRoot = "/repo"
	// runnerPublicKeyPath is where the native runner reads --public-key.
	runnerPublicKeyPath = "/run/ferry/gates/cosign.pub"
	// forgeTokenVariable, registryUserVariable and registryPasswordVariable
	// are the variables the native runner reads its credentials from.
	forgeTokenVariable       = "FERRY_FORGE_TOKEN"
	registryUserVariable     = "FERRY_REGISTRY_USERNAME"
	registryPasswordVariable = "FERRY_REGISTRY_PASSWORD"
)

// gitopsOpts say where promotions go and with which credentials.
type gitopsOpts struct {
	deployments string
	forge       string
	forgeToken  *dagger.Secret
	registry    string
	username    string
	password    *dagger.Secret
	signer      keylessSigner
	// publicKey is the cosign key the promotion gates verify a --key
	// signature with (the runner's own .ci/state key does not exist in a
	// fresh container); nil with a keyless signer.
	publicKey *dagger.File
}

// keylessSigner is whose keyless signature the promotion gates accept;
// zero, the native runner checks with its own key.
type keylessSigner struct {
	identity, identityRegexp, issuer string
}

func (k keylessSigner) set() bool { return k.identity != "" || k.identityRegexp != "" }

// args are the native runner's flags that make its gates verify keyless
// signatures of this signer.
func (k keylessSigner) args() []string {
	if !k.set() {
		return nil
	}
	args := []string{"--keyless", "--certificate-oidc-issuer", k.issuer}
	if k.identity != "" {
		return append(args, "--certificate-identity", k.identity)
	}
	return append(args, "--certificate-identity-regexp", k.identityRegexp)
}

func (o gitopsOpts) validate() error {
	if o.deployments == "" {
		return fmt.Errorf("choosing the deployments repository: %w: give --deployments, its git URL (e.g. https://github.com/ORG/REPO.git)", policy.ErrInvalid)
	}
	if err := policy.ValidateFlagValue("deployments", o.deployments); err != nil {
		return err
	}
	switch o.forge {
	case "github", "gitea":
	default:
		return fmt.Errorf("choosing the forge: %w: --forge %q: want github or gitea", policy.ErrInvalid, o.forge)
	}
	if o.forgeToken == nil {
		return fmt.Errorf("reading forge credentials: %w: give --forge-token (e.g. env://GITHUB_TOKEN); it opens the pull request", policy.ErrInvalid)
	}
	if o.registry != "" {
		if err := policy.ValidateRegistry(o.registry); err != nil {
			return err
		}
	}
	if (o.username == "") != (o.password == nil) {
		return fmt.Errorf("reading registry credentials: %w: give --username and --password together", policy.ErrInvalid)
	}
	if o.signer.set() {
		if o.publicKey != nil {
			return fmt.Errorf("choosing whose signature the gates accept: %w: --public-key verifies --key signatures, not keyless ones; give one of the two", policy.ErrInvalid)
		}
		return policy.ValidateIdentity(o.signer.identity, o.signer.identityRegexp, o.signer.issuer)
	}
	return nil
}

// args are the native runner's flags for these options.
func (o gitopsOpts) args() []string {
	args := []string{"--deployments", o.deployments, "--forge", o.forge}
	if o.registry != "" {
		args = append(args, "--registry", o.registry)
	}
	if o.publicKey != nil {
		args = append(args, "--public-key", runnerPublicKeyPath)
	}
	return append(args, o.signer.args()...)
}

// with adds the credentials as the runner's variables, secrets as secrets.
func (o gitopsOpts) with(ctr *dagger.Container) *dagger.Container {
	ctr = ctr.WithSecretVariable(forgeTokenVariable, o.forgeToken)
	if o.publicKey != nil {
		ctr = ctr.WithMountedFile(runnerPublicKeyPath, o.publicKey)
	}
	if o.password != nil {
		ctr = ctr.WithEnvVariable(registryUserVariable, o.username).
			WithSecretVariable(registryPasswordVariable, o.password)
	}
	return ctr
}

// nativeRunner is the Go toolchain over src mounted at runnerRoot. The
// repository's go.mod may ask for a newer Go patch than the image has, so
// the toolchain may switch (the module proxy serves it).
func nativeRunner(src *dagger.Directory) *dagger.Container {
	return goToolchain().
		WithEnvVariable("GOTOOLCHAIN", "auto").
		WithEnvVariable("GOFLAGS", "-mod=readonly").
		WithDirectory(runnerRoot, src).
		WithWorkdir(runnerRoot)
}

// runNative runs `go run ./cmd/ci <command> <args> --root /repo --output
// json` in ctr and returns what it printed. fresh runs it even when an
// identical run is in the engine's cache: commands that read or change a
// forge or registry need that; those that read only ctr's files do not.
func runNative(ctx context.Context, ctr *dagger.Container, fresh bool, command string, args ...string) (string, error) {
	argv := append([]string{"go", "run", "./cmd/ci", command}, args...)
	argv = append(argv, "--root", runnerRoot, "--output", "json")
	if fresh {
		ctr = uncached(ctr)
	}
	out, err := ctr.WithExec(argv).Stdout(ctx)
	if err != nil {
		return "", fmt.Errorf("running ci %s: %w", command, err)
	}
	return out, nil
}

// Plan returns the services a push from base to head changed, as the JSON
// list release.yml turns into its matrix, e.g. ["scheduler-worker"]. A base
// of forty zeros (a new branch) or none plans every service.
func (m *Ci) Plan(
	ctx context.Context,
	// Revision the push started from (GitHub's event.before).
	// +optional
	base string,
	// Revision the push ended at; defaults to the repository's HEAD.
	// +optional
	head string,
	// Commits of history to load behind head; base must be among them.
	// +default=100
	depth int,
) (string, error) {
	if base == "" || base == policy.ZeroRevision {
		names, err := m.contractServices(ctx)
		if err != nil {
			return "", err
		}
		return jsonList(names), nil
	}
	if err := policy.ValidateRevision("base", base); err != nil {
		return "", err
	}
	if m.Repo == nil {
		return "", fmt.Errorf("planning: %w: no git repository to diff", policy.ErrInvalid)
	}
	if depth < 1 {
		return "", fmt.Errorf("planning: %w: --depth %d must be at least 1", policy.ErrInvalid, depth)
	}
	ref := m.Repo.Head()
	if head != "" {
		if err := policy.ValidateRevision("head", head); err != nil {
			return "", err
		}
		ref = m.Repo.Commit(head)
	}
	tree := ref.Tree(dagger.GitRefTreeOpts{Depth: depth})
	out, err := runNative(ctx, nativeRunner(tree), false, "plan", "--since", base)
	if err != nil {
		return "", fmt.Errorf("planning since %q: %w", base, err)
	}
	names, err := policy.PlanServices(out)
	if err != nil {
		return "", err
	}
	return jsonList(names), nil
}

// contractServices lists the folders under services/ that hold a
// service.yaml, the services a full plan covers.
func (m *Ci) contractServices(ctx context.Context) ([]string, error) {
	entries, err := m.Source.Entries(ctx, dagger.DirectoryEntriesOpts{Path: "services"})
	if err != nil {
		return nil, fmt.Errorf("listing services: %w", err)
	}
	names := []string{}
	for _, e := range entries {
		name, ok := policy.ServiceFromEntry(e)
		if !ok {
			continue
		}
		file := policy.ServiceDir(name) + "/service.yaml"
		has, err := m.Source.Exists(ctx, file)
		if err != nil {
			return nil, fmt.Errorf("looking for %q: %w", file, err)
		}
		if has {
			names = append(names, name)
		}
	}
	return names, nil
}

// jsonList renders validated service names as a JSON list of strings.
func jsonList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = `"` + n + `"`
	}
	return "[" + strings.Join(quoted, ",") + "]"
}

// PromotePR opens (or finds) the pull request that pins an image, by
// digest, in an environment's overlay of the deployments repository, and
// returns the native runner's JSON account of it.
// +cache="never"
func (m *Ci) PromotePR(
	ctx context.Context,
	// Service whose image is pinned.
	service string,
	// Image pinned by digest: repo@sha256:...
	ref string,
	// Environment whose overlay pins it.
	// +default="staging"
	env string,
	// Git URL of the deployments repository, e.g. https://github.com/ORG/REPO.git.
	// +optional
	deployments string,
	// Forge that hosts it: github or gitea.
	// +default="github"
	forge string,
	// Forge token that may push a branch and open a pull request.
	// +optional
	forgeToken *dagger.Secret,
	// Registry user name, for the gate that checks the digest exists.
	// +optional
	username string,
	// Registry password or token that may read the image.
	// +optional
	password *dagger.Secret,
	// Keyless: the certificate identity the promotion gate requires of the image's signature.
	// +optional
	certificateIdentity string,
	// Keyless: an anchored regular expression of identities the gate accepts.
	// +optional
	certificateIdentityRegexp string,
	// Keyless: the OIDC issuer of the signer's token.
	// +default="https://token.actions.githubusercontent.com"
	certificateOidcIssuer string,
	// Cosign public key the gate verifies a --key signature with, instead of a keyless identity.
	// +optional
	publicKey *dagger.File,
) (string, error) {
	return m.promotePR(ctx, service, ref, env, gitopsOpts{deployments: deployments, forge: forge, forgeToken: forgeToken, username: username, password: password,
		signer: keylessSigner{identity: certificateIdentity, identityRegexp: certificateIdentityRegexp, issuer: certificateOidcIssuer}, publicKey: publicKey})
}

// promotePR is PromotePR with its options gathered, shared with Release.
func (m *Ci) promotePR(ctx context.Context, service, ref, env string, o gitopsOpts) (string, error) {
	if err := policy.ValidateService(service); err != nil {
		return "", err
	}
	if err := policy.ValidateDigestAddress(ref); err != nil {
		return "", err
	}
	if err := policy.ValidateEnv(env); err != nil {
		return "", err
	}
	if err := o.validate(); err != nil {
		return "", err
	}
	args := append([]string{"--service", service, "--image", ref, "--env", env}, o.args()...)
	out, err := runNative(ctx, o.with(nativeRunner(m.Source)), true, "promote-pr", args...)
	if err != nil {
		return "", fmt.Errorf("promoting %q to %s: %w", ref, env, err)
	}
	return out, nil
}

// Promote opens the pull request that pins in one environment (production)
// the digest another (staging) runs: nothing is rebuilt, and the gates
// check the digest exists and its signature verifies. It returns the native
// runner's JSON account of the promotion.
// +cache="never"
func (m *Ci) Promote(
	ctx context.Context,
	// Service to promote.
	service string,
	// Environment whose pinned digest is copied.
	// +default="staging"
	from string,
	// Environment that gets it.
	// +default="production"
	to string,
	// Git URL of the deployments repository, e.g. https://github.com/ORG/REPO.git.
	// +optional
	deployments string,
	// Forge that hosts it: github or gitea.
	// +default="github"
	forge string,
	// Forge token that may push a branch and open a pull request.
	// +optional
	forgeToken *dagger.Secret,
	// Registry prefix of the images, e.g. ghcr.io/ferry-ci.
	// +optional
	registry string,
	// Registry user name, for the gates that read the image.
	// +optional
	username string,
	// Registry password or token that may read the image and its signatures.
	// +optional
	password *dagger.Secret,
	// Keyless: the certificate identity the promotion gate requires of the image's signature.
	// +optional
	certificateIdentity string,
	// Keyless: an anchored regular expression of identities the gate accepts.
	// +optional
	certificateIdentityRegexp string,
	// Keyless: the OIDC issuer of the signer's token.
	// +default="https://token.actions.githubusercontent.com"
	certificateOidcIssuer string,
	// Cosign public key the gate verifies a --key signature with, instead of a keyless identity.
	// +optional
	publicKey *dagger.File,
) (string, error) {
	if err := policy.ValidateService(service); err != nil {
		return "", err
	}
	for _, e := range []string{from, to} {
		if err := policy.ValidateEnv(e); err != nil {
			return "", err
		}
	}
	if from == to {
		return "", fmt.Errorf("promoting %q: %w: --from and --to are both %q", service, policy.ErrInvalid, from)
	}
	o := gitopsOpts{deployments: deployments, forge: forge, forgeToken: forgeToken, registry: registry, username: username, password: password,
		signer: keylessSigner{identity: certificateIdentity, identityRegexp: certificateIdentityRegexp, issuer: certificateOidcIssuer}, publicKey: publicKey}
	if err := o.validate(); err != nil {
		return "", err
	}
	args := append([]string{"--service", service, "--from", from, "--env", to}, o.args()...)
	out, err := runNative(ctx, o.with(nativeRunner(m.Source)), true, "promote", args...)
	if err != nil {
		return "", fmt.Errorf("promoting %q from %s to %s: %w", service, from, to, err)
	}
	return out, nil
}

// Rollback opens the pull request that reverts the promotion an
// environment runs for a service, restoring the digest it pinned before,
// and returns the native runner's JSON account of it.
// +cache="never"
func (m *Ci) Rollback(
	ctx context.Context,
	// Service to roll back.
	service string,
	// Environment to roll back.
	// +default="production"
	env string,
	// Git URL of the deployments repository, e.g. https://github.com/ORG/REPO.git.
	// +optional
	deployments string,
	// Forge that hosts it: github or gitea.
	// +default="github"
	forge string,
	// Forge token that may push a branch and open a pull request.
	// +optional
	forgeToken *dagger.Secret,
	// Registry prefix of the images, e.g. ghcr.io/ferry-ci.
	// +optional
	registry string,
	// Registry user name, for the gates that read the restored image.
	// +optional
	username string,
	// Registry password or token that may read the image and its signatures.
	// +optional
	password *dagger.Secret,
	// Keyless: the certificate identity the gate requires of the restored image's signature.
	// +optional
	certificateIdentity string,
	// Keyless: an anchored regular expression of identities the gate accepts.
	// +optional
	certificateIdentityRegexp string,
	// Keyless: the OIDC issuer of the signer's token.
	// +default="https://token.actions.githubusercontent.com"
	certificateOidcIssuer string,
	// Cosign public key the gate verifies a --key signature with, instead of a keyless identity.
	// +optional
	publicKey *dagger.File,
) (string, error) {
	if err := policy.ValidateService(service); err != nil {
		return "", err
	}
	if err := policy.ValidateEnv(env); err != nil {
		return "", err
	}
	// The revert's digest passes the same gates as any promotion: it must
	// still exist and verify.
	o := gitopsOpts{deployments: deployments, forge: forge, forgeToken: forgeToken, registry: registry, username: username, password: password,
		signer: keylessSigner{identity: certificateIdentity, identityRegexp: certificateIdentityRegexp, issuer: certificateOidcIssuer}, publicKey: publicKey}
	if err := o.validate(); err != nil {
		return "", err
	}
	args := append([]string{"--service", service, "--env", env}, o.args()...)
	out, err := runNative(ctx, o.with(nativeRunner(m.Source)), true, "rollback", args...)
	if err != nil {
		return "", fmt.Errorf("rolling back %q in %s: %w", service, env, err)
	}
	return out, nil
}

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"dagger/ci/internal/dagger"
	"dagger/ci/internal/policy"
)

// The cosign CLI the module runs when no --cosign-image is given: built
// from its module with the pinned Go image, so the Go checksum database
// pins its bytes as a digest would. No registry is reachable from the
// machines this module is developed on, so no cosign image digest could be
// checked here; --cosign-image takes a published one.
const (
	cosignPackage = "github.com/sigstore/cosign/v3/cmd/cosign"
	cosignVersion = "v3.1.3"
	// cosignImageBinary is where ko, which builds sigstore's published
	// cosign images, puts the binary.
	cosignImageBinary = "/ko-app/cosign"
)

// Paths inside the signing container. Secrets are mounted, never copied:
// a mounted secret is not part of any layer or cache key.
const (
	cosignKeyPath   = "/run/ferry/cosign.key"
	cosignPubPath   = "/run/ferry/cosign.pub"
	dockerConfigDir = "/run/ferry/docker"
)

// defaultOIDCIssuer is the issuer of GitHub Actions' OIDC tokens, the
// signer of keyless releases.
const defaultOIDCIssuer = "https://token.actions.githubusercontent.com"

// cosignScript writes the registry credential from the environment into a
// docker config on a tmpfs (cosign reads registry credentials only from
// there or from its command line), then runs cosign with the arguments it
// was given. The password reaches neither a command line nor a layer.
const cosignScript = `set -eu
umask 077
if [ -n "${REGISTRY_PASSWORD:-}" ]; then
  auth=$(printf '%s:%s' "$REGISTRY_USERNAME" "$REGISTRY_PASSWORD" | base64 | tr -d '\n')
  printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$REGISTRY_HOST" "$auth" > "$DOCKER_CONFIG/config.json"
fi
exec cosign "$@"`

// cosignOpts are the inputs every cosign run shares.
type cosignOpts struct {
	image    string
	username string
	password *dagger.Secret
}

// signOpts say how Sign signs.
type signOpts struct {
	cosignOpts
	key, keyPassword                         *dagger.Secret
	keyless                                  bool
	oidcToken, oidcRequestURL, oidcRequestTk *dagger.Secret
}

// verifyOpts say whose signature Verify accepts.
type verifyOpts struct {
	cosignOpts
	publicKey                        *dagger.File
	identity, identityRegexp, issuer string
}

func (o cosignOpts) validate() error {
	if (o.username == "") != (o.password == nil) {
		return fmt.Errorf("reading registry credentials: %w: give --username and --password together", policy.ErrInvalid)
	}
	if o.image != "" {
		return policy.ValidateImageRef("cosign-image", o.image)
	}
	return nil
}

func (o signOpts) validate() error {
	if err := o.cosignOpts.validate(); err != nil {
		return err
	}
	switch {
	case o.keyless && o.key != nil:
		return fmt.Errorf("choosing a signing key: %w: give --key or --keyless, not both", policy.ErrInvalid)
	case !o.keyless && o.key == nil:
		return fmt.Errorf("choosing a signing key: %w: give --key (a cosign private key, e.g. file://cosign.key) or --keyless", policy.ErrInvalid)
	case !o.keyless && (o.oidcToken != nil || o.oidcRequestURL != nil || o.oidcRequestTk != nil):
		return fmt.Errorf("choosing a signing key: %w: OIDC tokens are for --keyless", policy.ErrInvalid)
	case o.keyless && o.keyPassword != nil:
		return fmt.Errorf("choosing a signing key: %w: --key-password is for --key", policy.ErrInvalid)
	case o.keyless && o.oidcToken == nil && (o.oidcRequestURL == nil || o.oidcRequestTk == nil):
		return fmt.Errorf("choosing a signing key: %w: --keyless needs --oidc-token, or --oidc-request-url with --oidc-request-token (GitHub Actions, id-token: write)", policy.ErrInvalid)
	case o.oidcToken != nil && (o.oidcRequestURL != nil || o.oidcRequestTk != nil):
		return fmt.Errorf("choosing a signing key: %w: give --oidc-token or the OIDC request pair, not both", policy.ErrInvalid)
	}
	return nil
}

func (o verifyOpts) validate() error {
	if err := o.cosignOpts.validate(); err != nil {
		return err
	}
	keyless := o.identity != "" || o.identityRegexp != ""
	if keyless == (o.publicKey != nil) {
		return fmt.Errorf("choosing whose signature to accept: %w: give --public-key, or --certificate-identity (or -regexp) for keyless, one of the two", policy.ErrInvalid)
	}
	if keyless {
		return policy.ValidateIdentity(o.identity, o.identityRegexp, o.issuer)
	}
	return nil
}

// Sign signs an image pinned by digest with the real cosign CLI in a
// container and returns where the signature is stored (cosign's
// {repo}:sha256-{hex}.sig). With --key the private key is mounted as a
// secret file and its password is a secret variable; the signature is not
// uploaded to a transparency log. With --keyless cosign gets a Fulcio
// certificate for the OIDC token (given, or requested from GitHub Actions)
// and logs the signature in Rekor.
// +cache="never"
func (m *Ci) Sign(
	ctx context.Context,
	// Image to sign, pinned by digest: repo@sha256:...
	ref string,
	// Cosign private key, e.g. file://cosign.key or env://COSIGN_KEY.
	// +optional
	key *dagger.Secret,
	// Password of the private key; empty when not given.
	// +optional
	keyPassword *dagger.Secret,
	// Sign keyless with a Fulcio certificate instead of a key.
	// +optional
	keyless bool,
	// OIDC identity token for keyless signing.
	// +optional
	oidcToken *dagger.Secret,
	// GitHub Actions' token request URL (env://ACTIONS_ID_TOKEN_REQUEST_URL).
	// +optional
	oidcRequestUrl *dagger.Secret,
	// GitHub Actions' token request token (env://ACTIONS_ID_TOKEN_REQUEST_TOKEN).
	// +optional
	oidcRequestToken *dagger.Secret,
	// Registry user name; required with --password.
	// +optional
	username string,
	// Registry password or token that may write the signature.
	// +optional
	password *dagger.Secret,
	// A cosign image pinned by digest to run instead of building cosign v3.1.3.
	// +optional
	cosignImage string,
) (string, error) {
	return m.sign(ctx, ref, signOpts{
		cosignOpts: cosignOpts{image: cosignImage, username: username, password: password},
		key:        key, keyPassword: keyPassword, keyless: keyless,
		oidcToken: oidcToken, oidcRequestURL: oidcRequestUrl, oidcRequestTk: oidcRequestToken,
	})
}

// sign is Sign once its inputs are gathered (it validates them), shared
// with Release.
func (m *Ci) sign(ctx context.Context, ref string, o signOpts) (string, error) {
	sigTag, err := policy.SignatureTag(ref)
	if err != nil {
		return "", err
	}
	if err := o.validate(); err != nil {
		return "", err
	}
	ctr := cosignContainer(ref, o.cosignOpts)
	keyPath := ""
	if o.keyless {
		switch {
		case o.oidcToken != nil:
			ctr = ctr.WithSecretVariable("SIGSTORE_ID_TOKEN", o.oidcToken)
		default:
			ctr = ctr.WithSecretVariable("ACTIONS_ID_TOKEN_REQUEST_URL", o.oidcRequestURL).
				WithSecretVariable("ACTIONS_ID_TOKEN_REQUEST_TOKEN", o.oidcRequestTk)
		}
	} else {
		ctr = ctr.WithMountedSecret(cosignKeyPath, o.key)
		if o.keyPassword != nil {
			ctr = ctr.WithSecretVariable("COSIGN_PASSWORD", o.keyPassword)
		} else {
			ctr = ctr.WithEnvVariable("COSIGN_PASSWORD", "")
		}
		keyPath = cosignKeyPath
	}
	if _, err := runCosign(ctx, ctr, signArgs(keyPath, ref)); err != nil {
		return "", fmt.Errorf("signing %q: %w", ref, err)
	}
	return sigTag, nil
}

// Verify checks the signatures of an image pinned by digest with the real
// cosign CLI and returns what cosign verified (its JSON). With
// --public-key it accepts signatures of that key (not logged, as Sign
// makes them); with --certificate-identity(-regexp) keyless signatures of
// that identity, issued for --certificate-oidc-issuer and logged in Rekor.
// It reads the registry, which changes between calls: never cached.
// +cache="never"
func (m *Ci) Verify(
	ctx context.Context,
	// Image to verify, pinned by digest: repo@sha256:...
	ref string,
	// Cosign public key of the signer.
	// +optional
	publicKey *dagger.File,
	// Keyless: the exact certificate identity, e.g. https://github.com/ORG/REPO/.github/workflows/dagger.yml@refs/heads/main.
	// +optional
	certificateIdentity string,
	// Keyless: an anchored regular expression the certificate identity must match.
	// +optional
	certificateIdentityRegexp string,
	// Keyless: the OIDC issuer of the signer's token.
	// +default="https://token.actions.githubusercontent.com"
	certificateOidcIssuer string,
	// Registry user name; required with --password.
	// +optional
	username string,
	// Registry password or token that may read the image and its signatures.
	// +optional
	password *dagger.Secret,
	// A cosign image pinned by digest to run instead of building cosign v3.1.3.
	// +optional
	cosignImage string,
) (string, error) {
	return m.verify(ctx, ref, verifyOpts{
		cosignOpts: cosignOpts{image: cosignImage, username: username, password: password},
		publicKey:  publicKey, identity: certificateIdentity, identityRegexp: certificateIdentityRegexp, issuer: certificateOidcIssuer,
	})
}

// verify is Verify once its inputs are gathered (it validates them),
// shared with Release.
func (m *Ci) verify(ctx context.Context, ref string, o verifyOpts) (string, error) {
	if err := policy.ValidateDigestAddress(ref); err != nil {
		return "", err
	}
	if err := o.validate(); err != nil {
		return "", err
	}
	ctr := cosignContainer(ref, o.cosignOpts)
	pubPath := ""
	if o.publicKey != nil {
		ctr = ctr.WithMountedFile(cosignPubPath, o.publicKey)
		pubPath = cosignPubPath
	}
	out, err := runCosign(ctx, ctr, verifyArgs(pubPath, o, ref))
	if err != nil {
		return "", fmt.Errorf("verifying %q: %w", ref, err)
	}
	return out, nil
}

// signArgs is cosign's command line that signs ref with the private key at
// keyPath (not logged in Rekor), or keyless when keyPath is empty. Both
// write cosign's legacy .sig format, as the native runner does.
func signArgs(keyPath, ref string) []string {
	args := []string{"sign", "--yes", "--use-signing-config=false", "--new-bundle-format=false"}
	if keyPath != "" {
		args = append(args, "--key", keyPath, "--tlog-upload=false")
	}
	return append(args, ref)
}

// verifyArgs is cosign's command line that verifies ref against the public
// key at pubPath (signatures not logged), or keyless against o's identity
// when pubPath is empty.
func verifyArgs(pubPath string, o verifyOpts, ref string) []string {
	args := []string{"verify", "--new-bundle-format=false", "--output", "json"}
	switch {
	case pubPath != "":
		args = append(args, "--key", pubPath, "--insecure-ignore-tlog=true")
	case o.identity != "":
		args = append(args, "--certificate-oidc-issuer", o.issuer, "--certificate-identity", o.identity)
	default:
		args = append(args, "--certificate-oidc-issuer", o.issuer, "--certificate-identity-regexp", o.identityRegexp)
	}
	return append(args, ref)
}

// cosignContainer returns a container with the cosign CLI on PATH, a
// shell for cosignScript, and the registry credential of ref's host as
// variables (the password a secret one) when one is given.
func cosignContainer(ref string, o cosignOpts) *dagger.Container {
	var bin *dagger.File
	if o.image == "" {
		bin = goToolchain().
			WithEnvVariable("CGO_ENABLED", "0").
			WithEnvVariable("GOBIN", "/out").
			WithExec([]string{"go", "install", cosignPackage + "@" + cosignVersion}).
			File("/out/cosign")
	} else {
		bin = dag.Container().From(o.image).File(cosignImageBinary)
	}
	ctr := dag.Container().From(goImage).
		WithFile("/usr/local/bin/cosign", bin, dagger.ContainerWithFileOpts{Permissions: 0o755}).
		WithMountedTemp(dockerConfigDir).
		WithEnvVariable("DOCKER_CONFIG", dockerConfigDir).
		// An empty HOME-relative TUF cache per run: nothing from an
		// earlier run's trust root is reused without a check.
		WithMountedTemp("/root/.sigstore")
	if o.password != nil {
		ctr = ctr.WithEnvVariable("REGISTRY_HOST", policy.RegistryHost(ref)).
			WithEnvVariable("REGISTRY_USERNAME", o.username).
			WithSecretVariable("REGISTRY_PASSWORD", o.password)
	}
	return ctr
}

// runCosign runs cosign with args through cosignScript, uncached, and
// returns its standard output.
func runCosign(ctx context.Context, ctr *dagger.Container, args []string) (string, error) {
	return uncached(ctr).WithExec(append([]string{"sh", "-c", cosignScript, "cosign"}, args...)).Stdout(ctx)
}

// uncached makes the next exec of ctr run even when an identical one ran
// before: the engine caches execs by their inputs, and a step that changes
// the world (a signature, a pull request) or reads it (a verification)
// must not be answered from that cache.
func uncached(ctr *dagger.Container) *dagger.Container {
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (Go 1.24+)
	return ctr.WithEnvVariable(runIDVariable, hex.EncodeToString(nonce))
}

// runIDVariable carries the per-run nonce of uncached execs.
const runIDVariable = "FERRY_RUN_ID"

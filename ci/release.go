package main

import (
	"context"
	"encoding/json"
	"fmt"

	"dagger/ci/internal/dagger"
	"dagger/ci/internal/policy"
)

// releaseResult is what Release returns, as JSON.
type releaseResult struct {
	Service   string `json:"service"`
	Env       string `json:"env"`
	Image     string `json:"image"`
	Signature string `json:"signature"`
	// Signed is false when a signature that satisfies the policy was
	// there already (a repeated release of the same digest) and none was
	// added.
	Signed    bool            `json:"signed"`
	Verified  json.RawMessage `json:"verified"`
	Promotion json.RawMessage `json:"promotion"`
}

// Release runs the release pipeline of one service in the order of
// modules/pipeline: Test, Build, Push, Sign, Verify, PromotePR. A failed
// step stops the release: an image whose tests failed is never pushed, one
// that did not verify is never promoted. Sign is skipped when the pushed
// digest already carries a signature Verify accepts. It returns the pinned image, the
// signature, what verified and the pull request, as JSON.
// +cache="never"
func (m *Ci) Release(
	ctx context.Context,
	// Service to release: a folder under services/.
	service string,
	// Environment the tag names and the pull request promotes to.
	// +default="staging"
	env string,
	// Repository prefix to publish under, host[:port][/path].
	// +default="ghcr.io/ferry-ci"
	registry string,
	// Registry user name; required with --password.
	// +optional
	username string,
	// Registry password or token that may push the image and its signature.
	// +optional
	password *dagger.Secret,
	// Commit the image is built from; defaults to the repository's HEAD.
	// +optional
	gitSha string,
	// Build time, RFC 3339 UTC; defaults to 1970-01-01T00:00:00Z.
	// +optional
	buildTs string,
	// Cosign private key, e.g. file://cosign.key; or --keyless.
	// +optional
	key *dagger.Secret,
	// Password of the private key.
	// +optional
	keyPassword *dagger.Secret,
	// Cosign public key that Verify checks a --key signature with.
	// +optional
	publicKey *dagger.File,
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
	// Keyless: the certificate identity Verify requires (the workflow that signs).
	// +optional
	certificateIdentity string,
	// Keyless: an anchored regular expression of identities Verify accepts.
	// +optional
	certificateIdentityRegexp string,
	// Keyless: the OIDC issuer of the signer's token.
	// +default="https://token.actions.githubusercontent.com"
	certificateOidcIssuer string,
	// Git URL of the deployments repository, e.g. https://github.com/ORG/REPO.git.
	// +optional
	deployments string,
	// Forge that hosts it: github or gitea.
	// +default="github"
	forge string,
	// Forge token that may push a branch and open a pull request.
	// +optional
	forgeToken *dagger.Secret,
	// A cosign image pinned by digest to run instead of building cosign v3.1.3.
	// +optional
	cosignImage string,
) (string, error) {
	cosign := cosignOpts{image: cosignImage, username: username, password: password}
	so := signOpts{cosignOpts: cosign, key: key, keyPassword: keyPassword, keyless: keyless,
		oidcToken: oidcToken, oidcRequestURL: oidcRequestUrl, oidcRequestTk: oidcRequestToken}
	vo := verifyOpts{cosignOpts: cosign, publicKey: publicKey,
		identity: certificateIdentity, identityRegexp: certificateIdentityRegexp, issuer: certificateOidcIssuer}
	gitops := gitopsOpts{deployments: deployments, forge: forge, forgeToken: forgeToken, username: username, password: password}
	if keyless {
		// The promotion gate verifies the signature again, against the
		// same signer Verify requires.
		gitops.signer = keylessSigner{identity: certificateIdentity, identityRegexp: certificateIdentityRegexp, issuer: certificateOidcIssuer}
	} else {
		// With the same key Verify uses: the container has no other.
		gitops.publicKey = publicKey
	}
	// Every input is checked before the first step: a release that would
	// fail at Sign or PromotePR must not push first.
	if err := policy.ValidateService(service); err != nil {
		return "", err
	}
	if err := policy.ValidateEnv(env); err != nil {
		return "", err
	}
	for _, check := range []func() error{so.validate, vo.validate, gitops.validate} {
		if err := check(); err != nil {
			return "", fmt.Errorf("releasing %q: %w", service, err)
		}
	}
	if keyless && publicKey != nil {
		return "", fmt.Errorf("releasing %q: %w: --public-key verifies --key signatures, not --keyless ones", service, policy.ErrInvalid)
	}

	res := releaseResult{Service: service, Env: env}
	if _, err := m.Test(ctx, service); err != nil {
		return "", fmt.Errorf("releasing %q: step test: %w", service, err)
	}
	// Push builds the image (the Build step) and publishes it.
	image, err := m.Push(ctx, service, env, registry, username, password, gitSha, buildTs)
	if err != nil {
		return "", fmt.Errorf("releasing %q: step push: %w", service, err)
	}
	res.Image = image
	// A repeated release pushes the same digest (the build is
	// reproducible): signing it again would only stack another signature
	// on its .sig tag, so an accepted one is kept, as modules/pipeline
	// does for an image it finds by fingerprint.
	verified, err := m.verify(ctx, image, vo)
	if err != nil {
		if res.Signature, err = m.sign(ctx, image, so); err != nil {
			return "", fmt.Errorf("releasing %q: step sign: %w", service, err)
		}
		res.Signed = true
		verified, err = m.verify(ctx, image, vo)
	} else {
		res.Signature, err = policy.SignatureTag(image)
	}
	if err != nil {
		return "", fmt.Errorf("releasing %q: step verify: %w", service, err)
	}
	res.Verified = rawJSON(verified)
	promotion, err := m.promotePR(ctx, service, image, env, gitops)
	if err != nil {
		return "", fmt.Errorf("releasing %q: step promote: %w", service, err)
	}
	res.Promotion = rawJSON(promotion)
	out, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return "", fmt.Errorf("writing the release of %q: %w", service, err)
	}
	return string(out), nil
}

// rawJSON keeps a tool's JSON output as it is, or as a JSON string when it
// is not JSON, so the result always marshals.
func rawJSON(s string) json.RawMessage {
	if json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	q, _ := json.Marshal(s)
	return q
}

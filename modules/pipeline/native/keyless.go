package native

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-ci/ferry/modules/oci"
	"github.com/ferry-ci/ferry/modules/pipeline"
	"github.com/ferry-ci/ferry/modules/signing"
	"github.com/ferry-ci/ferry/modules/signing/oidc"
)

// The public Sigstore instances, the keyless defaults.
const (
	PublicFulcio = "https://fulcio.sigstore.dev"
	PublicRekor  = "https://rekor.sigstore.dev"
)

// IDTokenEnv holds an OIDC identity token for keyless signing. Unset, the
// token is requested from GitHub Actions (ACTIONS_ID_TOKEN_REQUEST_URL and
// ACTIONS_ID_TOKEN_REQUEST_TOKEN, which a job with id-token: write has).
const IDTokenEnv = "SIGSTORE_ID_TOKEN"

// Keyless signs with a short-lived Fulcio certificate for the identity of
// an OIDC token, logged in Rekor, instead of the local key; verification
// checks the certificate's identity against a trusted root.
type Keyless struct {
	// FulcioURL is the certificate authority. Default PublicFulcio.
	FulcioURL string
	// RekorURL is the transparency log (Rekor v1). Default PublicRekor.
	RekorURL string
	// TrustedRoot is the path of the trusted_root.json (cosign's
	// --trusted-root) that verification chains to. Required: the runner
	// fetches no TUF metadata.
	TrustedRoot string
	// Identity is the signer verification accepts: an issuer and a subject,
	// each exact or an anchored regular expression. Required.
	Identity signing.Identity
	// SkipSCTUnsafe accepts certificates without a certificate
	// transparency timestamp (a private Fulcio with no CT log).
	SkipSCTUnsafe bool
}

func (k *Keyless) validate() error {
	bad := func(format string, args ...any) error {
		return pipeline.MarkTerminal(fmt.Errorf("configuring keyless signing: "+format, args...))
	}
	if k.FulcioURL == "" {
		k.FulcioURL = PublicFulcio
	}
	if k.RekorURL == "" {
		k.RekorURL = PublicRekor
	}
	for flag, v := range map[string]string{"--fulcio-url": k.FulcioURL, "--rekor-url": k.RekorURL} {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			return bad("%s %q: want an http(s) URL without credentials", flag, v)
		}
		if u.Scheme == "http" && !isLoopback(u.Host) {
			return bad("%s %s: plain HTTP off loopback; use https", flag, v)
		}
	}
	if k.TrustedRoot == "" {
		return bad("--trusted-root is required: the trusted_root.json of the Fulcio and Rekor instances (cosign's --trusted-root)")
	}
	id := k.Identity
	if id.Issuer == "" && id.IssuerRegexp == "" {
		return bad("--certificate-oidc-issuer (or --certificate-oidc-issuer-regexp) is required: the OIDC issuer verification accepts")
	}
	if id.Subject == "" && id.SubjectRegexp == "" {
		return bad("--certificate-identity (or --certificate-identity-regexp) is required: the signer identity verification accepts")
	}
	return nil
}

// tokenSource returns where keyless signing gets its identity token: the
// token in SIGSTORE_ID_TOKEN (checked for shape and expiry now), else
// GitHub Actions' OIDC provider. Neither is a terminal error naming them.
func tokenSource(getenv func(string) string) (signing.TokenSource, error) {
	if tok := getenv(IDTokenEnv); tok != "" {
		if _, err := oidc.Parse(tok, time.Now()); err != nil {
			return nil, pipeline.MarkTerminal(fmt.Errorf("reading %s: %w", IDTokenEnv, err))
		}
		return oidc.Static(tok), nil
	}
	u, t := getenv("ACTIONS_ID_TOKEN_REQUEST_URL"), getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	if u == "" || t == "" {
		return nil, pipeline.MarkTerminal(fmt.Errorf("keyless signing needs an identity token: set %s, or run in GitHub Actions with permissions: id-token: write (%w)", IDTokenEnv, oidc.ErrNotInGitHubActions))
	}
	return &oidc.GitHubActions{RequestURL: u, RequestToken: t}, nil
}

// KeylessSigning signs with Fulcio and Rekor and verifies against a
// keyless identity, in cosign's legacy format.
type KeylessSigning struct {
	tokens signing.TokenSource
	// tokenErr says why there is no token source.
	tokenErr error
	fulcio   string
	tlog     signing.TransparencyLog
	policy   *signing.Policy
	remote   []remote.Option
}

var (
	_ pipeline.Signer   = (*KeylessSigning)(nil)
	_ pipeline.Verifier = (*KeylessSigning)(nil)
)

// newKeylessSigning loads the trusted root and builds the policy. Without a
// token source (tokenErr says why) it only verifies: verify, promote and
// rollback need no identity.
func newKeylessSigning(k Keyless, tokens signing.TokenSource, tokenErr error, ropts []remote.Option) (*KeylessSigning, error) {
	trusted, err := signing.LoadTrustedRoot(k.TrustedRoot)
	if err != nil {
		return nil, pipeline.MarkTerminal(fmt.Errorf("configuring keyless signing: %w", err))
	}
	var opts []signing.PolicyOption
	if k.SkipSCTUnsafe {
		opts = append(opts, signing.SkipSCTUnsafe())
	}
	policy, err := signing.KeylessPolicy(k.Identity, trusted, opts...)
	if err != nil {
		return nil, pipeline.MarkTerminal(fmt.Errorf("configuring keyless signing: %w", err))
	}
	return &KeylessSigning{tokens: tokens, tokenErr: tokenErr, fulcio: k.FulcioURL, tlog: signing.NewRekor(k.RekorURL, 30*time.Second), policy: policy, remote: ropts}, nil
}

// Sign gets a certificate for a fresh key and signs ref, logging the
// signature in Rekor.
func (k *KeylessSigning) Sign(ctx context.Context, ref oci.Pinned) (pipeline.Signature, error) {
	if k.tokens == nil {
		return pipeline.Signature{}, pipeline.MarkTerminal(fmt.Errorf("signing %s: %w", ref, k.tokenErr))
	}
	s, err := signing.NewKeylessSigner(k.tokens, k.fulcio)
	if err != nil {
		return pipeline.Signature{}, pipeline.MarkTerminal(fmt.Errorf("signing %s: %w", ref, err))
	}
	return signWith(ctx, ref, s, signing.WithTransparencyLog(k.tlog), signing.WithRemoteOptions(k.remote...))
}

// Verify checks ref's signatures against the keyless identity.
func (k *KeylessSigning) Verify(ctx context.Context, ref oci.Pinned) (pipeline.Verification, error) {
	return verifyWith(ctx, ref, k.policy, k.remote)
}

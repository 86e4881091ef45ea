package native

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/ferry-ci/ferry/modules/gitops"
	"github.com/ferry-ci/ferry/modules/oci"
	"github.com/ferry-ci/ferry/modules/oci/registry"
	"github.com/ferry-ci/ferry/modules/pipeline"
)

// GitOpsPromoter is the native PromotePR: modules/gitops pins the digest in
// deployments/overlays/<env> on a promote/<env>/<service> branch and opens
// (or finds) its pull request, behind its gates (the digest exists, the
// signature verifies).
type GitOpsPromoter struct {
	Promoter *gitops.Promoter
	// SBOMs finds an image's SBOM, for the pull request body's pointer
	// (nil: no pointer).
	SBOMs SBOMFinder
}

// SBOMFinder finds the SBOM attached to an image; GoPusher is one.
type SBOMFinder interface {
	SBOM(ctx context.Context, ref oci.Pinned) (oci.Pinned, bool, error)
}

var _ pipeline.Promoter = (*GitOpsPromoter)(nil)

// PromotePR pins ref as t's image in env.
func (g *GitOpsPromoter) PromotePR(ctx context.Context, env string, t pipeline.Target, ref oci.Pinned) (pipeline.Promotion, error) {
	img := gitops.Image{
		Service:      t.Name,
		Name:         t.Service.Image,
		NewName:      ref.Repository().String(),
		Digest:       ref.Digest().String(),
		SourceCommit: t.Commit,
	}
	if g.SBOMs != nil {
		// A pointer for the body only: a registry that cannot be read
		// fails the gates that run next, with their reason and hint.
		if sb, ok, err := g.SBOMs.SBOM(ctx, ref); err == nil && ok {
			img.SBOM = sb.String()
		}
	}
	res, err := g.Promoter.Promote(ctx, gitops.Request{Env: env, Images: []gitops.Image{img}})
	if err != nil {
		err = fmt.Errorf("promoting %s to %s: %w", ref, env, err)
		if gitops.Retryable(err) {
			return pipeline.Promotion{}, pipeline.MarkRetryable(err)
		}
		return pipeline.Promotion{}, pipeline.MarkTerminal(err)
	}
	return promotion(res), nil
}

func promotion(res *gitops.Result) pipeline.Promotion {
	p := pipeline.Promotion{Env: res.Env, Action: string(res.Action), Head: res.HeadSHA}
	if pr := res.PullRequest; pr != nil {
		p.PullRequest = &pipeline.PullRequest{Number: pr.Number, URL: pr.URL, Branch: pr.Head, Base: pr.Base}
	}
	return p
}

// gate adapts the registry client and the release verifier to the
// promotion gates of modules/gitops, which speak strings.
type gate struct {
	client   *registry.Client
	verifier pipeline.Verifier
	// login says how to give the registry's credentials, for a refusal
	// (401, 403); empty for the embedded registry.
	login string
}

// withLogin adds g.login to a registry's refusal of the credentials.
func (g gate) withLogin(err error) error {
	var te *transport.Error
	if g.login != "" && errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
		return fmt.Errorf("%w (%s)", err, g.login)
	}
	return err
}

var (
	_ gitops.DigestChecker     = gate{}
	_ gitops.SignatureVerifier = gate{}
)

// Exists reports whether the registry holds ref.
func (g gate) Exists(ctx context.Context, ref string) (bool, error) {
	p, err := oci.ParsePinned(ref)
	if err != nil {
		return false, err
	}
	ok, err := g.client.Exists(ctx, p)
	return ok, g.withLogin(err)
}

// Verify checks ref's signature with the release policy (the key, or the
// keyless identity); every environment shares it.
func (g gate) Verify(ctx context.Context, ref, _ string) (gitops.Signature, error) {
	p, err := oci.ParsePinned(ref)
	if err != nil {
		return gitops.Signature{}, err
	}
	v, err := g.verifier.Verify(ctx, p)
	if err != nil {
		return gitops.Signature{}, g.withLogin(err)
	}
	sig := gitops.Signature{}
	if len(v.Signers) > 0 {
		sig.Identity = v.Signers[0]
	}
	return sig, nil
}

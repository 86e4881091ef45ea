package native

import (
	"context"
	"fmt"
	"path"

	"github.com/ferry-ci/ferry/modules/oci"
	"github.com/ferry-ci/ferry/modules/pipeline"
)

// parseImage reads the --image of promote-pr: a reference pinned by a
// sha256 digest (registry/repo@sha256:<hex>). A tag alone names whatever
// was pushed last under it, so it is refused.
func parseImage(image string) (oci.Pinned, error) {
	ref, err := oci.ParsePinned(image)
	if err != nil {
		return oci.Pinned{}, pipeline.MarkTerminal(fmt.Errorf("reading --image %q: it is not pinned by a sha256 digest (%w); give registry/repo@sha256:<hex>, the reference release or push printed", image, err))
	}
	return ref, nil
}

// PromotePR pins ref, an image already pushed and signed, as service's
// image in env: the PromotePR step of a release on its own, for a front
// door that pushed and signed elsewhere (the Dagger module). The gates are
// the release's: the registry holds the digest, its signature verifies
// with the release policy, and an environment with an upstream (production
// after staging) runs only what the upstream pins. It opens or updates the
// pull request, and is a noop when env already pins the digest.
func (r *Runner) PromotePR(ctx context.Context, service string, ref oci.Pinned, env string) (pipeline.Promotion, error) {
	svc, err := r.service(service)
	if err != nil {
		return pipeline.Promotion{}, err
	}
	g := &GitOpsPromoter{Promoter: r.promoter, SBOMs: &GoPusher{Client: r.client}}
	return g.PromotePR(ctx, env, pipeline.Target{Service: svc, Name: svc.Name}, ref)
}

// PromotePR is the promote-pr command in one call: image, pinned by digest,
// goes to cfg.Env as service's image. Without --registry, the gates read an
// image off loopback from its own registry with the registry credentials
// of the environment (FERRY_REGISTRY_USERNAME and FERRY_REGISTRY_PASSWORD,
// else the Docker config); one on loopback is read as the embedded
// registry's images are. A reference that is not digest-pinned fails
// before anything starts.
func PromotePR(ctx context.Context, cfg Config, service, image string) (pipeline.Promotion, error) {
	ref, err := parseImage(image)
	if err != nil {
		return pipeline.Promotion{}, err
	}
	cfg = imageRegistry(cfg, ref)
	return withRunner(ctx, cfg, func(r *Runner) (pipeline.Promotion, error) { return r.PromotePR(ctx, service, ref, cfg.Env) })
}

// imageRegistry returns cfg with the registry the gates read ref from:
// --registry when given, else ref's own registry and namespace when it is
// off loopback
// (an image pushed elsewhere, such as by the Dagger module), else the
// embedded registry, which listens on loopback.
func imageRegistry(cfg Config, ref oci.Pinned) Config {
	if host := ref.Repository().Registry(); cfg.Registry == "" && !isLoopback(host) {
		cfg.Registry = path.Dir(ref.Repository().String())
	}
	return cfg
}

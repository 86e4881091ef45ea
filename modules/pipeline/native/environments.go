package native

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path"

	"github.com/ferry-ci/ferry/modules/contract"
	"github.com/ferry-ci/ferry/modules/gitops"
	"github.com/ferry-ci/ferry/modules/gitops/overlay"
	"github.com/ferry-ci/ferry/modules/oci"
	"github.com/ferry-ci/ferry/modules/pipeline"
)

// overlayRoot is where the deployments repository keeps its overlays.
const overlayRoot = "deployments/overlays"

// Pinned returns the image that env's overlay on the deployments
// repository's main branch pins for service.
func (r *Runner) Pinned(ctx context.Context, env, service string) (oci.Pinned, error) {
	svc, err := r.service(service)
	if err != nil {
		return oci.Pinned{}, err
	}
	file := path.Join(overlayRoot, env, "kustomization.yaml")
	out, err := r.readMain(ctx, file)
	if err != nil {
		return oci.Pinned{}, err
	}
	images, err := overlay.Images(out)
	if err != nil {
		return oci.Pinned{}, pipeline.MarkTerminal(fmt.Errorf("reading %s: %w", file, err))
	}
	for _, im := range images {
		if im.Name == svc.Image {
			p, err := oci.ParsePinned(im.Ref())
			if err != nil {
				return oci.Pinned{}, pipeline.MarkTerminal(fmt.Errorf("reading %s: images %q: %w", file, im.Name, err))
			}
			return p, nil
		}
	}
	return oci.Pinned{}, pipeline.MarkTerminal(fmt.Errorf("reading %s: no images: entry %q", file, svc.Image))
}

// readMain reads file on the deployments repository's main branch: with
// git from the local repository, or from a fresh fetch of the remote one.
func (r *Runner) readMain(ctx context.Context, file string) ([]byte, error) {
	if r.clone == nil {
		out, err := exec.CommandContext(ctx, "git", "--git-dir", r.DeploymentsRepo(), "show", "main:"+file).Output()
		if err != nil {
			return nil, pipeline.MarkTerminal(fmt.Errorf("reading %s of the deployments repository: %w", file, err))
		}
		return out, nil
	}
	head, ok, err := r.clone.Fetch(ctx, "main")
	if err == nil && !ok {
		err = errors.New("the repository has no main branch")
	}
	if err != nil {
		err = fmt.Errorf("reading %s of the deployments repository: %w", file, err)
		if gitops.Retryable(err) {
			return nil, pipeline.MarkRetryable(err)
		}
		return nil, pipeline.MarkTerminal(err)
	}
	out, err := r.clone.ReadFile(head, file)
	if err != nil {
		return nil, pipeline.MarkTerminal(fmt.Errorf("reading the deployments repository: %w", err))
	}
	return out, nil
}

func (r *Runner) service(name string) (contract.Service, error) {
	cat, err := contract.Discover(r.cfg.Root)
	if err != nil {
		return contract.Service{}, pipeline.MarkTerminal(err)
	}
	svc, ok := cat.Service(name)
	if !ok {
		return contract.Service{}, pipeline.MarkTerminal(fmt.Errorf("unknown service %q", name))
	}
	return svc, nil
}

// Promote opens the pull request that pins in env the digest that from pins
// for service (staging to production copies what staging runs; nothing is
// rebuilt). The promotion gates check the digest exists, its signature
// verifies, and it is the one from pins.
func (r *Runner) Promote(ctx context.Context, service, from, env string) (pipeline.Promotion, error) {
	ref, err := r.Pinned(ctx, from, service)
	if err != nil {
		return pipeline.Promotion{}, err
	}
	svc, err := r.service(service)
	if err != nil {
		return pipeline.Promotion{}, err
	}
	g := &GitOpsPromoter{Promoter: r.promoter, SBOMs: &GoPusher{Client: r.client}}
	return g.PromotePR(ctx, env, pipeline.Target{Service: svc, Name: svc.Name}, ref)
}

// Rollback opens the revert of the promotion that pinned service's current
// digest in env.
func (r *Runner) Rollback(ctx context.Context, service, env string) (pipeline.Promotion, error) {
	res, err := r.promoter.Rollback(ctx, env, service)
	if err != nil {
		err = fmt.Errorf("rolling back %s in %s: %w", service, env, err)
		if gitops.Retryable(err) {
			return pipeline.Promotion{}, pipeline.MarkRetryable(err)
		}
		return pipeline.Promotion{}, pipeline.MarkTerminal(err)
	}
	return promotion(res), nil
}

// Verify checks the signature of the image env pins for service.
func (r *Runner) Verify(ctx context.Context, service, env string) (pipeline.Verification, error) {
	ref, err := r.Pinned(ctx, env, service)
	if err != nil {
		return pipeline.Verification{}, err
	}
	return r.verifier.Verify(ctx, ref)
}

// withRunner opens the embedded defaults, runs fn and closes them.
func withRunner[T any](ctx context.Context, cfg Config, fn func(*Runner) (T, error)) (T, error) {
	var zero T
	if err := cfg.validate(); err != nil {
		return zero, err
	}
	r, err := open(ctx, cfg)
	if err != nil {
		return zero, err
	}
	defer r.Close()
	return fn(r)
}

// Promote is the promote command in one call: from's pin of service goes to
// cfg.Env.
func Promote(ctx context.Context, cfg Config, service, from string) (pipeline.Promotion, error) {
	return withRunner(ctx, cfg, func(r *Runner) (pipeline.Promotion, error) { return r.Promote(ctx, service, from, cfg.Env) })
}

// Rollback is the rollback command in one call.
func Rollback(ctx context.Context, cfg Config, service string) (pipeline.Promotion, error) {
	return withRunner(ctx, cfg, func(r *Runner) (pipeline.Promotion, error) { return r.Rollback(ctx, service, cfg.Env) })
}

// Verify is the verify command in one call.
func Verify(ctx context.Context, cfg Config, service string) (pipeline.Verification, error) {
	return withRunner(ctx, cfg, func(r *Runner) (pipeline.Verification, error) { return r.Verify(ctx, service, cfg.Env) })
}

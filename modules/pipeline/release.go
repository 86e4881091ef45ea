package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ferry-ci/ferry/modules/contract"
	"github.com/ferry-ci/ferry/modules/oci"
)

// Target is one service to release, as Plan decided: the contract, where
// its image goes, and the content address of its build inputs.
type Target struct {
	// Service is the validated contract of the service.
	Service contract.Service `json:"-"`
	// Name is the service name.
	Name string `json:"service"`
	// Repository is the image repository the release pushes to.
	Repository oci.Repository `json:"-"`
	// Fingerprint is the short fingerprint of the build inputs.
	Fingerprint string `json:"fingerprint"`
	// Tags are the tags a push sets, the {service}-{fingerprint} tag first.
	Tags []string `json:"tags"`
	// Commit is the source commit (empty when unknown).
	Commit string `json:"commit,omitempty"`
	// CommitTime is the source commit's time (zero when unknown).
	CommitTime time.Time `json:"-"`
	// Reasons say why the service is part of the plan.
	Reasons []string `json:"reasons,omitempty"`
	// Dirty lists the service's inputs (repository-relative) that differ
	// from Commit: modified, added, deleted or untracked files. Release
	// refuses a dirty target unless Config.AllowDirty.
	Dirty []string `json:"dirty,omitempty"`
}

// FingerprintTag returns the content-addressed tag, the first of Tags.
func (t Target) FingerprintTag() string {
	if len(t.Tags) == 0 {
		return ""
	}
	return t.Tags[0]
}

// Built is an image the Build step made and the Push step publishes. The
// artifact is the front door's own handle (a v1.ImageIndex natively, a
// container in the Dagger module): only the Pusher of the same front door
// reads it.
type Built struct {
	// Target is what was built.
	Target Target
	// Artifact is the built image, opaque to the pipeline.
	Artifact any
}

// Signature is where a signature of a pinned image was stored.
type Signature struct {
	// Ref is the signature tag or referrer manifest.
	Ref string `json:"ref"`
	// Format is the storage format (legacy, bundle, both).
	Format string `json:"format,omitempty"`
}

// Verification is what Verify accepted.
type Verification struct {
	// Ref is the verified image.
	Ref oci.Pinned `json:"-"`
	// Signers identify the signatures that satisfied the policy (key IDs or
	// certificate subjects).
	Signers []string `json:"signers"`
}

// PullRequest is the promotion's pull request.
type PullRequest struct {
	Number int    `json:"number"`
	URL    string `json:"url"`
	Branch string `json:"branch"`
	Base   string `json:"base"`
}

// Promotion is what PromotePR did.
type Promotion struct {
	// Env is the environment whose overlay pins the digest.
	Env string `json:"env"`
	// Action is created, updated or noop.
	Action string `json:"action"`
	// Head is the promotion branch's head commit (empty for a noop that
	// needed no branch).
	Head string `json:"head,omitempty"`
	// PullRequest is the open pull request, nil when the overlay already
	// pins the digest on the base branch.
	PullRequest *PullRequest `json:"pullRequest,omitempty"`
}

// NoopAction is the Promotion.Action of a promotion that changed nothing.
const NoopAction = "noop"

// Tester runs a service's tests.
type Tester interface {
	Test(ctx context.Context, t Target) error
}

// Builder builds a service's image without publishing it.
type Builder interface {
	Build(ctx context.Context, t Target) (Built, error)
}

// Pusher publishes built images and finds earlier ones by tag.
type Pusher interface {
	// Lookup resolves the target's fingerprint tag; ok is false when the
	// registry does not have it.
	Lookup(ctx context.Context, t Target) (ref oci.Pinned, ok bool, err error)
	// Push publishes b under its tags and returns its digest reference.
	Push(ctx context.Context, b Built) (oci.Pinned, error)
}

// Signer signs a pinned image.
type Signer interface {
	Sign(ctx context.Context, ref oci.Pinned) (Signature, error)
}

// Verifier checks a pinned image's signatures against the release policy.
type Verifier interface {
	Verify(ctx context.Context, ref oci.Pinned) (Verification, error)
}

// Promoter opens (or finds) the pull request that pins ref in env.
type Promoter interface {
	PromotePR(ctx context.Context, env string, t Target, ref oci.Pinned) (Promotion, error)
}

// Steps are a front door's implementations of the release steps.
type Steps struct {
	Tester   Tester
	Builder  Builder
	Pusher   Pusher
	Signer   Signer
	Verifier Verifier
	Promoter Promoter
}

// Config is a release of several services.
type Config struct {
	// Steps are required, all of them.
	Steps Steps
	// Env is the environment PromotePR targets. Required.
	Env string
	// Concurrency bounds the services released at once (< 1: one).
	Concurrency int
	// Backoff bounds retries of retryable steps. Zero: DefaultBackoff.
	Backoff Backoff
	// Observer receives progress events; nil: none.
	Observer Observer
	// AllowDirty releases targets whose inputs have uncommitted changes
	// (Target.Dirty). Their image is then not the commit's: only the
	// content-addressed {service}-{fingerprint} tag is set, the
	// {env}-{sha}-{service} tag is left out and no commit is stamped.
	// Default false: a dirty target fails its plan step and nothing of it
	// is published.
	AllowDirty bool
}

func (c *Config) validate() error {
	s := c.Steps
	for name, missing := range map[string]bool{
		"Tester": s.Tester == nil, "Builder": s.Builder == nil, "Pusher": s.Pusher == nil,
		"Signer": s.Signer == nil, "Verifier": s.Verifier == nil, "Promoter": s.Promoter == nil,
	} {
		if missing {
			return MarkTerminal(fmt.Errorf("configuring the release: step %s is missing", name))
		}
	}
	if c.Env == "" {
		return MarkTerminal(errors.New("configuring the release: no environment to promote to"))
	}
	if c.Backoff.Attempts == 0 {
		c.Backoff = DefaultBackoff
	}
	return nil
}

// ServiceResult is the outcome of one service's release.
type ServiceResult struct {
	// Target is what was released.
	Target Target `json:"target"`
	// Image is the pinned image (empty when the release stopped before Push).
	Image string `json:"image,omitempty"`
	// Cached is true when the fingerprint tag existed: nothing was tested,
	// built or pushed.
	Cached bool `json:"cached"`
	// Signature is where the signature is (empty when Sign was skipped
	// because a valid one existed).
	Signature *Signature `json:"signature,omitempty"`
	// Verification is what Verify accepted.
	Verification *Verification `json:"verification,omitempty"`
	// Promotion is what PromotePR did.
	Promotion *Promotion `json:"promotion,omitempty"`
	// Steps are the recorded step results in the order they ended.
	Steps []StepResult `json:"steps"`
	// Err is the failure that stopped the release, a *StepError.
	Err error `json:"-"`
	// Error is Err's message, for JSON.
	Error string `json:"error,omitempty"`
}

// Report is the outcome of a release of several services.
type Report struct {
	// Env is the environment promoted to.
	Env string `json:"env"`
	// Services are sorted by name.
	Services []ServiceResult `json:"services"`
}

// Err joins the failures of every service; nil when all succeeded.
func (r *Report) Err() error {
	var errs []error
	for _, s := range r.Services {
		if s.Err != nil {
			errs = append(errs, s.Err)
		}
	}
	return errors.Join(errs...)
}

// Release runs Test, Build, Push, Sign, Verify and PromotePR for every
// target, at most cfg.Concurrency at once. A failed step stops its
// service's release (later steps do not run: nothing is promoted that did
// not verify); other services go on. A target whose fingerprint tag exists
// skips Test, Build and Push: its image was built and tested from the same
// inputs. The report holds every service's result; Report.Err joins the
// failures.
func Release(ctx context.Context, cfg Config, targets []Target) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	byName := map[string]Target{}
	names := make([]string, 0, len(targets))
	for _, t := range targets {
		if _, dup := byName[t.Name]; dup {
			return nil, MarkTerminal(fmt.Errorf("releasing %q: listed twice", t.Name))
		}
		byName[t.Name] = t
		names = append(names, t.Name)
	}
	results := make(map[string]*ServiceResult, len(names))
	for _, n := range names {
		results[n] = &ServiceResult{Target: byName[n]}
	}
	errs := ForEach(ctx, names, cfg.Concurrency, func(ctx context.Context, name string) error {
		return releaseOne(ctx, &cfg, results[name])
	})
	rep := &Report{Env: cfg.Env}
	sort.Strings(names)
	for _, n := range names {
		res := results[n]
		if err := errs[n]; err != nil {
			res.Err = err
			res.Error = err.Error()
		}
		rep.Services = append(rep.Services, *res)
	}
	return rep, nil
}

// releaseOne runs the steps of one service in order, recording into res.
func releaseOne(ctx context.Context, cfg *Config, res *ServiceResult) error {
	rec := NewRecorder(res.Target.Name, cfg.Observer, cfg.Backoff)
	defer func() { res.Steps = rec.Results() }()
	if len(res.Target.Dirty) > 0 {
		t, err := Run(ctx, rec, StepPlan, func(context.Context) (Target, error) { return dirty(res.Target, cfg.AllowDirty) })
		if err != nil {
			return err
		}
		res.Target = t
	}
	t := res.Target
	s := cfg.Steps

	// The fingerprint tag says whether these inputs were built (and so
	// tested) before. Looking it up is part of Test: it decides whether
	// the tests run.
	var cached oci.Pinned
	if _, err := Run(ctx, rec, StepTest, func(ctx context.Context) (struct{}, error) {
		ref, ok, err := s.Pusher.Lookup(ctx, t)
		if err != nil {
			return struct{}{}, fmt.Errorf("looking up %q: %w", t.FingerprintTag(), err)
		}
		if ok {
			cached = ref
			return struct{}{}, Skip("fingerprint hit: " + ref.String() + " was built and tested from these inputs")
		}
		return struct{}{}, s.Tester.Test(ctx, t)
	}); err != nil {
		return err
	}

	ref := cached
	if !cached.IsZero() {
		res.Cached = true
		reason := "fingerprint hit: " + cached.String()
		for _, st := range []Step{StepBuild, StepPush} {
			if _, err := Run(ctx, rec, st, func(context.Context) (struct{}, error) { return struct{}{}, Skip(reason) }); err != nil {
				return err
			}
		}
	} else {
		built, err := Run(ctx, rec, StepBuild, func(ctx context.Context) (Built, error) { return s.Builder.Build(ctx, t) })
		if err != nil {
			return err
		}
		if ref, err = Run(ctx, rec, StepPush, func(ctx context.Context) (oci.Pinned, error) {
			p, err := s.Pusher.Push(ctx, built)
			if err == nil && p.IsZero() {
				err = MarkTerminal(errors.New("pushing: no digest came back"))
			}
			return p, err
		}); err != nil {
			return err
		}
	}
	res.Image = ref.String()

	// An image found by its fingerprint may carry our signature already;
	// signing again would only stack another one on the .sig tag.
	sig, err := Run(ctx, rec, StepSign, func(ctx context.Context) (*Signature, error) {
		if res.Cached {
			if _, verr := s.Verifier.Verify(ctx, ref); verr == nil {
				return nil, Skip("already signed: a signature of " + ref.String() + " satisfies the policy")
			}
		}
		sg, err := s.Signer.Sign(ctx, ref)
		return &sg, err
	})
	if err != nil {
		return err
	}
	res.Signature = sig

	v, err := Run(ctx, rec, StepVerify, func(ctx context.Context) (Verification, error) { return s.Verifier.Verify(ctx, ref) })
	if err != nil {
		return err
	}
	res.Verification = &v

	var promo Promotion
	if _, err := Run(ctx, rec, StepPromote, func(ctx context.Context) (struct{}, error) {
		p, err := s.Promoter.PromotePR(ctx, cfg.Env, t, ref)
		if err != nil {
			return struct{}{}, err
		}
		promo = p
		if p.Action == NoopAction {
			if p.PullRequest != nil {
				return struct{}{}, Skip(fmt.Sprintf("pull request #%d already pins %s", p.PullRequest.Number, ref.Digest()))
			}
			return struct{}{}, Skip(cfg.Env + " already pins " + ref.Digest().String())
		}
		return struct{}{}, nil
	}); err != nil {
		return err
	}
	res.Promotion = &promo
	return nil
}

// dirty refuses a target with uncommitted inputs, or, when allowed, strips
// what would name a commit the image was not built from.
func dirty(t Target, allow bool) (Target, error) {
	files := t.Dirty
	list := strings.Join(files, ", ")
	if len(files) > 5 {
		list = strings.Join(files[:5], ", ") + fmt.Sprintf(" and %d more", len(files)-5)
	}
	if !allow {
		return t, MarkTerminal(fmt.Errorf("releasing %q: uncommitted changes in %s; commit or stash them (git status), or pass --allow-dirty to release the work tree as it is", t.Name, list))
	}
	t.Tags = append([]string(nil), t.Tags[:min(1, len(t.Tags))]...)
	t.Commit = ""
	return t, nil
}

package native

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ferry-ci/ferry/modules/oci"
	"github.com/ferry-ci/ferry/modules/oci/build"
	"github.com/ferry-ci/ferry/modules/oci/dockerfile"
	"github.com/ferry-ci/ferry/modules/oci/registry"
	"github.com/ferry-ci/ferry/modules/pipeline"
)

// GoTester is the native Test: `go test ./...` of the service's Go module
// on the host, with GOWORK=off because a service is built alone (as its
// Dockerfile builds it), never against the tool's workspace.
type GoTester struct {
	// Root is the repository root.
	Root string
	// Go is the go command (default "go").
	Go string
}

var _ pipeline.Tester = (*GoTester)(nil)

// Test runs the tests; a failure is terminal and carries the output's tail.
func (g *GoTester) Test(ctx context.Context, t pipeline.Target) error {
	dir := t.Service.Dir
	if t.Service.Build.Go != nil {
		dir = t.Service.Build.Go.ModuleDir
	}
	cmd := exec.CommandContext(ctx, goCmd(g.Go), "test", "./...")
	cmd.Dir = filepath.Join(g.Root, filepath.FromSlash(dir))
	cmd.Env = append(cmd.Environ(), "GOWORK=off")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return pipeline.MarkTerminal(fmt.Errorf("testing %q in %s: %w\n%s", t.Name, dir, err, tail(out.String(), 40)))
	}
	return nil
}

func goCmd(g string) string {
	if g == "" {
		return "go"
	}
	return g
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// GoBuilder is the native Build: the daemonless build of the service's
// build.go.main (modules/oci/build), configured as its Dockerfile's final
// stage declares. It builds the image index and its SBOM in memory (see
// stage); GoPusher publishes both.
type GoBuilder struct {
	// Root is the repository root.
	Root string
	// Bases is where base images named by digest are read (nil: only the
	// built-in base is available).
	Bases build.Registry
	// Platforms default to linux/GOARCH of the host.
	Platforms []v1.Platform
}

var _ pipeline.Builder = (*GoBuilder)(nil)

// Staged is the artifact GoBuilder hands to GoPusher: the image index and
// its SBOM, an OCI 1.1 artifact whose subject is the index.
type Staged struct {
	// Index is the image index.
	Index registry.Artifact
	// SBOM is the SPDX document's artifact manifest; nil when none was made.
	SBOM registry.Artifact
	// SBOMType is the SBOM's artifactType (build.SBOMArtifactType).
	SBOMType string
}

// Build compiles and assembles the image index of t and its SBOM.
func (g *GoBuilder) Build(ctx context.Context, t pipeline.Target) (pipeline.Built, error) {
	gb := t.Service.Build.Go
	if gb == nil {
		return pipeline.Built{}, pipeline.MarkTerminal(fmt.Errorf("building %q: %s has no build.go; the native runner builds Go services only", t.Name, t.Service.File))
	}
	st, err := dockerfile.Read(filepath.Join(g.Root, filepath.FromSlash(t.Service.Build.Dockerfile)))
	if err != nil {
		return pipeline.Built{}, pipeline.MarkTerminal(fmt.Errorf("building %q: %w", t.Name, err))
	}
	stg := &stage{bases: g.Bases}
	b, err := build.New(stg)
	if err != nil {
		return pipeline.Built{}, pipeline.MarkTerminal(fmt.Errorf("building %q: %w", t.Name, err))
	}
	platforms := g.Platforms
	if len(platforms) == 0 {
		platforms = []v1.Platform{{OS: "linux", Architecture: runtime.GOARCH}}
	}
	// No fingerprint: the pipeline looked the tag up before Test, and tags
	// are set by the Push step.
	if _, err := b.Build(ctx, build.Config{
		Service:    t.Name,
		Repository: t.Repository,
		Dir:        filepath.Join(g.Root, filepath.FromSlash(gb.ModuleDir)),
		Package:    gb.Main,
		GoWork:     "off",
		Platforms:  platforms,
		CommitSHA:  t.Commit,
		CommitTime: t.CommitTime,
		LDFlags:    build.LDFlags{SHA: gb.Ldflags.SHA, BuildTime: gb.Ldflags.BuildTS},
		Image:      build.FromDockerfile(st),
	}); err != nil {
		return pipeline.Built{}, classify(err)
	}
	if stg.index == nil {
		return pipeline.Built{}, pipeline.MarkTerminal(fmt.Errorf("building %q: the builder produced no image", t.Name))
	}
	return pipeline.Built{Target: t, Artifact: Staged{Index: stg.index, SBOM: stg.sbom, SBOMType: stg.sbomType}}, nil
}

// stage is the registry a build writes into during the Build step: it
// keeps the image index and the SBOM referrer that modules/oci/build would
// push, in memory, so that Build publishes nothing and Push publishes both
// (the builder's own push path, the same bytes). Base images are read from
// bases.
type stage struct {
	bases build.Registry

	mu       sync.Mutex
	index    registry.Artifact
	sbom     registry.Artifact
	sbomType string
}

var _ build.Registry = (*stage)(nil)

// Lookup finds nothing: the staging area holds no tags.
func (s *stage) Lookup(context.Context, oci.Tagged) (oci.Pinned, bool, error) {
	return oci.Pinned{}, false, nil
}

// Image reads a base image from bases.
func (s *stage) Image(ctx context.Context, src oci.Pinned, platform v1.Platform) (v1.Image, error) {
	if s.bases == nil {
		return nil, pipeline.MarkTerminal(fmt.Errorf("reading base image %s: no registry to read base images from", src))
	}
	return s.bases.Image(ctx, src, platform)
}

// Push keeps the image index.
func (s *stage) Push(_ context.Context, repo oci.Repository, a registry.Artifact, _ ...string) (registry.Result, error) {
	ref, err := pin(repo, a)
	if err != nil {
		return registry.Result{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.index = a
	return registry.Result{Ref: ref}, nil
}

// PushReferrer keeps the SBOM.
func (s *stage) PushReferrer(_ context.Context, subject oci.Pinned, a registry.Artifact, artifactType string, _ ...string) (registry.Result, error) {
	ref, err := pin(subject.Repository(), a)
	if err != nil {
		return registry.Result{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sbom, s.sbomType = a, artifactType
	return registry.Result{Ref: ref}, nil
}

// Tag is never called (the build has no fingerprint).
func (s *stage) Tag(_ context.Context, src oci.Pinned, _ ...string) (registry.Result, error) {
	return registry.Result{}, fmt.Errorf("tagging %s: the staging area holds no tags", src)
}

func pin(repo oci.Repository, a registry.Artifact) (oci.Pinned, error) {
	h, err := a.Digest()
	if err != nil {
		return oci.Pinned{}, fmt.Errorf("computing digest: %w", err)
	}
	d, err := oci.ParseDigest(h.String())
	if err != nil {
		return oci.Pinned{}, err
	}
	return repo.Pin(d), nil
}

// SBOMTag is the tag the SBOM of an image goes under besides the referrers
// index: sha256-<hex>.sbom, as modules/oci/build names it.
func SBOMTag(image oci.Digest) string { return registry.ReferrersTag(image) + ".sbom" }

// GoPusher is the native Push: the index goes to the registry by digest,
// then its SBOM as a referrer (and under SBOMTag), then the target's tags
// are set. A failed push leaves no tag, so a later release does not take a
// half-published image for a fingerprint hit.
type GoPusher struct {
	Client *registry.Client
}

var _ pipeline.Pusher = (*GoPusher)(nil)

// Lookup resolves the fingerprint tag.
func (p *GoPusher) Lookup(ctx context.Context, t pipeline.Target) (oci.Pinned, bool, error) {
	tag, err := t.Repository.Tag(t.FingerprintTag())
	if err != nil {
		return oci.Pinned{}, false, pipeline.MarkTerminal(err)
	}
	ref, ok, err := p.Client.Lookup(ctx, tag)
	return ref, ok, classify(err)
}

// Push publishes b: a Staged image with its SBOM, or a bare image or index.
func (p *GoPusher) Push(ctx context.Context, b pipeline.Built) (oci.Pinned, error) {
	var st Staged
	switch a := b.Artifact.(type) {
	case Staged:
		st = a
	case registry.Artifact:
		st = Staged{Index: a}
	default:
		return oci.Pinned{}, pipeline.MarkTerminal(fmt.Errorf("pushing %q: %T is not an image", b.Target.Name, b.Artifact))
	}
	if st.Index == nil {
		return oci.Pinned{}, pipeline.MarkTerminal(fmt.Errorf("pushing %q: no image", b.Target.Name))
	}
	res, err := p.Client.Push(ctx, b.Target.Repository, st.Index)
	if err != nil {
		return oci.Pinned{}, classify(fmt.Errorf("pushing %q: %w", b.Target.Name, err))
	}
	if st.SBOM != nil {
		if _, err := p.Client.PushReferrer(ctx, res.Ref, st.SBOM, st.SBOMType, SBOMTag(res.Ref.Digest())); err != nil {
			return oci.Pinned{}, classify(fmt.Errorf("pushing the SBOM of %q: %w", b.Target.Name, err))
		}
	}
	if len(b.Target.Tags) > 0 {
		if _, err := p.Client.Tag(ctx, res.Ref, b.Target.Tags...); err != nil {
			return oci.Pinned{}, classify(fmt.Errorf("pushing %q: %w", b.Target.Name, err))
		}
	}
	return res.Ref, nil
}

// SBOM returns the SBOM artifact pushed beside ref (ok false when there is
// none): what a pull request's supply-chain section points at.
func (p *GoPusher) SBOM(ctx context.Context, ref oci.Pinned) (oci.Pinned, bool, error) {
	tag, err := ref.Repository().Tag(SBOMTag(ref.Digest()))
	if err != nil {
		return oci.Pinned{}, false, pipeline.MarkTerminal(err)
	}
	sb, ok, err := p.Client.Lookup(ctx, tag)
	return sb, ok, classify(err)
}

// classify carries modules/oci's verdict into the pipeline's classes.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	if oci.IsRetryable(err) {
		return pipeline.MarkRetryable(err)
	}
	return pipeline.MarkTerminal(err)
}

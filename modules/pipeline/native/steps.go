package native

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

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
// stage declares. It builds the image index in memory; GoPusher publishes it.
type GoBuilder struct {
	// Root is the repository root.
	Root string
	// Builder is the daemonless builder.
	Builder *build.Builder
	// Platforms default to linux/GOARCH of the host.
	Platforms []v1.Platform
}

var _ pipeline.Builder = (*GoBuilder)(nil)

// Build compiles and assembles the image index of t.
func (g *GoBuilder) Build(ctx context.Context, t pipeline.Target) (pipeline.Built, error) {
	gb := t.Service.Build.Go
	if gb == nil {
		return pipeline.Built{}, pipeline.MarkTerminal(fmt.Errorf("building %q: %s has no build.go; the native runner builds Go services only", t.Name, t.Service.File))
	}
	st, err := dockerfile.Read(filepath.Join(g.Root, filepath.FromSlash(t.Service.Build.Dockerfile)))
	if err != nil {
		return pipeline.Built{}, pipeline.MarkTerminal(fmt.Errorf("building %q: %w", t.Name, err))
	}
	idx, err := g.Builder.Index(ctx, build.Config{
		Service:    t.Name,
		Repository: t.Repository,
		Dir:        filepath.Join(g.Root, filepath.FromSlash(gb.ModuleDir)),
		Package:    gb.Main,
		GoWork:     "off",
		Platforms:  g.Platforms,
		CommitSHA:  t.Commit,
		CommitTime: t.CommitTime,
		LDFlags:    build.LDFlags{SHA: gb.Ldflags.SHA, BuildTime: gb.Ldflags.BuildTS},
		Image:      build.FromDockerfile(st),
	})
	if err != nil {
		return pipeline.Built{}, classify(err)
	}
	return pipeline.Built{Target: t, Artifact: idx}, nil
}

// GoPusher is the native Push: the index goes to the registry by digest,
// then the target's tags are set (a failed push leaves no tag).
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

// Push publishes b.
func (p *GoPusher) Push(ctx context.Context, b pipeline.Built) (oci.Pinned, error) {
	art, ok := b.Artifact.(registry.Artifact)
	if !ok {
		return oci.Pinned{}, pipeline.MarkTerminal(fmt.Errorf("pushing %q: %T is not an image", b.Target.Name, b.Artifact))
	}
	res, err := p.Client.Push(ctx, b.Target.Repository, art, b.Target.Tags...)
	if err != nil {
		return oci.Pinned{}, classify(fmt.Errorf("pushing %q: %w", b.Target.Name, err))
	}
	return res.Ref, nil
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

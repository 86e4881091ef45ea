package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ferry-ci/ferry/modules/oci"
	"github.com/ferry-ci/ferry/modules/oci/registry"
)

// Registry is what a build needs from a registry; *registry.Client has it.
type Registry interface {
	Lookup(ctx context.Context, ref oci.Tagged) (oci.Pinned, bool, error)
	Image(ctx context.Context, src oci.Pinned, platform v1.Platform) (v1.Image, error)
	Push(ctx context.Context, repo oci.Repository, a registry.Artifact, tags ...string) (registry.Result, error)
	PushReferrer(ctx context.Context, subject oci.Pinned, a registry.Artifact, artifactType string, tags ...string) (registry.Result, error)
	Tag(ctx context.Context, src oci.Pinned, tags ...string) (registry.Result, error)
}

var _ Registry = (*registry.Client)(nil)

// DefaultPlatforms are linux/amd64 and linux/arm64.
var DefaultPlatforms = []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}

// ImageConfig is what the image declares; take it from the service's
// Dockerfile (see FromDockerfile) so the two cannot drift.
type ImageConfig struct {
	// User, e.g. "65532:65532"; required and not root.
	User string
	// Entrypoint in exec form; Entrypoint[0] is the absolute path where the
	// binary is placed.
	Entrypoint []string
	// Cmd are default arguments.
	Cmd []string
	// ExposedPorts such as "8080/tcp".
	ExposedPorts []string
	// Labels, e.g. the org.opencontainers.image.* set.
	Labels map[string]string
	// Env entries "KEY=value", added after the base's.
	Env []string
	// WorkingDir, default "/".
	WorkingDir string
}

// LDFlags names the Go variables that receive the commit and the build
// time through -ldflags -X (e.g. "main.sha", "main.buildTs" or a full
// package path); empty names are skipped.
type LDFlags struct {
	SHA       string
	BuildTime string
}

// Config is one service build.
type Config struct {
	// Service names the service; it prefixes the fingerprint tag.
	Service string
	// Repository receives the image index.
	Repository oci.Repository
	// Dir is where `go build` runs (inside the service's module).
	Dir string
	// Package is the main package, relative to Dir ("." or "./cmd/x").
	Package string
	// GoWork is passed as GOWORK; "" leaves it to go's discovery, "off"
	// builds the module alone.
	GoWork string
	// Platforms default to DefaultPlatforms.
	Platforms []v1.Platform
	// CommitSHA is the full or short commit; it goes to LDFlags.SHA.
	CommitSHA string
	// CommitTime is the commit's time: SOURCE_DATE_EPOCH, the build time
	// ldflag, and every timestamp in the image.
	CommitTime time.Time
	// LDFlags names the variables to stamp.
	LDFlags LDFlags
	// Base is the base image (or index) by digest; zero uses the built-in
	// base.
	Base oci.Pinned
	// Image is the image configuration.
	Image ImageConfig
	// Fingerprint of the build inputs (package fingerprint); when set, the
	// tag {service}-{fingerprint} is set, and a build whose tag exists is
	// skipped.
	Fingerprint string
	// Tags are more tags to set after the push, such as {env}-{sha}-{service}.
	Tags []string
}

// Result is what Build produced.
type Result struct {
	// Ref is the image index, repo@sha256:...
	Ref oci.Pinned
	// Tags are the tags set (the fingerprint tag first).
	Tags []string
	// Skipped is true when the fingerprint tag existed and nothing was
	// built; Ref is then its digest.
	Skipped bool
	// SBOM is the SBOM artifact pushed beside Ref (zero when skipped).
	SBOM oci.Pinned
}

type options struct {
	goBin    string
	caBundle string
	logger   *slog.Logger
}

// Option configures a Builder.
type Option func(*options) error

// WithGo sets the go command. Default: "go" from PATH.
func WithGo(path string) Option {
	return func(o *options) error {
		if path == "" {
			return errors.New("empty go command")
		}
		o.goBin = path
		return nil
	}
}

// WithCACertificates sets the CA bundle the built-in base copies. Default:
// DefaultCACertificates.
func WithCACertificates(path string) Option {
	return func(o *options) error {
		if path == "" {
			return errors.New("empty CA certificates path")
		}
		o.caBundle = path
		return nil
	}
}

// WithLogger receives progress. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("nil logger")
		}
		o.logger = l
		return nil
	}
}

// Builder builds Go services into image indexes, without a daemon.
type Builder struct {
	reg Registry
	o   options
}

// New returns a Builder that reads bases from and pushes to reg.
func New(reg Registry, opts ...Option) (*Builder, error) {
	if reg == nil {
		return nil, errors.New("configuring builder: nil registry")
	}
	o := options{goBin: "go", caBundle: DefaultCACertificates, logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("configuring builder: %w", err)
		}
	}
	return &Builder{reg: reg, o: o}, nil
}

var ldVar = regexp.MustCompile(`^[A-Za-z0-9_./-]+\.[A-Za-z_][A-Za-z0-9_]*$`)

// validate checks cfg and fills defaults; errors name the field.
func validate(cfg *Config) error {
	bad := func(field, format string, args ...any) error {
		return &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	if err := oci.ValidateService(cfg.Service); err != nil {
		return bad("Service", "%v", err)
	}
	if cfg.Repository.IsZero() {
		return bad("Repository", "is empty")
	}
	if cfg.Dir == "" {
		return bad("Dir", "is empty")
	}
	if fi, err := os.Stat(cfg.Dir); err != nil || !fi.IsDir() {
		return bad("Dir", "%q is not a directory", cfg.Dir)
	}
	if cfg.Package == "" {
		cfg.Package = "."
	}
	if len(cfg.Platforms) == 0 {
		cfg.Platforms = DefaultPlatforms
	}
	for _, p := range cfg.Platforms {
		if p.OS != "linux" || p.Architecture == "" {
			return bad("Platforms", "%q is not a linux platform", p.String())
		}
	}
	if cfg.CommitTime.IsZero() {
		return bad("CommitTime", "is zero; pass the commit's time")
	}
	if cfg.CommitSHA != "" && !regexp.MustCompile(`^[0-9a-f]{7,64}$`).MatchString(cfg.CommitSHA) {
		return bad("CommitSHA", "%q is not a hex commit", cfg.CommitSHA)
	}
	for field, v := range map[string]string{"LDFlags.SHA": cfg.LDFlags.SHA, "LDFlags.BuildTime": cfg.LDFlags.BuildTime} {
		if v != "" && !ldVar.MatchString(v) {
			return bad(field, "%q is not a package-qualified variable such as main.sha", v)
		}
	}
	img := cfg.Image
	if len(img.Entrypoint) == 0 || !path.IsAbs(img.Entrypoint[0]) || path.Clean(img.Entrypoint[0]) != img.Entrypoint[0] || img.Entrypoint[0] == "/" {
		return bad("Image.Entrypoint", "%q: want exec form with the binary's absolute path first", img.Entrypoint)
	}
	if img.User == "" {
		return bad("Image.User", "is empty; images run as a non-root user")
	}
	if u, _, _ := strings.Cut(img.User, ":"); u == "root" || u == "0" {
		return bad("Image.User", "%q is root", img.User)
	}
	for _, p := range img.ExposedPorts {
		port, proto, ok := strings.Cut(p, "/")
		n, err := strconv.Atoi(port)
		if !ok || err != nil || n < 1 || n > 65535 || (proto != "tcp" && proto != "udp" && proto != "sctp") {
			return bad("Image.ExposedPorts", "%q: want port/proto such as 8080/tcp", p)
		}
	}
	for _, e := range img.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return bad("Image.Env", "%q: want KEY=value", e)
		}
	}
	if cfg.Fingerprint != "" {
		if _, err := oci.FingerprintTag(cfg.Service, cfg.Fingerprint); err != nil {
			return bad("Fingerprint", "%v", err)
		}
	}
	for _, t := range cfg.Tags {
		if _, err := cfg.Repository.Tag(t); err != nil {
			return bad("Tags", "%v", err)
		}
	}
	return nil
}

// ConfigError is a build configuration the builder refuses; terminal.
type ConfigError struct {
	Field  string
	Reason string
}

// Error implements error.
func (e *ConfigError) Error() string { return fmt.Sprintf("field %s: %s", e.Field, e.Reason) }

// Terminal marks the error as bad input for oci.Classify.
func (e *ConfigError) Terminal() bool { return true }

// Build compiles cfg's package for each platform, layers each binary onto the
// base, pushes the image index with its tags and an SBOM beside it. With a
// fingerprint whose tag already exists, it builds nothing: it sets cfg.Tags
// on that digest and returns it.
func (b *Builder) Build(ctx context.Context, cfg Config) (Result, error) {
	if err := validate(&cfg); err != nil {
		return Result{}, fmt.Errorf("building %q: %w", cfg.Service, err)
	}
	var tags []string
	if cfg.Fingerprint != "" {
		fpTag, _ := oci.FingerprintTag(cfg.Service, cfg.Fingerprint)
		ref, _ := cfg.Repository.Tag(fpTag)
		p, ok, err := b.reg.Lookup(ctx, ref)
		if err != nil {
			return Result{}, fmt.Errorf("building %q: looking up %q: %w", cfg.Service, ref.String(), err)
		}
		if ok {
			b.o.logger.InfoContext(ctx, "fingerprint hit, skipping build", "service", cfg.Service, "ref", p.String())
			res := Result{Ref: p, Tags: []string{fpTag}, Skipped: true}
			if len(cfg.Tags) > 0 {
				tagged, err := b.reg.Tag(ctx, p, cfg.Tags...)
				res.Tags = append(res.Tags, tagged.Tags...)
				if err != nil {
					return res, fmt.Errorf("building %q: %w", cfg.Service, err)
				}
			}
			return res, nil
		}
		tags = append(tags, fpTag)
	}
	for _, t := range cfg.Tags {
		if !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	idx, binaries, err := b.index(ctx, cfg)
	if err != nil {
		return Result{}, fmt.Errorf("building %q: %w", cfg.Service, err)
	}
	pushed, err := b.reg.Push(ctx, cfg.Repository, idx, tags...)
	if err != nil {
		return Result{}, fmt.Errorf("building %q: %w", cfg.Service, err)
	}
	res := Result{Ref: pushed.Ref, Tags: pushed.Tags}
	doc, err := sbom(cfg.Service, binaries[0], cfg.CommitTime)
	if err != nil {
		return res, fmt.Errorf("building %q: sbom: %w", cfg.Service, err)
	}
	raw, _ := idx.RawManifest()
	h, _ := idx.Digest()
	art, err := newSBOMArtifact(doc, v1.Descriptor{MediaType: types.OCIImageIndex, Digest: h, Size: int64(len(raw))})
	if err != nil {
		return res, fmt.Errorf("building %q: sbom: %w", cfg.Service, err)
	}
	sb, err := b.reg.PushReferrer(ctx, pushed.Ref, art, SBOMArtifactType, registry.ReferrersTag(pushed.Ref.Digest())+".sbom")
	if err != nil {
		return res, fmt.Errorf("building %q: pushing sbom: %w", cfg.Service, err)
	}
	res.SBOM = sb.Ref
	return res, nil
}

// Index builds the image index without pushing it (and without the
// fingerprint check): for tests, OCI layouts and podman loads.
func (b *Builder) Index(ctx context.Context, cfg Config) (v1.ImageIndex, error) {
	if err := validate(&cfg); err != nil {
		return nil, fmt.Errorf("building %q: %w", cfg.Service, err)
	}
	idx, _, err := b.index(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("building %q: %w", cfg.Service, err)
	}
	return idx, nil
}

func (b *Builder) index(ctx context.Context, cfg Config) (v1.ImageIndex, [][]byte, error) {
	var ca []byte
	if cfg.Base.IsZero() {
		var err error
		if ca, err = readCABundle(b.o.caBundle); err != nil {
			return nil, nil, err
		}
	}
	tmp, err := os.MkdirTemp("", "ferry-build-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(tmp)

	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var binaries [][]byte
	for _, p := range cfg.Platforms {
		var base v1.Image
		if cfg.Base.IsZero() {
			base, err = builtinBase(ca, p)
		} else {
			base, err = b.reg.Image(ctx, cfg.Base, p)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("getting %s base: %w", p.String(), err)
		}
		bin, err := b.goBuild(ctx, cfg, p, tmp)
		if err != nil {
			return nil, nil, err
		}
		img, err := image(base, bin, cfg, p)
		if err != nil {
			return nil, nil, fmt.Errorf("assembling %s image: %w", p.String(), err)
		}
		binaries = append(binaries, bin)
		pp := p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &pp}})
	}
	return idx, binaries, nil
}

// goBuild compiles one platform's binary and returns its bytes.
func (b *Builder) goBuild(ctx context.Context, cfg Config, p v1.Platform, tmp string) ([]byte, error) {
	out := filepath.Join(tmp, strings.ReplaceAll(p.String(), "/", "-"))
	var ld []string
	ld = append(ld, "-s", "-w", "-buildid=")
	if cfg.LDFlags.SHA != "" {
		ld = append(ld, "-X", cfg.LDFlags.SHA+"="+cfg.CommitSHA)
	}
	if cfg.LDFlags.BuildTime != "" {
		ld = append(ld, "-X", cfg.LDFlags.BuildTime+"="+cfg.CommitTime.UTC().Format(time.RFC3339))
	}
	args := []string{"build", "-trimpath", "-buildvcs=false", "-ldflags", strings.Join(ld, " "), "-o", out, cfg.Package}
	cmd := exec.CommandContext(ctx, b.o.goBin, args...)
	cmd.Dir = cfg.Dir
	cmd.Env = append(os.Environ(),
		"CGO_ENABLED=0",
		"GOOS="+p.OS,
		"GOARCH="+p.Architecture,
		"SOURCE_DATE_EPOCH="+strconv.FormatInt(cfg.CommitTime.Unix(), 10),
	)
	if p.Architecture == "arm" && p.Variant != "" {
		cmd.Env = append(cmd.Env, "GOARM="+strings.TrimPrefix(p.Variant, "v"))
	}
	if cfg.GoWork != "" {
		cmd.Env = append(cmd.Env, "GOWORK="+cfg.GoWork)
	}
	start := time.Now()
	output, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go build %s for %s in %q: %w: %s", cfg.Package, p.String(), cfg.Dir, err, tail(output, 2000))
	}
	b.o.logger.DebugContext(ctx, "compiled", "platform", p.String(), "took", time.Since(start))
	bin, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("reading the %s binary: %w", p.String(), err)
	}
	return bin, nil
}

func tail(b []byte, n int) string {
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return s
}

// image layers the binary onto base and sets the configuration.
func image(base v1.Image, bin []byte, cfg Config, p v1.Platform) (v1.Image, error) {
	layer, err := reproducibleLayer([]file{{path: cfg.Image.Entrypoint[0], mode: 0o755, content: bin}}, cfg.CommitTime.UTC())
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: cfg.CommitTime.UTC().Truncate(time.Second)}
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{CreatedBy: "ferry build " + cfg.Package, Created: created, Comment: "daemonless go build"},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Created = created
	c := &cf.Config
	c.User = cfg.Image.User
	c.Entrypoint = slices.Clone(cfg.Image.Entrypoint)
	c.Cmd = slices.Clone(cfg.Image.Cmd)
	c.WorkingDir = cfg.Image.WorkingDir
	if c.WorkingDir == "" {
		c.WorkingDir = "/"
	}
	c.Env = mergeEnv(c.Env, cfg.Image.Env)
	if len(cfg.Image.ExposedPorts) > 0 {
		c.ExposedPorts = map[string]struct{}{}
		for _, port := range cfg.Image.ExposedPorts {
			c.ExposedPorts[port] = struct{}{}
		}
	}
	if len(cfg.Image.Labels) > 0 {
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		for k, v := range cfg.Image.Labels {
			c.Labels[k] = v
		}
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	return mutate.ConfigMediaType(img, types.OCIConfigJSON), nil
}

func mergeEnv(base, add []string) []string {
	out := slices.Clone(base)
	for _, e := range add {
		k, _, _ := strings.Cut(e, "=")
		out = slices.DeleteFunc(out, func(x string) bool { return strings.HasPrefix(x, k+"=") })
		out = append(out, e)
	}
	return out
}

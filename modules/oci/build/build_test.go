package build

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ferry-ci/ferry/modules/oci"
	"github.com/ferry-ci/ferry/modules/oci/dockerfile"
	"github.com/ferry-ci/ferry/modules/oci/registry"
)

var commitTime = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

const commitSHA = "abc1234def5678abc1234def5678abc1234def56"

func newRegistry(t testing.TB) (*registry.Client, string) {
	t.Helper()
	s := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(s.Close)
	c, err := registry.New(registry.WithKeychain(authn.NewMultiKeychain()))
	if err != nil {
		t.Fatal(err)
	}
	return c, strings.TrimPrefix(s.URL, "http://")
}

func helloConfig(t testing.TB, host string) Config {
	t.Helper()
	st, err := dockerfile.Read("testdata/hello/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := oci.ParseRepository(host + "/ferry/hello")
	return Config{
		Service:     "hello",
		Repository:  repo,
		Dir:         "testdata/hello",
		Package:     ".",
		GoWork:      "off",
		CommitSHA:   commitSHA,
		CommitTime:  commitTime,
		LDFlags:     LDFlags{SHA: "main.sha", BuildTime: "main.buildTs"},
		Image:       FromDockerfile(st),
		Fingerprint: "0123456789abcdef0123456789abcdef",
		Tags:        []string{"prod-abc1234-hello"},
	}
}

func TestBuildHello(t *testing.T) {
	ctx := testContext(t)
	reg, host := newRegistry(t)
	b, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := helloConfig(t, host)
	res, err := b.Build(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped || !slices.Equal(res.Tags, []string{"hello-0123456789abcdef0123456789abcdef", "prod-abc1234-hello"}) {
		t.Fatalf("Build = %+v", res)
	}
	desc, err := reg.Get(ctx, res.Ref)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	if im.MediaType != types.OCIImageIndex || len(im.Manifests) != 2 {
		t.Fatalf("index %s with %d manifests", im.MediaType, len(im.Manifests))
	}
	st, _ := dockerfile.Read("testdata/hello/Dockerfile")

	t.Run("images follow the Dockerfile", func(t *testing.T) {
		for i, p := range DefaultPlatforms {
			if m := im.Manifests[i]; m.Platform == nil || m.Platform.Architecture != p.Architecture {
				t.Errorf("manifest %d platform %v, want %s", i, m.Platform, p.String())
			}
			img, err := idx.Image(im.Manifests[i].Digest)
			if err != nil {
				t.Fatal(err)
			}
			cf, _ := img.ConfigFile()
			ports := slices.Sorted(func(yield func(string) bool) {
				for p := range cf.Config.ExposedPorts {
					if !yield(p) {
						return
					}
				}
			})
			checks := []struct {
				name      string
				got, want any
			}{
				{name: "user", got: cf.Config.User, want: st.User},
				{name: "entrypoint", got: cf.Config.Entrypoint, want: st.Entrypoint},
				{name: "ports", got: ports, want: st.ExposedPorts},
				{name: "labels", got: cf.Config.Labels, want: st.Labels},
				{name: "architecture", got: cf.Architecture, want: p.Architecture},
				{name: "created", got: cf.Created.Time.UTC(), want: commitTime},
			}
			for _, c := range checks {
				if !reflect.DeepEqual(c.got, c.want) {
					t.Errorf("%s %s = %v, want %v", p.String(), c.name, c.got, c.want)
				}
			}
			layers, _ := img.Layers()
			if len(layers) != 2 {
				t.Fatalf("%d layers, want base + binary", len(layers))
			}
			entries := tarEntries(t, layers[1])
			h, ok := entries["usr/local/bin/hello"]
			if !ok || h.Mode != 0o755 || !h.ModTime.Equal(commitTime) || h.Uid != 0 {
				t.Errorf("binary entry %+v", h)
			}
			base := tarEntries(t, layers[0])
			for _, want := range []string{"etc/passwd", "etc/group", "etc/ssl/certs/ca-certificates.crt", "tmp/", "home/nonroot/"} {
				if _, ok := base[want]; !ok {
					t.Errorf("built-in base lacks %s", want)
				}
			}
			if base["tmp/"].Mode != 0o1777 || base["home/nonroot/"].Uid != NonRootUID {
				t.Errorf("tmp %o, home uid %d", base["tmp/"].Mode, base["home/nonroot/"].Uid)
			}
		}
	})

	t.Run("reproducible", func(t *testing.T) {
		again, err := b.Index(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := again.Digest(); d.String() != res.Ref.Digest().String() {
			t.Errorf("second build %s, first %s", d, res.Ref.Digest())
		}
	})

	t.Run("fingerprint hit skips the build", func(t *testing.T) {
		noGo, err := New(reg, WithGo(filepath.Join(t.TempDir(), "no-go-here")))
		if err != nil {
			t.Fatal(err)
		}
		hit, err := noGo.Build(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !hit.Skipped || hit.Ref != res.Ref {
			t.Errorf("Build = %+v, want skipped with %v", hit, res.Ref)
		}
		promoted := cfg
		promoted.Tags = []string{"staging-def5678-hello"}
		hit, err = noGo.Build(ctx, promoted)
		if err != nil || !slices.Equal(hit.Tags, []string{"hello-0123456789abcdef0123456789abcdef", "staging-def5678-hello"}) {
			t.Fatalf("Build with a new env tag = %+v, %v", hit, err)
		}
		ref, _ := cfg.Repository.Tag("staging-def5678-hello")
		if p, err := reg.Resolve(ctx, ref); err != nil || p != res.Ref {
			t.Errorf("env tag on a fingerprint hit resolves to %v, %v; want %v", p, err, res.Ref)
		}
		changed := cfg
		changed.Fingerprint = "fedcba9876543210fedcba9876543210"
		if _, err := noGo.Build(ctx, changed); err == nil || !strings.Contains(err.Error(), "no-go-here") {
			t.Errorf("Build with a new fingerprint = %v, want it to run go", err)
		}
	})

	t.Run("sbom beside the image", func(t *testing.T) {
		refs, err := reg.Referrers(ctx, res.Ref)
		if err != nil {
			t.Fatal(err)
		}
		if len(refs) != 1 || refs[0].ArtifactType != SBOMArtifactType || refs[0].Digest.String() != res.SBOM.Digest().String() {
			t.Fatalf("referrers %+v, want the SBOM %v", refs, res.SBOM)
		}
		tag, _ := res.Ref.Repository().Tag(registry.ReferrersTag(res.Ref.Digest()) + ".sbom")
		if p, err := reg.Resolve(ctx, tag); err != nil || p != res.SBOM {
			t.Errorf("sbom tag %s = %v, %v", tag, p, err)
		}
		d, err := reg.Get(ctx, res.SBOM)
		if err != nil {
			t.Fatal(err)
		}
		var m v1.Manifest
		json.Unmarshal(d.Manifest, &m)
		if m.Subject == nil || m.Subject.Digest.String() != res.Ref.Digest().String() || m.ArtifactType != SBOMArtifactType || m.Config.MediaType != types.OCIEmptyJSON {
			t.Errorf("sbom manifest %s", d.Manifest)
		}
		img, _ := d.Image()
		layers, _ := img.Layers()
		rc, _ := layers[0].Uncompressed()
		var doc spdxDocument
		if err := json.NewDecoder(rc).Decode(&doc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		names := map[string]string{}
		for _, p := range doc.Packages {
			names[p.Name] = p.VersionInfo
		}
		if doc.SPDXVersion != "SPDX-2.3" || names["stdlib"] != runtime.Version() || len(doc.Packages) < 2 || doc.Packages[0].Name != "example.com/hello" {
			t.Errorf("sbom %s: packages %v", doc.SPDXVersion, names)
		}
		if doc.CreationInfo.Created != commitTime.Format(time.RFC3339) {
			t.Errorf("sbom created %s", doc.CreationInfo.Created)
		}
	})

	t.Run("binary is stamped and runs", func(t *testing.T) {
		img, _ := idx.Image(im.Manifests[0].Digest)
		layers, _ := img.Layers()
		bin := filepath.Join(t.TempDir(), "hello")
		extract(t, layers[1], "usr/local/bin/hello", bin)
		v := runAndProbe(t, bin)
		if v["sha"] != commitSHA || v["buildTs"] != commitTime.Format(time.RFC3339) {
			t.Errorf("/version = %v", v)
		}
	})
}

func TestBuildOnBaseByDigest(t *testing.T) {
	ctx := context.Background()
	reg, host := newRegistry(t)
	ca, _ := readCABundle(DefaultCACertificates)
	baseIdx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range DefaultPlatforms {
		img, err := builtinBase(ca, p)
		if err != nil {
			t.Fatal(err)
		}
		img, _ = mutate.Config(img, v1.Config{Labels: map[string]string{"base": "custom"}, Env: []string{"FROM_BASE=1"}})
		baseIdx = mutate.AppendManifests(baseIdx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	baseRepo, _ := oci.ParseRepository(host + "/bases/static")
	base, err := reg.Push(ctx, baseRepo, baseIdx)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New(reg, WithCACertificates(filepath.Join(t.TempDir(), "never-read.crt")))
	cfg := helloConfig(t, host)
	cfg.Base = base.Ref
	cfg.Platforms = DefaultPlatforms[:1]
	idx, err := b.Index(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	img, _ := idx.Image(im.Manifests[0].Digest)
	cf, _ := img.ConfigFile()
	if cf.Config.Labels["base"] != "custom" || !slices.Contains(cf.Config.Env, "FROM_BASE=1") || cf.Config.Labels["org.opencontainers.image.title"] != "hello" {
		t.Errorf("config %+v does not carry the base and the Dockerfile's labels", cf.Config)
	}
	missing := cfg
	missing.Platforms = []v1.Platform{{OS: "linux", Architecture: "riscv64"}}
	if _, err := b.Index(ctx, missing); !errors.Is(err, registry.ErrNotFound) || !strings.Contains(err.Error(), "linux/riscv64 base") {
		t.Errorf("base without the platform: %v", err)
	}
}

func TestBuildRefusesBadConfig(t *testing.T) {
	ctx := context.Background()
	reg, host := newRegistry(t)
	b, _ := New(reg)
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{name: "service", mutate: func(c *Config) { c.Service = "Hello" }, want: "field Service"},
		{name: "missing dir", mutate: func(c *Config) { c.Dir = "testdata/nope" }, want: `field Dir: "testdata/nope" is not a directory`},
		{name: "zero commit time", mutate: func(c *Config) { c.CommitTime = time.Time{} }, want: "field CommitTime"},
		{name: "sha", mutate: func(c *Config) { c.CommitSHA = "HEAD" }, want: "field CommitSHA"},
		{name: "ldflag var", mutate: func(c *Config) { c.LDFlags.SHA = "sha" }, want: "field LDFlags.SHA"},
		{name: "root user", mutate: func(c *Config) { c.Image.User = "0:0" }, want: "field Image.User: \"0:0\" is root"},
		{name: "no user", mutate: func(c *Config) { c.Image.User = "" }, want: "field Image.User: is empty"},
		{name: "shell entrypoint", mutate: func(c *Config) { c.Image.Entrypoint = []string{"/bin/sh", "-c", "x"} }, want: ""},
		{name: "relative entrypoint", mutate: func(c *Config) { c.Image.Entrypoint = []string{"hello"} }, want: "field Image.Entrypoint"},
		{name: "port", mutate: func(c *Config) { c.Image.ExposedPorts = []string{"http"} }, want: "field Image.ExposedPorts"},
		{name: "latest tag", mutate: func(c *Config) { c.Tags = []string{"latest"} }, want: `field Tags: parsing reference`},
		{name: "fingerprint", mutate: func(c *Config) { c.Fingerprint = "nothex" }, want: "field Fingerprint"},
		{name: "platform", mutate: func(c *Config) { c.Platforms = []v1.Platform{{OS: "windows", Architecture: "amd64"}} }, want: "field Platforms"},
		{name: "does not compile", mutate: func(c *Config) { c.Dir = "testdata/broken" }, want: "undefined: undefinedFunction"},
	}
	for _, tt := range tests {
		if tt.want == "" {
			continue // a shell-form entrypoint is valid input; it would run /bin/sh
		}
		t.Run(tt.name, func(t *testing.T) {
			cfg := helloConfig(t, host)
			tt.mutate(&cfg)
			_, err := b.Build(ctx, cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `building "`) {
				t.Fatalf("Build = %v, want containing %q", err, tt.want)
			}
			if tags, _ := reg.ListTags(ctx, cfg.Repository); len(tags) != 0 {
				t.Errorf("refused build pushed tags %v", tags)
			}
		})
	}
}

// TestSchedulerWorkerDockerfile checks that the real service's Dockerfile
// declares what the daemonless build needs. It skips until that file exists.
func TestSchedulerWorkerDockerfile(t *testing.T) {
	path := filepath.Join("..", "..", "..", "services", "scheduler-worker", "Dockerfile")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s does not exist yet", path)
	}
	st, err := dockerfile.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := oci.ParseRepository("127.0.0.1:5000/ferry/scheduler-worker")
	cfg := Config{Service: "scheduler-worker", Repository: repo, Dir: filepath.Dir(path), CommitTime: commitTime, Image: FromDockerfile(st)}
	if err := validate(&cfg); err != nil {
		t.Errorf("the final stage of %s cannot configure the daemonless image: %v\n%s", path, err, st)
	}
	if len(st.ExposedPorts) == 0 {
		t.Errorf("%s exposes no port", path)
	}
}

func tarEntries(t *testing.T, l v1.Layer) map[string]*tar.Header {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = h
		names = append(names, h.Name)
	}
	if !slices.IsSorted(names) {
		t.Errorf("tar entries not sorted: %v", names)
	}
	return out
}

func extract(t *testing.T, l v1.Layer, name, dst string) {
	t.Helper()
	rc, _ := l.Uncompressed()
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s not in layer: %v", name, err)
		}
		if h.Name == name {
			f, _ := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
			io.Copy(f, tr)
			f.Close()
			return
		}
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// runAndProbe starts bin with PORT set and returns its /version answer.
func runAndProbe(t *testing.T, bin string) map[string]any {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "PORT="+port)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	return probe(t, "http://127.0.0.1:"+port)
}

func probe(t *testing.T, base string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/version")
		if err == nil {
			defer resp.Body.Close()
			var v map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
				t.Fatal(err)
			}
			if live, err := http.Get(base + "/livez"); err != nil || live.StatusCode != 200 {
				t.Errorf("/livez: %v", err)
			} else {
				live.Body.Close()
			}
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("probing %s: %v", base, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// testContext ends 30s before the test binary's deadline, so that a slow
// cold compile fails with go build's own error rather than a timeout panic.
func testContext(t *testing.T) context.Context {
	t.Helper()
	deadline, ok := t.Deadline()
	if !ok {
		return context.Background()
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline.Add(-30*time.Second))
	t.Cleanup(cancel)
	return ctx
}

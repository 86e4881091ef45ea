package registry

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ferry-ci/ferry/modules/oci"
)

// newRegistry starts ggcr's in-process registry and returns its host.
func newRegistry(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

func mustRepo(t *testing.T, s string) oci.Repository {
	t.Helper()
	r, err := oci.ParseRepository(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newClient(t *testing.T, opts ...Option) *Client {
	t.Helper()
	c, err := New(append([]Option{WithKeychain(anonymous)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// anonymous isolates tests from the host's Docker config.
var anonymous = &staticKeychain{registry: "registry.invalid"}

func randomIndex(t *testing.T) v1.ImageIndex {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(256, 2)
		if err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	return idx
}

func TestPushResolveExistsList(t *testing.T) {
	ctx := context.Background()
	repo := mustRepo(t, newRegistry(t)+"/ferry/api")
	c := newClient(t)
	tests := []struct {
		name     string
		artifact func(t *testing.T) Artifact
		tags     []string
	}{
		{name: "image", artifact: func(t *testing.T) Artifact {
			img, err := random.Image(512, 3)
			if err != nil {
				t.Fatal(err)
			}
			return img
		}, tags: []string{"prod-abc1234-api", "api-0123456789abcdef"}},
		{name: "index", artifact: func(t *testing.T) Artifact { return randomIndex(t) }, tags: []string{"staging-abc1234-api"}},
		{name: "no tags", artifact: func(t *testing.T) Artifact { return randomIndex(t) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.artifact(t)
			want, _ := a.Digest()
			res, err := c.Push(ctx, repo, a, tt.tags...)
			if err != nil {
				t.Fatal(err)
			}
			if res.Ref.Digest().String() != want.String() || !slices.Equal(res.Tags, tt.tags) {
				t.Fatalf("Push = %v %v, want digest %v tags %v", res.Ref, res.Tags, want, tt.tags)
			}
			if ok, err := c.Exists(ctx, res.Ref); err != nil || !ok {
				t.Errorf("Exists(%v) = %v, %v", res.Ref, ok, err)
			}
			for _, tag := range tt.tags {
				ref, _ := repo.Tag(tag)
				got, err := c.Resolve(ctx, ref)
				if err != nil || got != res.Ref {
					t.Errorf("Resolve(%v) = %v, %v; want %v", ref, got, err, res.Ref)
				}
			}
			listed, err := c.ListTags(ctx, repo)
			if err != nil {
				t.Fatal(err)
			}
			for _, tag := range tt.tags {
				if !slices.Contains(listed, tag) {
					t.Errorf("ListTags = %v, missing %q", listed, tag)
				}
			}
		})
	}
}

func TestPushRefusesBadTagsBeforeWriting(t *testing.T) {
	ctx := context.Background()
	repo := mustRepo(t, newRegistry(t)+"/ferry/api")
	c := newClient(t)
	img, _ := random.Image(64, 1)
	for _, tag := range []string{"latest", "-bad", ""} {
		_, err := c.Push(ctx, repo, img, "good-tag", tag)
		if err == nil || !errors.Is(err, oci.ErrInvalidReference) || !oci.IsTerminal(err) {
			t.Errorf("Push with tag %q: err = %v, want a terminal invalid reference", tag, err)
		}
	}
	d, _ := img.Digest()
	p := repo.Pin(mustDigest(t, d.String()))
	if ok, err := c.Exists(ctx, p); err != nil || ok {
		t.Errorf("Exists after refused push = %v, %v; want nothing written", ok, err)
	}
	if tags, err := c.ListTags(ctx, repo); err != nil || len(tags) != 0 {
		t.Errorf("ListTags = %v, %v; want none", tags, err)
	}
}

func mustDigest(t *testing.T, s string) oci.Digest {
	t.Helper()
	d, err := oci.ParseDigest(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestResolveMissing(t *testing.T) {
	ctx := context.Background()
	repo := mustRepo(t, newRegistry(t)+"/ferry/none")
	c := newClient(t)
	ref, _ := repo.Tag("nope")
	_, err := c.Resolve(ctx, ref)
	if !errors.Is(err, ErrNotFound) || !oci.IsTerminal(err) || !strings.Contains(err.Error(), `resolving "`+ref.String()+`"`) {
		t.Errorf("Resolve missing = %v; want terminal ErrNotFound naming the ref", err)
	}
	if _, ok, err := c.Lookup(ctx, ref); ok || err != nil {
		t.Errorf("Lookup missing = %v, %v", ok, err)
	}
	if tags, err := c.ListTags(ctx, repo); err != nil || tags != nil {
		t.Errorf("ListTags of missing repo = %v, %v", tags, err)
	}
}

func TestCopyKeepsDigest(t *testing.T) {
	ctx := context.Background()
	src := mustRepo(t, newRegistry(t)+"/ferry/api")
	dst := mustRepo(t, newRegistry(t)+"/mirror/api")
	c := newClient(t)
	pushed, err := c.Push(ctx, src, randomIndex(t), "staging-abc1234-api")
	if err != nil {
		t.Fatal(err)
	}
	copied, err := c.Copy(ctx, pushed.Ref, dst, "prod-abc1234-api")
	if err != nil {
		t.Fatal(err)
	}
	if copied.Ref.Digest() != pushed.Ref.Digest() || copied.Ref.Repository() != dst {
		t.Fatalf("Copy = %v, want digest %v in %v", copied.Ref, pushed.Ref.Digest(), dst)
	}
	ref, _ := dst.Tag("prod-abc1234-api")
	if got, err := c.Resolve(ctx, ref); err != nil || got != copied.Ref {
		t.Errorf("Resolve after copy = %v, %v", got, err)
	}
	retag, err := c.Tag(ctx, copied.Ref, "prod-def5678-api")
	if err != nil || !slices.Equal(retag.Tags, []string{"prod-def5678-api"}) {
		t.Fatalf("Tag = %+v, %v", retag, err)
	}
	if _, err := c.Tag(ctx, copied.Ref, "latest"); !errors.Is(err, oci.ErrInvalidReference) {
		t.Errorf("Tag latest = %v", err)
	}
	// Every child image came along.
	for _, arch := range []string{"amd64", "arm64"} {
		if _, err := c.Image(ctx, copied.Ref, v1.Platform{OS: "linux", Architecture: arch}); err != nil {
			t.Errorf("Image %s: %v", arch, err)
		}
	}
	if _, err := c.Image(ctx, copied.Ref, v1.Platform{OS: "linux", Architecture: "s390x"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Image s390x = %v, want ErrNotFound", err)
	}
}

func TestPushReferrer(t *testing.T) {
	ctx := context.Background()
	repo := mustRepo(t, newRegistry(t)+"/ferry/api")
	c := newClient(t)
	subject, err := c.Push(ctx, repo, randomIndex(t), "api-0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	art, err := random.Image(32, 1)
	if err != nil {
		t.Fatal(err)
	}
	sbomTag := ReferrersTag(subject.Ref.Digest()) + ".sbom"
	res, err := c.PushReferrer(ctx, subject.Ref, art, "application/spdx+json", sbomTag)
	if err != nil {
		t.Fatal(err)
	}
	refs, err := c.Referrers(ctx, subject.Ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 1 || refs[0].Digest.String() != res.Ref.Digest().String() || refs[0].ArtifactType != "application/spdx+json" {
		t.Errorf("Referrers = %+v, want the pushed artifact %v", refs, res.Ref)
	}
	// Pushing it again does not duplicate the entry.
	if _, err := c.PushReferrer(ctx, subject.Ref, art, "application/spdx+json"); err != nil {
		t.Fatal(err)
	}
	if refs, _ := c.Referrers(ctx, subject.Ref); len(refs) != 1 {
		t.Errorf("Referrers after second push = %d entries", len(refs))
	}
	tag, _ := repo.Tag(sbomTag)
	if got, err := c.Resolve(ctx, tag); err != nil || got.Digest() != res.Ref.Digest() {
		t.Errorf("Resolve(%s) = %v, %v", sbomTag, got, err)
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opt  Option
		want string
	}{
		{name: "retry zero attempts", opt: WithRetry(Retry{}), want: "Attempts >= 1"},
		{name: "retry max below initial", opt: WithRetry(Retry{Attempts: 2, Initial: 2, Max: 1}), want: "Initial <= Max"},
		{name: "timeout", opt: WithRequestTimeout(0), want: "invalid request timeout"},
		{name: "nil transport", opt: WithTransport(nil), want: "nil transport"},
		{name: "nil keychain", opt: WithKeychain(nil), want: "nil keychain"},
		{name: "nil logger", opt: WithLogger(nil), want: "nil logger"},
		{name: "credentials without password", opt: WithCredentials("ghcr.io", "u", ""), want: "need a registry, a username and a password"},
		{name: "credentials bad registry", opt: WithCredentials("bad host/x", "u", "p"), want: `parsing registry "bad host/x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opt)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v, want containing %q", err, tt.want)
			}
		})
	}
}

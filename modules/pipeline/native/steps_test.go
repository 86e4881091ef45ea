package native

import (
	"context"
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ferry-ci/ferry/modules/oci"
	"github.com/ferry-ci/ferry/modules/oci/embedded"
	"github.com/ferry-ci/ferry/modules/oci/registry"
	"github.com/ferry-ci/ferry/modules/pipeline"
)

// brokenArtifact fails when pushed.
type brokenArtifact struct{}

func (brokenArtifact) Digest() (v1.Hash, error)            { return v1.Hash{}, errors.New("no digest") }
func (brokenArtifact) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (brokenArtifact) RawManifest() ([]byte, error)        { return nil, errors.New("no manifest") }

// TestGoPusher pushes staged images to an embedded registry: the tags are
// set only once the image and its SBOM are in, so a failed SBOM push
// leaves no tag a later release would take for a fingerprint hit.
func TestGoPusher(t *testing.T) {
	reg, err := embedded.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	client, err := registry.New()
	if err != nil {
		t.Fatal(err)
	}
	repo, err := oci.ParseRepository(reg.Host() + "/svc")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p := &GoPusher{Client: client}
	for _, tc := range []struct {
		name    string
		sbom    func(img v1.Image) registry.Artifact
		wantErr string
	}{
		{name: "image alone", sbom: func(v1.Image) registry.Artifact { return nil }},
		{name: "image and SBOM", sbom: func(img v1.Image) registry.Artifact { return sbomOf(t, img) }},
		{name: "failed SBOM push", sbom: func(v1.Image) registry.Artifact { return brokenArtifact{} }, wantErr: "pushing the SBOM of \"svc\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, err := random.Image(64, 1)
			if err != nil {
				t.Fatal(err)
			}
			h, _ := img.Digest()
			tgt := pipeline.Target{Name: "svc", Repository: repo, Tags: []string{"svc-" + h.Hex[:32]}}
			sb := tc.sbom(img)
			st := Staged{Index: img, SBOM: sb, SBOMType: "application/spdx+json"}
			ref, err := p.Push(ctx, pipeline.Built{Target: tgt, Artifact: st})
			_, tagged, lerr := p.Lookup(ctx, tgt)
			if lerr != nil {
				t.Fatal(lerr)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || tagged {
					t.Fatalf("push = %v (tagged %v), want %q and no tag", err, tagged, tc.wantErr)
				}
				return
			}
			if err != nil || !tagged || ref.Digest().String() != h.String() {
				t.Fatalf("push = %v, %v (tagged %v), want %s tagged", ref, err, tagged, h)
			}
			got, ok, err := p.SBOM(ctx, ref)
			if err != nil || ok != (sb != nil) {
				t.Fatalf("SBOM = %v, %v, %v; want one: %v", got, ok, err, sb != nil)
			}
		})
	}
}

// sbomOf is an OCI 1.1 artifact whose subject is img, the shape of the
// SBOM modules/oci/build makes.
func sbomOf(t *testing.T, img v1.Image) registry.Artifact {
	t.Helper()
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	h, _ := img.Digest()
	mt, _ := img.MediaType()
	art, err := random.Image(16, 1)
	if err != nil {
		t.Fatal(err)
	}
	return mutate.Subject(art, v1.Descriptor{MediaType: mt, Digest: h, Size: int64(len(raw))}).(v1.Image)
}

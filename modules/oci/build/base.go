package build

import (
	"fmt"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// DefaultCACertificates is the host bundle the built-in base copies.
const DefaultCACertificates = "/etc/ssl/certs/ca-certificates.crt"

// NonRootUID is the uid and gid of the built-in base's "nonroot" user (the
// distroless convention).
const NonRootUID = 65532

const passwd = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
const group = "root:x:0:\nnonroot:x:65532:\n"

// builtinBase returns the built-in base for a platform: CA certificates, a
// passwd and group with root and nonroot (65532), /tmp (1777) and
// /home/nonroot. Its layer is the same on every platform; entries carry the
// Unix epoch as time.
func builtinBase(caBundle []byte, p v1.Platform) (v1.Image, error) {
	layer, err := reproducibleLayer([]file{
		{path: "/etc/passwd", mode: 0o644, content: []byte(passwd)},
		{path: "/etc/group", mode: 0o644, content: []byte(group)},
		{path: "/etc/ssl/certs/ca-certificates.crt", mode: 0o644, content: caBundle},
		{path: "/tmp", mode: 0o1777, dir: true},
		{path: "/home/nonroot", mode: 0o700, dir: true, uid: NonRootUID},
	}, time.Unix(0, 0).UTC())
	if err != nil {
		return nil, fmt.Errorf("making built-in base layer: %w", err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{CreatedBy: "ferry built-in base: ca-certificates, passwd (nonroot 65532), /tmp", Created: v1.Time{Time: time.Unix(0, 0).UTC()}},
	})
	if err != nil {
		return nil, fmt.Errorf("making built-in base: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Config.Env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
	}
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	return mutate.ConfigFile(img, cf)
}

func readCABundle(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading CA certificates %q for the built-in base: %w", path, err)
	}
	return b, nil
}

// BuiltinBase returns the built-in base for the platforms as an OCI image
// index, reading the CA bundle at caBundle (DefaultCACertificates when
// empty): push it once to use it by digest, e.g. to give another tool the
// same base.
func BuiltinBase(caBundle string, platforms []v1.Platform) (v1.ImageIndex, error) {
	if caBundle == "" {
		caBundle = DefaultCACertificates
	}
	ca, err := readCABundle(caBundle)
	if err != nil {
		return nil, err
	}
	if len(platforms) == 0 {
		platforms = DefaultPlatforms
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range platforms {
		img, err := builtinBase(ca, p)
		if err != nil {
			return nil, err
		}
		pp := p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &pp}})
	}
	return idx, nil
}

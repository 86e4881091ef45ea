package signing

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Media types and annotations of a Sigstore bundle referrer (cosign
// pkg/oci/remote WriteAttestationNewBundleFormat).
const (
	bundleV03MediaType types.MediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	bundleMediaPrefix                  = "application/vnd.dev.sigstore.bundle"
	emptyMediaType     types.MediaType = "application/vnd.oci.empty.v1+json"
	annBundleContent                   = "dev.sigstore.bundle.content"
	annBundlePredicate                 = "dev.sigstore.bundle.predicateType"
	annCreated                         = "org.opencontainers.image.created"
	bundleContentDSSE                  = "dsse-envelope"
)

// rawManifest is a manifest we serialise ourselves (ggcr's v1.Manifest
// writer has no artifactType for images built with mutate).
type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

// writeReferrer stores the bundle as an OCI 1.1 referrer of subject. Where
// the registry lacks the referrers API, ggcr maintains the `sha256-<hex>`
// fallback index; its update is a read-modify-write, so the entry is read
// back and the write retried when a concurrent writer dropped it.
func writeReferrer(ctx context.Context, digest name.Digest, subject *v1.Descriptor, bj []byte, predicateType string, o *signOptions) (name.Digest, error) {
	repo := digest.Context()
	layer := static.NewLayer(bj, bundleV03MediaType)
	config := static.NewLayer([]byte("{}"), emptyMediaType)
	for _, l := range []v1.Layer{config, layer} {
		if err := remote.WriteLayer(repo, l, o.remote...); err != nil {
			return name.Digest{}, classifyRemote(fmt.Errorf("writing bundle to %q: %w", repo.String(), err), err)
		}
	}
	ld, _ := layer.Digest()
	cd, _ := config.Digest()
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  string(bundleV03MediaType),
		Config:        v1.Descriptor{MediaType: emptyMediaType, Digest: cd, Size: 2},
		Layers:        []v1.Descriptor{{MediaType: bundleV03MediaType, Digest: ld, Size: int64(len(bj))}},
		Subject:       &v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size},
		Annotations: map[string]string{
			annCreated:         o.now().UTC().Format(time.RFC3339),
			annBundleContent:   bundleContentDSSE,
			annBundlePredicate: predicateType,
		},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return name.Digest{}, fmt.Errorf("encoding referrer manifest: %w", err)
	}
	h, _, err := v1.SHA256(strings.NewReader(string(raw)))
	if err != nil {
		return name.Digest{}, err
	}
	ref := repo.Digest(h.String())
	fallback := digest.Context().Tag(strings.Replace(digest.DigestStr(), ":", "-", 1))
	unlock := lockTag(fallback)
	defer unlock()
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		o.events(Event{Step: "writing", Ref: ref.String(), Detail: fmt.Sprintf("attempt %d", attempt)})
		if err := remote.Put(ref, rawManifest{raw: raw, mt: types.OCIManifestSchema1}, o.remote...); err != nil {
			return name.Digest{}, classifyRemote(fmt.Errorf("writing referrer %q: %w", ref.String(), err), err)
		}
		idx, err := listReferrers(digest, o.remote)
		if err != nil {
			return name.Digest{}, err
		}
		for _, d := range idx {
			if d.Digest == h {
				return ref, nil
			}
		}
		if attempt >= o.attempts {
			return name.Digest{}, &RetryableError{Err: fmt.Errorf("writing referrer %q: lost to concurrent writers after %d attempts", ref.String(), attempt)}
		}
		o.events(Event{Step: "retrying", Ref: ref.String(), Detail: "referrer lost to a concurrent writer"})
		select {
		case <-ctx.Done():
			return name.Digest{}, fmt.Errorf("writing referrer %q: %w", ref.String(), ctx.Err())
		case <-time.After(backoff + time.Duration(rand.Int64N(int64(backoff)))):
		}
		backoff *= 2
	}
}

// listReferrers returns the descriptors referring to digest, through the
// referrers API or the tag-schema fallback.
func listReferrers(digest name.Digest, ropts []remote.Option) ([]v1.Descriptor, error) {
	idx, err := remote.Referrers(digest, ropts...)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, classifyRemote(fmt.Errorf("listing referrers of %q: %w", digest.String(), err), err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("listing referrers of %q: %w", digest.String(), err)
	}
	return im.Manifests, nil
}

// referrerBundle is one Sigstore bundle found among an image's referrers.
type referrerBundle struct {
	ref           name.Digest
	json          []byte
	predicateType string // from the manifest annotation; informational only
}

// readBundles returns the Sigstore bundles referring to digest. The
// artifactType is not trusted to filter (GHCR's fallback index reports the
// config type), so every referrer's layers are inspected.
func readBundles(digest name.Digest, ropts []remote.Option) ([]referrerBundle, error) {
	descs, err := listReferrers(digest, ropts)
	if err != nil {
		return nil, err
	}
	if len(descs) > maxSignatures {
		return nil, fmt.Errorf("listing referrers of %q: %d exceed the limit of %d", digest.String(), len(descs), maxSignatures)
	}
	var out []referrerBundle
	for _, d := range descs {
		if d.ArtifactType != "" && !strings.HasPrefix(d.ArtifactType, bundleMediaPrefix) && d.ArtifactType != string(emptyMediaType) {
			continue
		}
		ref := digest.Context().Digest(d.Digest.String())
		img, err := remote.Image(ref, ropts...)
		if err != nil {
			return nil, classifyRemote(fmt.Errorf("reading referrer %q: %w", ref.String(), err), err)
		}
		m, err := img.Manifest()
		if err != nil {
			return nil, classifyRemote(fmt.Errorf("reading referrer %q: %w", ref.String(), err), err)
		}
		if m.Subject == nil || m.Subject.Digest.String() != digest.DigestStr() {
			continue
		}
		for _, ld := range m.Layers {
			if !strings.HasPrefix(string(ld.MediaType), bundleMediaPrefix) {
				continue
			}
			if ld.Size > maxPayloadBytes {
				return nil, fmt.Errorf("reading referrer %q: bundle of %d bytes exceeds the limit", ref.String(), ld.Size)
			}
			l, err := img.LayerByDigest(ld.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading referrer %q: %w", ref.String(), err)
			}
			rc, err := l.Compressed()
			if err != nil {
				return nil, classifyRemote(fmt.Errorf("reading referrer %q: %w", ref.String(), err), err)
			}
			b, err := io.ReadAll(io.LimitReader(rc, maxPayloadBytes+1))
			rc.Close()
			if err != nil {
				return nil, classifyRemote(fmt.Errorf("reading referrer %q: %w", ref.String(), err), err)
			}
			out = append(out, referrerBundle{ref: ref, json: b, predicateType: m.Annotations[annBundlePredicate]})
		}
	}
	return out, nil
}

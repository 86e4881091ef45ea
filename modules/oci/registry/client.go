// Package registry speaks to OCI registries with go-containerregistry:
// push an image or an index, resolve a tag to its digest, check existence,
// copy by digest between registries, list tags, attach referrers.
//
// Pushes write every blob and the manifest by digest first and set tags
// last, so a push that fails leaves no tag behind. Failures are classified
// with oci.Classify; retryable ones are retried with bounded backoff
// (Retry), terminal ones (401, 403, 404, bad input) return at once.
package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ferry-ci/ferry/modules/oci"
)

// ErrNotFound marks a tag, digest or repository the registry does not have.
var ErrNotFound = errors.New("not found in registry")

// Artifact is what Push accepts: a v1.Image or a v1.ImageIndex.
type Artifact interface {
	Digest() (v1.Hash, error)
	MediaType() (types.MediaType, error)
	RawManifest() ([]byte, error)
}

// Result is what a push or copy produced: the pinned reference and the tags
// that were set, in order.
type Result struct {
	// Ref is repo@sha256:... of the pushed manifest.
	Ref oci.Pinned
	// Tags are the tags set to Ref.
	Tags []string
}

// Client performs registry operations. It is safe for concurrent use.
type Client struct {
	o *options
}

// New returns a Client. Options are validated.
func New(opts ...Option) (*Client, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	return &Client{o: o}, nil
}

func (c *Client) remoteOptions(ctx context.Context) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(c.o.keychain),
		remote.WithTransport(c.o.transport),
		// Retries happen once, here, with our classification (see do);
		// ggcr's own layers would multiply them.
		remote.WithRetryBackoff(remote.Backoff{Steps: 1}),
		remote.WithRetryPredicate(func(error) bool { return false }),
		remote.WithRetryStatusCodes(),
		remote.WithUserAgent("ferry"),
	}
}

// do runs op with bounded exponential backoff on retryable failures.
func (c *Client) do(ctx context.Context, what string, op func() error) error {
	wait := c.o.retry.Initial
	var err error
	for attempt := 1; ; attempt++ {
		err = op()
		if err == nil || oci.Classify(err) == oci.Terminal || attempt >= c.o.retry.Attempts {
			break
		}
		c.o.logger.DebugContext(ctx, "retrying", "op", what, "attempt", attempt, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: %w (after %d attempts; last: %w)", what, ctx.Err(), attempt, err)
		case <-t.C:
		}
		wait = min(wait*2, c.o.retry.Max)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Push writes artifact (a v1.Image or v1.ImageIndex) and its blobs into repo
// by digest, then sets each tag. Tags are validated before anything is
// written; "latest" is refused.
func (c *Client) Push(ctx context.Context, repo oci.Repository, artifact Artifact, tags ...string) (Result, error) {
	if repo.IsZero() {
		return Result{}, errors.New("pushing: no repository")
	}
	refs := make([]oci.Tagged, 0, len(tags))
	for _, t := range tags {
		ref, err := repo.Tag(t)
		if err != nil {
			return Result{}, fmt.Errorf("pushing to %q: %w", repo.String(), err)
		}
		refs = append(refs, ref)
	}
	h, err := artifact.Digest()
	if err != nil {
		return Result{}, fmt.Errorf("pushing to %q: computing digest: %w", repo.String(), err)
	}
	d, err := oci.ParseDigest(h.String())
	if err != nil {
		return Result{}, fmt.Errorf("pushing to %q: %w", repo.String(), err)
	}
	pinned := repo.Pin(d)
	err = c.do(ctx, fmt.Sprintf("pushing %q", pinned.String()), func() error {
		return remote.Push(pinned.Name(), artifact, c.remoteOptions(ctx)...)
	})
	if err != nil {
		return Result{}, err
	}
	c.o.logger.InfoContext(ctx, "pushed", "ref", pinned.String())
	res := Result{Ref: pinned}
	err = c.tag(ctx, &res, artifact, refs)
	return res, err
}

// tag points each ref at artifact (already pushed by digest), recording the
// tags set in res.
func (c *Client) tag(ctx context.Context, res *Result, artifact remote.Taggable, refs []oci.Tagged) error {
	for _, ref := range refs {
		err := c.do(ctx, fmt.Sprintf("tagging %q", ref.String()), func() error {
			return remote.Put(ref.Name(), artifact, c.remoteOptions(ctx)...)
		})
		if err != nil {
			return err
		}
		res.Tags = append(res.Tags, ref.Tag())
		c.o.logger.InfoContext(ctx, "tagged", "ref", ref.String(), "digest", res.Ref.Digest().String())
	}
	return nil
}

// Tag points tags at a manifest already in the registry (src's repository),
// e.g. an {env}-{sha}-{service} tag on an image a fingerprint hit found.
func (c *Client) Tag(ctx context.Context, src oci.Pinned, tags ...string) (Result, error) {
	refs := make([]oci.Tagged, 0, len(tags))
	for _, t := range tags {
		ref, err := src.Repository().Tag(t)
		if err != nil {
			return Result{}, fmt.Errorf("tagging %q: %w", src.String(), err)
		}
		refs = append(refs, ref)
	}
	desc, err := c.Get(ctx, src)
	if err != nil {
		return Result{}, err
	}
	res := Result{Ref: src}
	err = c.tag(ctx, &res, desc, refs)
	return res, err
}

// Resolve returns the digest a tag points at. A missing tag is ErrNotFound.
func (c *Client) Resolve(ctx context.Context, ref oci.Tagged) (oci.Pinned, error) {
	var desc *v1.Descriptor
	err := c.do(ctx, fmt.Sprintf("resolving %q", ref.String()), func() error {
		var err error
		desc, err = remote.Head(ref.Name(), c.remoteOptions(ctx)...)
		return notFound(err)
	})
	if err != nil {
		return oci.Pinned{}, err
	}
	d, err := oci.ParseDigest(desc.Digest.String())
	if err != nil {
		return oci.Pinned{}, fmt.Errorf("resolving %q: %w", ref.String(), err)
	}
	return ref.Repository().Pin(d), nil
}

// Exists reports whether the registry holds the manifest ref names.
func (c *Client) Exists(ctx context.Context, ref oci.Pinned) (bool, error) {
	err := c.do(ctx, fmt.Sprintf("checking %q", ref.String()), func() error {
		_, err := remote.Head(ref.Name(), c.remoteOptions(ctx)...)
		return notFound(err)
	})
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Lookup resolves a tag and reports false (and no error) when it is absent.
func (c *Client) Lookup(ctx context.Context, ref oci.Tagged) (oci.Pinned, bool, error) {
	p, err := c.Resolve(ctx, ref)
	if errors.Is(err, ErrNotFound) {
		return oci.Pinned{}, false, nil
	}
	return p, err == nil, err
}

// ListTags returns the repository's tags, sorted. A repository that does
// not exist has no tags.
func (c *Client) ListTags(ctx context.Context, repo oci.Repository) ([]string, error) {
	var tags []string
	err := c.do(ctx, fmt.Sprintf("listing tags of %q", repo.String()), func() error {
		var err error
		tags, err = remote.List(repo.Name(), c.remoteOptions(ctx)...)
		return notFound(err)
	})
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	slices.Sort(tags)
	return tags, nil
}

// Get fetches the manifest src names (image or index), for Copy and for
// reading bases.
func (c *Client) Get(ctx context.Context, src oci.Pinned) (*remote.Descriptor, error) {
	var desc *remote.Descriptor
	err := c.do(ctx, fmt.Sprintf("fetching %q", src.String()), func() error {
		var err error
		desc, err = remote.Get(src.Name(), c.remoteOptions(ctx)...)
		return notFound(err)
	})
	return desc, err
}

// Image returns the image for platform that src names: src may be an image
// or an index (then the platform's entry is chosen).
func (c *Client) Image(ctx context.Context, src oci.Pinned, platform v1.Platform) (v1.Image, error) {
	desc, err := c.Get(ctx, src)
	if err != nil {
		return nil, err
	}
	if !desc.MediaType.IsIndex() {
		img, err := desc.Image()
		if err != nil {
			return nil, fmt.Errorf("reading image %q: %w", src.String(), err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("reading config of %q: %w", src.String(), err)
		}
		if cf.OS != platform.OS || cf.Architecture != platform.Architecture {
			return nil, fmt.Errorf("reading image %q: it is %s/%s, want %s: %w", src.String(), cf.OS, cf.Architecture, platform.String(), ErrNotFound)
		}
		return img, nil
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading index %q: %w", src.String(), err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading index %q: %w", src.String(), err)
	}
	for _, m := range im.Manifests {
		if m.Platform != nil && m.Platform.OS == platform.OS && m.Platform.Architecture == platform.Architecture &&
			(platform.Variant == "" || m.Platform.Variant == platform.Variant) {
			img, err := idx.Image(m.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading %s image of %q: %w", platform.String(), src.String(), err)
			}
			return img, nil
		}
	}
	return nil, fmt.Errorf("reading index %q: no %s image: %w", src.String(), platform.String(), ErrNotFound)
}

// Copy copies src (image or index, with all blobs) into dst by digest and
// sets tags. The digest survives: the manifest bytes are copied unchanged.
func (c *Client) Copy(ctx context.Context, src oci.Pinned, dst oci.Repository, tags ...string) (Result, error) {
	desc, err := c.Get(ctx, src)
	if err != nil {
		return Result{}, fmt.Errorf("copying %q: %w", src.String(), err)
	}
	var a Artifact
	if desc.MediaType.IsIndex() {
		a, err = desc.ImageIndex()
	} else {
		a, err = desc.Image()
	}
	if err != nil {
		return Result{}, fmt.Errorf("copying %q: %w", src.String(), err)
	}
	res, err := c.Push(ctx, dst, a, tags...)
	if err != nil {
		return res, fmt.Errorf("copying %q: %w", src.String(), err)
	}
	if res.Ref.Digest() != src.Digest() {
		return res, fmt.Errorf("copying %q: digest changed to %s", src.String(), res.Ref.Digest().String())
	}
	return res, nil
}

// ReferrersTag returns the OCI 1.1 referrers fallback tag of a digest,
// "sha256-<hex>".
func ReferrersTag(d oci.Digest) string { return oci.DigestAlgorithm + "-" + d.Hex() }

// PushReferrer pushes artifact (whose manifest names subject in its
// "subject" field) beside subject and records it in the referrers fallback
// index, tag "sha256-<subject hex>" (the registry may also index it through
// the Referrers API; the fallback keeps registries without one working).
// Extra tags are set last.
func (c *Client) PushReferrer(ctx context.Context, subject oci.Pinned, artifact Artifact, artifactType string, tags ...string) (Result, error) {
	refs := make([]oci.Tagged, 0, len(tags))
	for _, t := range tags {
		ref, err := subject.Repository().Tag(t)
		if err != nil {
			return Result{}, fmt.Errorf("pushing referrer of %q: %w", subject.String(), err)
		}
		refs = append(refs, ref)
	}
	res, err := c.Push(ctx, subject.Repository(), artifact)
	if err != nil {
		return res, err
	}
	raw, err := artifact.RawManifest()
	if err != nil {
		return res, fmt.Errorf("pushing referrer of %q: %w", subject.String(), err)
	}
	mt, err := artifact.MediaType()
	if err != nil {
		return res, fmt.Errorf("pushing referrer of %q: %w", subject.String(), err)
	}
	h, _ := v1.NewHash(res.Ref.Digest().String())
	add := v1.Descriptor{MediaType: mt, Digest: h, Size: int64(len(raw)), ArtifactType: artifactType}
	fallback, err := subject.Repository().Tag(ReferrersTag(subject.Digest()))
	if err != nil {
		return res, err
	}
	err = c.do(ctx, fmt.Sprintf("updating referrers of %q", subject.String()), func() error {
		im := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
		desc, err := remote.Get(fallback.Name(), c.remoteOptions(ctx)...)
		switch err = notFound(err); {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return err
		default:
			idx, err := desc.ImageIndex()
			if err != nil {
				return err
			}
			cur, err := idx.IndexManifest()
			if err != nil {
				return err
			}
			im.Manifests = cur.Manifests
		}
		for _, m := range im.Manifests {
			if m.Digest == add.Digest {
				return nil
			}
		}
		im.Manifests = append(im.Manifests, add)
		return remote.Put(fallback.Name(), rawIndex{im: im}, c.remoteOptions(ctx)...)
	})
	if err != nil {
		return res, err
	}
	err = c.tag(ctx, &res, artifact, refs)
	return res, err
}

// Referrers lists the manifests that name subject, through the Referrers API
// or its tag fallback.
func (c *Client) Referrers(ctx context.Context, subject oci.Pinned) ([]v1.Descriptor, error) {
	var out []v1.Descriptor
	err := c.do(ctx, fmt.Sprintf("listing referrers of %q", subject.String()), func() error {
		idx, err := remote.Referrers(subject.Name(), c.remoteOptions(ctx)...)
		if err != nil {
			return notFound(err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return err
		}
		out = im.Manifests
		return nil
	})
	return out, err
}

type rawIndex struct{ im v1.IndexManifest }

func (r rawIndex) RawManifest() ([]byte, error)        { return json.Marshal(r.im) }
func (r rawIndex) MediaType() (types.MediaType, error) { return types.OCIImageIndex, nil }

// notFound marks 404 answers with ErrNotFound while keeping the registry's
// error (and so its classification: terminal).
func notFound(err error) error {
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		return &notFoundError{err: err}
	}
	return err
}

type notFoundError struct{ err error }

func (e *notFoundError) Error() string        { return e.err.Error() }
func (e *notFoundError) Unwrap() []error      { return []error{e.err, ErrNotFound} }
func (e *notFoundError) Terminal() bool       { return true }
func (e *notFoundError) Is(target error) bool { return target == ErrNotFound }

package signing

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// ErrNotDigest reports a reference that names a tag instead of a digest.
// Signing a tag would sign whatever the tag points at when the signer looks,
// not what was pushed.
var ErrNotDigest = errors.New("a digest reference (repo@sha256:<hex>) is required, not a tag")

// ParseDigest parses ref as a digest reference and refuses tags.
func ParseDigest(ref string, opts ...name.Option) (name.Digest, error) {
	if !strings.Contains(ref, "@") {
		return name.Digest{}, fmt.Errorf("parsing reference %q: %w", ref, ErrNotDigest)
	}
	d, err := name.NewDigest(ref, opts...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("parsing reference %q: %w", ref, err)
	}
	if !strings.HasPrefix(d.DigestStr(), "sha256:") {
		return name.Digest{}, fmt.Errorf("parsing reference %q: only sha256 digests are supported", ref)
	}
	return d, nil
}

// tagFor returns the cosign tag for the digest with suffix ("sig", "att"):
// sha256:<hex> -> sha256-<hex>.<suffix>, in the digest's repository.
func tagFor(d name.Digest, suffix string) name.Tag {
	t := strings.Replace(d.DigestStr(), ":", "-", 1) + "." + suffix
	return d.Context().Tag(t)
}

package oci

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// ErrInvalidReference marks every reference, digest, repository and tag that
// fails validation. Such errors are terminal: retrying cannot fix the input.
var ErrInvalidReference = errors.New("invalid image reference")

// ReferenceError says which input was refused and why.
type ReferenceError struct {
	// Input is the text that was parsed, verbatim.
	Input string
	// Reason is a short lowercase explanation.
	Reason string
}

// Error implements error.
func (e *ReferenceError) Error() string {
	return fmt.Sprintf("parsing reference %q: %s", e.Input, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidReference) true.
func (e *ReferenceError) Is(target error) bool { return target == ErrInvalidReference }

// Terminal reports that the failure is bad input, never worth a retry.
func (e *ReferenceError) Terminal() bool { return true }

// reframe reports a part's failure against the whole input.
func reframe(input string, err error) error {
	var re *ReferenceError
	if errors.As(err, &re) {
		return refErr(input, "%s", re.Reason)
	}
	return err
}

func refErr(input, format string, args ...any) error {
	return &ReferenceError{Input: input, Reason: fmt.Sprintf(format, args...)}
}

// Repository names an image repository in a registry, such as
// "ghcr.io/ferry-ci/scheduler-worker". The zero value is not valid; build one
// with ParseRepository.
type Repository struct {
	repo name.Repository
}

// ParseRepository validates a repository name. It must not carry a tag or a
// digest. Registries on loopback or private addresses are spoken to over
// plain HTTP (ggcr's rule).
func ParseRepository(s string) (Repository, error) {
	if s == "" {
		return Repository{}, refErr(s, "empty repository")
	}
	if strings.ContainsAny(s, "@") {
		return Repository{}, refErr(s, "repository must not carry a digest")
	}
	if i := strings.LastIndex(s, ":"); i > strings.LastIndex(s, "/") {
		return Repository{}, refErr(s, "repository must not carry a tag")
	}
	r, err := name.NewRepository(s, name.StrictValidation)
	if err != nil {
		return Repository{}, refErr(s, "%s", trimNameErr(err))
	}
	return Repository{repo: r}, nil
}

// String returns the full repository name, registry included.
func (r Repository) String() string { return r.repo.Name() }

// Registry returns the registry host (and port), e.g. "ghcr.io".
func (r Repository) Registry() string { return r.repo.RegistryStr() }

// IsZero reports whether r was never set.
func (r Repository) IsZero() bool { return r.repo.RepositoryStr() == "" }

// Name returns the ggcr form, for calls into go-containerregistry.
func (r Repository) Name() name.Repository { return r.repo }

// Pin returns the pinned reference of d in this repository.
func (r Repository) Pin(d Digest) Pinned { return Pinned{repo: r, digest: d} }

// Tag returns a tag reference in this repository after validating the tag.
func (r Repository) Tag(tag string) (Tagged, error) {
	if err := validateTag(r.String()+":"+tag, tag); err != nil {
		return Tagged{}, err
	}
	return Tagged{repo: r, tag: tag}, nil
}

// Digest is a content digest. Only sha256 is accepted: it is what every OCI
// registry computes and what the deployments tree pins.
type Digest struct {
	hex string
}

// DigestAlgorithm is the only digest algorithm accepted.
const DigestAlgorithm = "sha256"

// ParseDigest validates "sha256:<64 lowercase hex>".
func ParseDigest(s string) (Digest, error) {
	alg, h, ok := strings.Cut(s, ":")
	if !ok {
		return Digest{}, refErr(s, "digest must look like sha256:<64 hex characters>")
	}
	if alg != DigestAlgorithm {
		return Digest{}, refErr(s, "digest algorithm %q is not supported (want sha256)", alg)
	}
	if len(h) != 64 {
		return Digest{}, refErr(s, "sha256 digest has %d hex characters, want 64", len(h))
	}
	if _, err := hex.DecodeString(h); err != nil || strings.ToLower(h) != h {
		return Digest{}, refErr(s, "sha256 digest must be lowercase hexadecimal")
	}
	return Digest{hex: h}, nil
}

// String returns "sha256:<hex>".
func (d Digest) String() string { return DigestAlgorithm + ":" + d.hex }

// Hex returns the 64 hex characters.
func (d Digest) Hex() string { return d.hex }

// IsZero reports whether d was never set.
func (d Digest) IsZero() bool { return d.hex == "" }

// Pinned is a reference that always carries a digest: repo@sha256:<hex>.
// Everything downstream of Push (signing, promotion, deploy) takes a Pinned,
// so a mutable tag cannot reach a cluster. Build one with ParsePinned or
// Repository.Pin.
type Pinned struct {
	repo   Repository
	digest Digest
}

// ParsePinned parses "repo@sha256:<hex>" (a tag before the digest, as in
// "repo:tag@sha256:...", is accepted and dropped: the digest wins). A tag-only
// reference or one naming "latest" is refused.
func ParsePinned(s string) (Pinned, error) {
	repoPart, dig, ok := strings.Cut(s, "@")
	if !ok {
		if isLatest(s) {
			return Pinned{}, refErr(s, "tag \"latest\" is mutable and never deployed; pin a digest (repo@sha256:...)")
		}
		return Pinned{}, refErr(s, "reference has no digest; pin one (repo@sha256:...)")
	}
	if isLatest(repoPart) {
		return Pinned{}, refErr(s, "tag \"latest\" is refused even beside a digest; drop it")
	}
	if i := strings.LastIndex(repoPart, ":"); i > strings.LastIndex(repoPart, "/") {
		if _, err := validateTagOnly(s, repoPart[i+1:]); err != nil {
			return Pinned{}, err
		}
		repoPart = repoPart[:i]
	}
	d, err := ParseDigest(dig)
	if err != nil {
		return Pinned{}, reframe(s, err)
	}
	r, err := ParseRepository(repoPart)
	if err != nil {
		return Pinned{}, reframe(s, err)
	}
	return Pinned{repo: r, digest: d}, nil
}

// String returns "repo@sha256:<hex>".
func (p Pinned) String() string { return p.repo.String() + "@" + p.digest.String() }

// Repository returns the repository part.
func (p Pinned) Repository() Repository { return p.repo }

// Digest returns the digest part.
func (p Pinned) Digest() Digest { return p.digest }

// IsZero reports whether p was never set.
func (p Pinned) IsZero() bool { return p.digest.IsZero() }

// Name returns the ggcr form, for calls into go-containerregistry.
func (p Pinned) Name() name.Digest { return p.repo.repo.Digest(p.digest.String()) }

// Tagged is a tag reference, repo:tag. It names a place to push to or to
// resolve; it is never deployed. "latest" is refused.
type Tagged struct {
	repo Repository
	tag  string
}

// ParseTagged parses "repo:tag". A missing tag (which other tools read as
// "latest"), "latest" itself and references with a digest are refused.
func ParseTagged(s string) (Tagged, error) {
	if strings.Contains(s, "@") {
		return Tagged{}, refErr(s, "reference carries a digest; use ParsePinned")
	}
	i := strings.LastIndex(s, ":")
	if i < 0 || i < strings.LastIndex(s, "/") {
		return Tagged{}, refErr(s, "reference has no tag (an implicit \"latest\" is refused)")
	}
	tag, err := validateTagOnly(s, s[i+1:])
	if err != nil {
		return Tagged{}, err
	}
	r, err := ParseRepository(s[:i])
	if err != nil {
		return Tagged{}, reframe(s, err)
	}
	return Tagged{repo: r, tag: tag}, nil
}

// String returns "repo:tag".
func (t Tagged) String() string { return t.repo.String() + ":" + t.tag }

// Repository returns the repository part.
func (t Tagged) Repository() Repository { return t.repo }

// Tag returns the tag.
func (t Tagged) Tag() string { return t.tag }

// Name returns the ggcr form, for calls into go-containerregistry.
func (t Tagged) Name() name.Tag { return t.repo.repo.Tag(t.tag) }

func isLatest(s string) bool {
	i := strings.LastIndex(s, ":")
	return i >= 0 && i > strings.LastIndex(s, "/") && s[i+1:] == "latest"
}

func validateTagOnly(input, tag string) (string, error) {
	if err := validateTag(input, tag); err != nil {
		return "", err
	}
	return tag, nil
}

// validateTag applies the OCI tag grammar [A-Za-z0-9_][A-Za-z0-9._-]{0,127}
// and refuses "latest".
func validateTag(input, tag string) error {
	if tag == "" {
		return refErr(input, "empty tag")
	}
	if tag == "latest" {
		return refErr(input, "tag \"latest\" is mutable and refused; use {env}-{sha}-{service} or {service}-{fingerprint}")
	}
	if len(tag) > 128 {
		return refErr(input, "tag is %d characters, at most 128 allowed", len(tag))
	}
	for i, c := range tag {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' ||
			(i > 0 && (c == '.' || c == '-'))
		if !ok {
			return refErr(input, "tag %q has a character %q not allowed at position %d", tag, c, i)
		}
	}
	return nil
}

func trimNameErr(err error) string {
	// ggcr's messages start with their own context; keep only the reason.
	msg := err.Error()
	if _, after, ok := strings.Cut(msg, ": "); ok {
		return after
	}
	return msg
}

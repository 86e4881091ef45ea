package gitops

import (
	"context"
	"fmt"
)

// DigestChecker reports whether an image (repo@digest) exists in its
// registry. modules/oci provides the real one.
type DigestChecker interface {
	Exists(ctx context.Context, ref string) (bool, error)
}

// SignatureVerifier verifies an image's signature against an environment's
// policy. modules/signing provides the real one.
type SignatureVerifier interface {
	Verify(ctx context.Context, ref, env string) (Signature, error)
}

// Signature is what a verified signature tells the pull request.
type Signature struct {
	Identity string
	Issuer   string
	LogEntry string
}

// Gate names in a GateResult.
const (
	GateExists    = "digest-exists"
	GateSignature = "signature"
	GateUpstream  = "upstream-pin"
)

// GateResult is one gate's verdict for one image.
type GateResult struct {
	Image  string `json:"image"`
	Gate   string `json:"gate"`
	Passed bool   `json:"passed"`
	Reason string `json:"reason,omitempty"`
}

// runGates checks every image; any failure fails the promotion closed.
// upstreamPins maps image name to the digest the upstream overlay pins
// (nil: no upstream gate).
func (p *Promoter) runGates(ctx context.Context, env string, ims []ImageState, upstream string, upstreamPins map[string]string) ([]GateResult, bool) {
	var out []GateResult
	ok := true
	add := func(g GateResult) {
		out = append(out, g)
		ok = ok && g.Passed
	}
	for i := range ims {
		im := &ims[i]
		r := ref(*im) + "@" + im.Digest
		if p.o.digests != nil {
			exists, err := p.o.digests.Exists(ctx, r)
			switch {
			case err != nil:
				add(GateResult{Image: r, Gate: GateExists, Reason: fmt.Sprintf("checking the registry: %v", err)})
			case !exists:
				add(GateResult{Image: r, Gate: GateExists, Reason: "the registry has no such manifest"})
			default:
				add(GateResult{Image: r, Gate: GateExists, Passed: true})
			}
		}
		if p.o.verifier != nil {
			sig, err := p.o.verifier.Verify(ctx, r, env)
			if err != nil {
				add(GateResult{Image: r, Gate: GateSignature, Reason: fmt.Sprintf("verifying for %s: %v", env, err)})
			} else {
				im.Signer, im.Issuer, im.LogEntry = sig.Identity, sig.Issuer, sig.LogEntry
				add(GateResult{Image: r, Gate: GateSignature, Passed: true, Reason: "signed by " + sig.Identity})
			}
		}
		if upstreamPins != nil {
			switch pin, found := upstreamPins[im.Name]; {
			case !found:
				add(GateResult{Image: r, Gate: GateUpstream, Reason: fmt.Sprintf("%s pins no digest for %s", upstream, im.Name)})
			case pin != im.Digest:
				add(GateResult{Image: r, Gate: GateUpstream, Reason: fmt.Sprintf("%s pins %s, not %s: promote to %s first", upstream, pin, im.Digest, upstream)})
			default:
				add(GateResult{Image: r, Gate: GateUpstream, Passed: true, Reason: upstream + " pins it"})
			}
		}
	}
	return out, ok
}

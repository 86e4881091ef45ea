package signing

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	"google.golang.org/protobuf/types/known/structpb"
)

// Predicate types of the attestations this package writes.
const (
	PredicateTypeSLSAProvenance1 = "https://slsa.dev/provenance/v1"
	PredicateTypeSPDX            = "https://spdx.dev/Document"
	PredicateTypeCycloneDX       = "https://cyclonedx.org/bom"
)

// Attest signs an in-toto statement about the image digest with the given
// predicate (a JSON object) and stores it as cosign stores attestations:
// FormatLegacy writes a DSSE layer to the `sha256-<hex>.att` tag,
// FormatBundle a Sigstore bundle referrer annotated with the predicate type.
func Attest(ctx context.Context, digest name.Digest, signer Signer, predicateType string, predicate []byte, opts ...SignOption) (*Result, error) {
	o, err := makeSignOptions(ctx, opts)
	if err != nil {
		return nil, err
	}
	if err := checkSignInputs(digest, signer, o); err != nil {
		return nil, err
	}
	if predicateType == "" {
		return nil, fmt.Errorf("attesting %q: no predicate type", digest.String())
	}
	if predicateType == PredicateTypeCosignSign {
		return nil, fmt.Errorf("attesting %q: %s is the signature predicate type; use Sign", digest.String(), predicateType)
	}
	var pred structpb.Struct
	if err := pred.UnmarshalJSON(predicate); err != nil {
		return nil, fmt.Errorf("attesting %q: predicate is not a JSON object: %w", digest.String(), err)
	}
	sub := &intoto.ResourceDescriptor{
		Name:   digest.Context().Name(),
		Digest: map[string]string{"sha256": digest.DigestStr()[len("sha256:"):]},
	}
	stmt, err := marshalStatement(sub, predicateType, &pred)
	if err != nil {
		return nil, err
	}
	o.events(Event{Step: "resolving", Ref: digest.String()})
	subject, err := resolve(digest, o.remote)
	if err != nil {
		return nil, err
	}
	m, err := signer.material(ctx)
	if err != nil {
		return nil, err
	}
	if m.certs != nil && o.tlog == nil {
		return nil, errors.New("attesting keylessly: a transparency log is required (see WithTransparencyLog)")
	}
	b, err := signDSSE(ctx, stmt, m, o)
	if err != nil {
		return nil, err
	}
	res := &Result{Digest: digest, Format: o.format, LogIndex: logIndex(b)}
	if o.format.legacy() {
		env, err := envelopeJSON(b.GetDsseEnvelope())
		if err != nil {
			return nil, err
		}
		l, err := legacyLayer(env, b, dsseMediaType)
		if err != nil {
			return nil, err
		}
		l.annotations[annPredicateType] = predicateType
		tag := tagFor(digest, "att")
		if err := appendLayer(ctx, tag, l, o); err != nil {
			return nil, err
		}
		res.Tag = &tag
	}
	if o.format.bundle() {
		bj, err := marshalBundle(b)
		if err != nil {
			return nil, err
		}
		ref, err := writeReferrer(ctx, digest, subject, bj, predicateType, o)
		if err != nil {
			return nil, err
		}
		res.Referrer = &ref
	}
	return res, nil
}

// envelopeJSON renders a DSSE envelope as cosign stores it in `.att` layers.
func envelopeJSON(e *protodsse.Envelope) ([]byte, error) {
	if e == nil {
		return nil, errors.New("encoding attestation: bundle has no DSSE envelope")
	}
	env := dsse.Envelope{PayloadType: e.GetPayloadType(), Payload: base64.StdEncoding.EncodeToString(e.GetPayload())}
	for _, s := range e.GetSignatures() {
		env.Signatures = append(env.Signatures, dsse.Signature{KeyID: s.GetKeyid(), Sig: base64.StdEncoding.EncodeToString(s.GetSig())})
	}
	b, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("encoding attestation: %w", err)
	}
	return b, nil
}

// VerifiedAttestation is an attestation that satisfied a policy.
type VerifiedAttestation struct {
	VerifiedSignature
	// PredicateType is the statement's predicate type.
	PredicateType string
	// Statement is the verified in-toto statement (JSON).
	Statement []byte
}

// VerifyAttestations returns the attestations of the image digest with the
// predicate type that satisfy policy, from the `.att` tag and the bundle
// referrers, or a *VerifyError when there is none.
func VerifyAttestations(ctx context.Context, digest name.Digest, policy *Policy, predicateType string, opts ...VerifyOption) ([]VerifiedAttestation, error) {
	if policy == nil {
		return nil, errors.New("verifying attestations: no policy")
	}
	if predicateType == "" {
		return nil, errors.New("verifying attestations: no predicate type")
	}
	o := &verifyOptions{events: func(Event) {}}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	ropts := append([]remote.Option{remote.WithContext(ctx)}, o.remote...)
	v, err := policy.verifier()
	if err != nil {
		return nil, err
	}
	var out []VerifiedAttestation
	verr := &VerifyError{Ref: digest.String()}
	add := func(source string, format Format, bj []byte) {
		s, cerr := policy.checkBundle(v, digest, bj, predicateType)
		if cerr != nil {
			cerr.Source = source
			verr.Failures = append(verr.Failures, cerr)
			return
		}
		s.Source, s.Format = source, format
		out = append(out, VerifiedAttestation{VerifiedSignature: *s, PredicateType: predicateType, Statement: statementOf(bj)})
	}
	if policy.formats.legacy() {
		tag := tagFor(digest, "att")
		entries, err := readLegacy(tag, ropts)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.annotations[annPredicateType] != "" && e.annotations[annPredicateType] != predicateType {
				continue // another kind of attestation; not a failure
			}
			bj, err := legacyAttestationBundle(e)
			if err != nil {
				verr.Failures = append(verr.Failures, &CheckError{Check: CheckFormat, Source: tag.String(), Err: err})
				continue
			}
			add(tag.String(), FormatLegacy, bj)
		}
	}
	if policy.formats.bundle() {
		bs, err := readBundles(digest, ropts)
		if err != nil {
			return nil, err
		}
		for _, b := range bs {
			if b.predicateType != "" && b.predicateType != predicateType {
				continue
			}
			add(b.ref.String(), FormatBundle, b.json)
		}
	}
	if len(out) == 0 {
		return nil, verr
	}
	return out, nil
}

// legacyAttestationBundle rebuilds a v0.1 bundle JSON from a `.att` layer.
func legacyAttestationBundle(e legacyEntry) ([]byte, error) {
	if e.mediaType != dsseMediaType {
		return nil, fmt.Errorf("layer media type %q is not a DSSE envelope", e.mediaType)
	}
	var env dsse.Envelope
	if err := json.Unmarshal(e.payload, &env); err != nil {
		return nil, fmt.Errorf("parsing DSSE envelope: %w", err)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, fmt.Errorf("parsing DSSE envelope: payload: %w", err)
	}
	pe := &protodsse.Envelope{Payload: payload, PayloadType: env.PayloadType}
	for _, s := range env.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil {
			return nil, fmt.Errorf("parsing DSSE envelope: signature: %w", err)
		}
		pe.Signatures = append(pe.Signatures, &protodsse.Signature{Sig: sig, Keyid: s.KeyID})
	}
	// Reuse the `.sig` conversion for certificate and log entry, then swap
	// the content for the envelope.
	e.annotations = withSignature(e.annotations)
	pb, err := legacyToBundle(e)
	if err != nil {
		return nil, err
	}
	pb.Content = &protobundle.Bundle_DsseEnvelope{DsseEnvelope: pe}
	return marshalBundle(pb)
}

// withSignature fills the empty signature annotation of an attestation so
// that legacyToBundle accepts it; the DSSE signature is what gets verified.
func withSignature(a map[string]string) map[string]string {
	c := make(map[string]string, len(a)+1)
	for k, v := range a {
		c[k] = v
	}
	c[annSignature] = base64.StdEncoding.EncodeToString([]byte("dsse"))
	return c
}

func statementOf(bj []byte) []byte {
	var b struct {
		DSSE struct {
			Payload []byte `json:"payload"`
		} `json:"dsseEnvelope"`
	}
	if json.Unmarshal(bj, &b) != nil {
		return nil
	}
	return b.DSSE.Payload
}

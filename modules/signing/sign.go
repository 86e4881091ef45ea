package signing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	intoto "github.com/in-toto/attestation/go/v1"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore/pkg/signature/payload"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// Format is where and how a signature is stored.
type Format string

// Storage formats.
const (
	// FormatLegacy is cosign's `sha256-<hex>.sig` tag with a simple-signing
	// payload per layer; every cosign, policy-controller and Kyverno reads it.
	FormatLegacy Format = "legacy"
	// FormatBundle is a Sigstore bundle v0.3 (DSSE over an in-toto statement)
	// stored as an OCI 1.1 referrer of the image, cosign v3's default.
	FormatBundle Format = "bundle"
	// FormatBoth writes both.
	FormatBoth Format = "both"
)

// PredicateTypeCosignSign is the predicate type of a cosign v3 image
// signature in bundle format. Verify requires it, so an attestation never
// passes as a signature.
const PredicateTypeCosignSign = "https://sigstore.dev/cosign/sign/v1"

// ParseFormat parses "legacy", "bundle" or "both".
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case FormatLegacy, FormatBundle, FormatBoth:
		return f, nil
	}
	return "", fmt.Errorf("parsing signature format %q: want legacy, bundle or both", s)
}

func (f Format) legacy() bool { return f == FormatLegacy || f == FormatBoth }
func (f Format) bundle() bool { return f == FormatBundle || f == FormatBoth }

// TransparencyLog records a signature in a transparency log (Rekor) and adds
// the log entry to the bundle; sigstore-go's *sign.Rekor implements it.
type TransparencyLog interface {
	GetTransparencyLogEntry(ctx context.Context, verifierPEM []byte, b *protobundle.Bundle) error
}

// NewRekor returns a Rekor v1 client for the log at url (for the public
// instance: https://rekor.sigstore.dev).
func NewRekor(url string, timeout time.Duration) TransparencyLog {
	return sign.NewRekor(&sign.RekorOptions{BaseURL: url, Timeout: timeout, Retries: 2, Version: 1})
}

// Event is a progress notice from Sign, Attest or Verify.
type Event struct {
	// Step is a short gerund: "resolving", "writing", "retrying", "verifying".
	Step string
	// Ref is the reference the step works on.
	Ref string
	// Detail is optional extra text; it never holds secrets.
	Detail string
}

type signOptions struct {
	format      Format
	tlog        TransparencyLog
	annotations map[string]string
	remote      []remote.Option
	events      func(Event)
	attempts    int
	now         func() time.Time
}

// SignOption configures Sign and Attest.
type SignOption func(*signOptions) error

// WithFormat sets the storage format (default FormatLegacy).
func WithFormat(f Format) SignOption {
	return func(o *signOptions) error {
		if _, err := ParseFormat(string(f)); err != nil {
			return err
		}
		o.format = f
		return nil
	}
}

// WithTransparencyLog uploads each signature to log (default: none, fully
// offline). Keyless signing requires one: the log's time stamp is what
// proves the short-lived certificate was valid when signing.
func WithTransparencyLog(log TransparencyLog) SignOption {
	return func(o *signOptions) error {
		if log == nil {
			return errors.New("setting transparency log: nil log")
		}
		o.tlog = log
		return nil
	}
}

// WithAnnotations adds claims to the signed payload (cosign -a key=value;
// default none).
func WithAnnotations(a map[string]string) SignOption {
	return func(o *signOptions) error {
		for k := range a {
			if k == "" {
				return errors.New("setting annotations: empty key")
			}
		}
		o.annotations = a
		return nil
	}
}

// WithRemoteOptions passes options (auth, transport, context) to every
// registry call (default: anonymous, default transport).
func WithRemoteOptions(opts ...remote.Option) SignOption {
	return func(o *signOptions) error {
		o.remote = append(o.remote, opts...)
		return nil
	}
}

// WithEvents receives progress events (default: none; the library is silent).
func WithEvents(fn func(Event)) SignOption {
	return func(o *signOptions) error {
		o.events = fn
		return nil
	}
}

// WithWriteAttempts bounds the read-modify-write attempts of a shared
// signature manifest under contention (default 8).
func WithWriteAttempts(n int) SignOption {
	return func(o *signOptions) error {
		if n < 1 {
			return fmt.Errorf("setting write attempts: %d is less than 1", n)
		}
		o.attempts = n
		return nil
	}
}

func makeSignOptions(ctx context.Context, opts []SignOption) (*signOptions, error) {
	o := &signOptions{format: FormatLegacy, attempts: 8, events: func(Event) {}, now: time.Now}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	o.remote = append([]remote.Option{remote.WithContext(ctx)}, o.remote...)
	return o, nil
}

// Result says what Sign or Attest wrote.
type Result struct {
	// Digest is the signed image.
	Digest name.Digest
	// Format is the format written.
	Format Format
	// Tag is the legacy signature (or attestation) tag, when written.
	Tag *name.Tag
	// Referrer is the bundle referrer manifest, when written.
	Referrer *name.Digest
	// LogIndex is the transparency log index, or -1 when not logged.
	LogIndex int64
}

// Sign signs the image digest with signer and stores the signature in the
// image's repository. Nothing is written when any input is invalid or the
// image cannot be resolved.
func Sign(ctx context.Context, digest name.Digest, signer Signer, opts ...SignOption) (*Result, error) {
	o, err := makeSignOptions(ctx, opts)
	if err != nil {
		return nil, err
	}
	return sign1(ctx, digest, signer, o)
}

func sign1(ctx context.Context, digest name.Digest, signer Signer, o *signOptions) (*Result, error) {
	if err := checkSignInputs(digest, signer, o); err != nil {
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
		return nil, errors.New("signing keylessly: a transparency log is required (see WithTransparencyLog)")
	}
	res := &Result{Digest: digest, Format: o.format, LogIndex: -1}
	if o.format.legacy() {
		b, payloadJSON, err := signLegacyPayload(ctx, digest, m, o)
		if err != nil {
			return nil, err
		}
		tag := tagFor(digest, "sig")
		layer, err := legacyLayer(payloadJSON, b, simpleSigningMediaType)
		if err != nil {
			return nil, err
		}
		if err := appendLayer(ctx, tag, layer, o); err != nil {
			return nil, err
		}
		res.Tag = &tag
		res.LogIndex = logIndex(b)
	}
	if o.format.bundle() {
		stmt, err := signatureStatement(digest, o.annotations)
		if err != nil {
			return nil, err
		}
		b, err := signDSSE(ctx, stmt, m, o)
		if err != nil {
			return nil, err
		}
		bj, err := marshalBundle(b)
		if err != nil {
			return nil, err
		}
		ref, err := writeReferrer(ctx, digest, subject, bj, PredicateTypeCosignSign, o)
		if err != nil {
			return nil, err
		}
		res.Referrer = &ref
		res.LogIndex = logIndex(b)
	}
	return res, nil
}

func checkSignInputs(digest name.Digest, signer Signer, o *signOptions) error {
	if digest.DigestStr() == "" {
		return fmt.Errorf("signing %q: %w", digest.String(), ErrNotDigest)
	}
	if signer == nil {
		return fmt.Errorf("signing %q: no signer", digest.String())
	}
	return nil
}

// resolve checks that the image exists and returns its descriptor, so that
// nothing is written for a missing image or an unreachable registry.
func resolve(digest name.Digest, ropts []remote.Option) (*v1.Descriptor, error) {
	d, err := remote.Head(digest, ropts...)
	if err != nil {
		return nil, classifyRemote(fmt.Errorf("resolving %q: %w", digest.String(), err), err)
	}
	if d.Digest.String() != digest.DigestStr() {
		return nil, fmt.Errorf("resolving %q: registry returned digest %s", digest.String(), d.Digest)
	}
	return d, nil
}

func logIndex(b *protobundle.Bundle) int64 {
	if es := b.GetVerificationMaterial().GetTlogEntries(); len(es) > 0 {
		return es[0].GetLogIndex()
	}
	return -1
}

func bundleOptions(ctx context.Context, m *material, o *signOptions) sign.BundleOptions {
	bo := sign.BundleOptions{Context: ctx, CertificateProvider: m.certs, CertificateProviderOptions: m.certOpts}
	if o.tlog != nil {
		bo.TransparencyLogs = []sign.Transparency{o.tlog}
	}
	return bo
}

// signLegacyPayload signs cosign's simple-signing payload for digest as a
// message signature; the bundle carries signature, certificate and log entry.
func signLegacyPayload(ctx context.Context, digest name.Digest, m *material, o *signOptions) (*protobundle.Bundle, []byte, error) {
	var ann map[string]any
	if len(o.annotations) > 0 {
		ann = make(map[string]any, len(o.annotations))
		for k, v := range o.annotations {
			ann[k] = v
		}
	}
	p, err := json.Marshal(payload.Cosign{Image: digest, Annotations: ann})
	if err != nil {
		return nil, nil, fmt.Errorf("encoding payload for %q: %w", digest.String(), err)
	}
	b, err := sign.Bundle(&sign.PlainData{Data: p}, m.keypair, bundleOptions(ctx, m, o))
	if err != nil {
		return nil, nil, fmt.Errorf("signing %q: %w", digest.String(), err)
	}
	return b, p, nil
}

// signatureStatement is the in-toto statement cosign v3 signs for an image:
// subject is the digest only, predicate empty.
func signatureStatement(digest name.Digest, annotations map[string]string) ([]byte, error) {
	sub := &intoto.ResourceDescriptor{Digest: map[string]string{"sha256": digest.DigestStr()[len("sha256:"):]}}
	if len(annotations) > 0 {
		m := make(map[string]any, len(annotations))
		for k, v := range annotations {
			m[k] = v
		}
		s, err := structpb.NewStruct(m)
		if err != nil {
			return nil, fmt.Errorf("encoding annotations: %w", err)
		}
		sub.Annotations = s
	}
	return marshalStatement(sub, PredicateTypeCosignSign, &structpb.Struct{})
}

func marshalStatement(sub *intoto.ResourceDescriptor, predicateType string, predicate *structpb.Struct) ([]byte, error) {
	st := &intoto.Statement{
		Type:          intoto.StatementTypeUri,
		Subject:       []*intoto.ResourceDescriptor{sub},
		PredicateType: predicateType,
		Predicate:     predicate,
	}
	b, err := protojson.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encoding in-toto statement: %w", err)
	}
	return b, nil
}

// signDSSE signs an in-toto statement as a DSSE envelope.
func signDSSE(ctx context.Context, stmt []byte, m *material, o *signOptions) (*protobundle.Bundle, error) {
	b, err := sign.Bundle(&sign.DSSEData{Data: stmt, PayloadType: inTotoPayloadType}, m.keypair, bundleOptions(ctx, m, o))
	if err != nil {
		return nil, fmt.Errorf("signing in-toto statement: %w", err)
	}
	return b, nil
}

package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// Identity is the keyless signer a policy accepts. Each of issuer and
// subject is given exactly (Issuer, Subject) or as a regular expression
// anchored with ^ and $ (IssuerRegexp, SubjectRegexp). The GitHub fields,
// when set, must equal the certificate's workflow extensions.
type Identity struct {
	// Issuer is the exact OIDC issuer, e.g. https://token.actions.githubusercontent.com.
	Issuer string
	// IssuerRegexp is an anchored regular expression over the issuer.
	IssuerRegexp string
	// Subject is the exact certificate identity (SAN), e.g.
	// https://github.com/ORG/REPO/.github/workflows/release.yml@refs/heads/main.
	Subject string
	// SubjectRegexp is an anchored regular expression over the identity.
	SubjectRegexp string
	// GitHubWorkflowRepository is ORG/REPO of the workflow run.
	GitHubWorkflowRepository string
	// GitHubWorkflowRef is the git ref of the run, e.g. refs/heads/main.
	GitHubWorkflowRef string
	// GitHubWorkflowTrigger is the event that started the run, e.g. push.
	GitHubWorkflowTrigger string
}

type matcher struct {
	exact string
	re    *regexp.Regexp
}

func newMatcher(field, exact, expr string) (matcher, error) {
	switch {
	case exact != "" && expr != "":
		return matcher{}, fmt.Errorf("checking policy: both %s and %sRegexp are set", field, field)
	case exact == "" && expr == "":
		return matcher{}, fmt.Errorf("checking policy: one of %s or %sRegexp is required", field, field)
	case expr != "":
		if !strings.HasPrefix(expr, "^") || !strings.HasSuffix(expr, "$") {
			return matcher{}, fmt.Errorf("checking policy: %sRegexp %q must be anchored with ^ and $", field, expr)
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return matcher{}, fmt.Errorf("checking policy: parsing %sRegexp: %w", field, err)
		}
		return matcher{re: re}, nil
	}
	return matcher{exact: exact}, nil
}

func (m matcher) match(s string) bool {
	if m.re != nil {
		return m.re.MatchString(s)
	}
	return s == m.exact
}

func (m matcher) String() string {
	if m.re != nil {
		return "regexp " + m.re.String()
	}
	return fmt.Sprintf("%q", m.exact)
}

// Policy says which signatures Verify accepts. Build it with KeyPolicy or
// KeylessPolicy.
type Policy struct {
	key         *ecdsa.PublicKey
	keyID       string
	identity    *Identity
	issuer      matcher
	subject     matcher
	trusted     root.TrustedMaterial
	requireTlog bool
	skipSCT     bool
	formats     Format
}

// PolicyOption configures a Policy.
type PolicyOption func(*Policy) error

// WithTlog requires a transparency log entry, verified against the logs of
// trusted (a trusted_root.json; see LoadTrustedRoot). Default for key
// policies: no log (offline signatures); keyless policies always require one.
func WithTlog(trusted root.TrustedMaterial) PolicyOption {
	return func(p *Policy) error {
		if trusted == nil {
			return errors.New("checking policy: WithTlog needs trusted material")
		}
		p.requireTlog = true
		if p.trusted == nil {
			p.trusted = trusted
		}
		return nil
	}
}

// WithFormats limits the formats looked at (default FormatBoth: the legacy
// tag and the bundle referrers).
func WithFormats(f Format) PolicyOption {
	return func(p *Policy) error {
		if _, err := ParseFormat(string(f)); err != nil {
			return err
		}
		p.formats = f
		return nil
	}
}

// SkipSCTUnsafe accepts certificates without a certificate transparency
// proof (private Fulcio instances without a CT log). Default: required.
func SkipSCTUnsafe() PolicyOption {
	return func(p *Policy) error {
		p.skipSCT = true
		return nil
	}
}

// KeyPolicy accepts signatures made with the private half of pub (ECDSA
// P-256), offline by default.
func KeyPolicy(pub crypto.PublicKey, opts ...PolicyOption) (*Policy, error) {
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, errors.New("checking policy: the key must be ECDSA P-256")
	}
	id, err := keyHint(ec)
	if err != nil {
		return nil, err
	}
	p := &Policy{key: ec, keyID: id, formats: FormatBoth}
	for _, opt := range opts {
		if err := opt(p); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// KeylessPolicy accepts signatures whose Fulcio certificate names the
// identity and chains to trusted (a trusted_root.json; see LoadTrustedRoot).
// A transparency log entry is always required.
func KeylessPolicy(id Identity, trusted root.TrustedMaterial, opts ...PolicyOption) (*Policy, error) {
	if trusted == nil {
		return nil, errors.New("checking policy: keyless verification needs a trusted root")
	}
	iss, err := newMatcher("Issuer", id.Issuer, id.IssuerRegexp)
	if err != nil {
		return nil, err
	}
	sub, err := newMatcher("Subject", id.Subject, id.SubjectRegexp)
	if err != nil {
		return nil, err
	}
	p := &Policy{identity: &id, issuer: iss, subject: sub, trusted: trusted, requireTlog: true, formats: FormatBoth}
	for _, opt := range opts {
		if err := opt(p); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// LoadTrustedRoot reads a Sigstore trusted_root.json (the file cosign's
// --trusted-root takes), so that verification needs no TUF and no network.
func LoadTrustedRoot(path string) (root.TrustedMaterial, error) {
	tr, err := root.NewTrustedRootFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("loading trusted root %q: %w", path, err)
	}
	return tr, nil
}

// Report describes the signatures that satisfied a policy.
type Report struct {
	// Digest is the verified image.
	Digest name.Digest
	// Signatures holds every signature that satisfied the policy.
	Signatures []VerifiedSignature
}

// VerifiedSignature is one accepted signature.
type VerifiedSignature struct {
	// Format is where it was found: FormatLegacy or FormatBundle.
	Format Format
	// Source is the signature tag or referrer manifest.
	Source string
	// KeyID identifies the public key of a key-based signature.
	KeyID string
	// Subject is the certificate identity of a keyless signature.
	Subject string
	// Issuer is the OIDC issuer of a keyless signature.
	Issuer string
	// GitHubWorkflowRepository, GitHubWorkflowRef and GitHubWorkflowTrigger
	// are copied from the certificate when present.
	GitHubWorkflowRepository, GitHubWorkflowRef, GitHubWorkflowTrigger string
	// Time is the verified signing time (log or timestamp authority); zero
	// for an offline key signature, which carries no trusted time.
	Time time.Time
	// LogIndex is the transparency log index, or -1.
	LogIndex int64
}

// Signer names who signed: the identity for keyless, "key <id>" otherwise.
func (s VerifiedSignature) Signer() string {
	if s.Subject != "" {
		return s.Subject
	}
	return "key " + s.KeyID
}

type verifyOptions struct {
	remote []remote.Option
	events func(Event)
}

// VerifyOption configures Verify.
type VerifyOption func(*verifyOptions) error

// WithVerifyRemoteOptions passes options to every registry call (default:
// anonymous, default transport).
func WithVerifyRemoteOptions(opts ...remote.Option) VerifyOption {
	return func(o *verifyOptions) error {
		o.remote = append(o.remote, opts...)
		return nil
	}
}

// WithVerifyEvents receives progress events (default: none).
func WithVerifyEvents(fn func(Event)) VerifyOption {
	return func(o *verifyOptions) error {
		o.events = fn
		return nil
	}
}

// Verify checks that the image digest carries at least one signature that
// satisfies policy, in the legacy tag or among the bundle referrers. It
// fails closed: any doubt is a rejection. The error is a *VerifyError
// naming the failed check of each rejected signature, or a registry error.
func Verify(ctx context.Context, digest name.Digest, policy *Policy, opts ...VerifyOption) (*Report, error) {
	if policy == nil {
		return nil, errors.New("verifying: no policy")
	}
	if digest.DigestStr() == "" {
		return nil, fmt.Errorf("verifying %q: %w", digest.String(), ErrNotDigest)
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
	rep := &Report{Digest: digest}
	verr := &VerifyError{Ref: digest.String()}
	if policy.formats.legacy() {
		tag := tagFor(digest, "sig")
		o.events(Event{Step: "reading", Ref: tag.String()})
		entries, err := readLegacy(tag, ropts)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			s, cerr := policy.checkLegacy(v, digest, e)
			if cerr != nil {
				cerr.Source = tag.String()
				verr.Failures = append(verr.Failures, cerr)
				continue
			}
			s.Source = tag.String()
			rep.Signatures = append(rep.Signatures, *s)
		}
	}
	if policy.formats.bundle() {
		o.events(Event{Step: "reading", Ref: digest.String(), Detail: "referrers"})
		bs, err := readBundles(digest, ropts)
		if err != nil {
			return nil, err
		}
		for _, b := range bs {
			s, cerr := policy.checkBundle(v, digest, b.json, PredicateTypeCosignSign)
			if cerr != nil {
				cerr.Source = b.ref.String()
				verr.Failures = append(verr.Failures, cerr)
				continue
			}
			s.Source = b.ref.String()
			rep.Signatures = append(rep.Signatures, *s)
		}
	}
	if len(rep.Signatures) == 0 {
		return nil, verr
	}
	return rep, nil
}

// verifier builds the sigstore-go verifier for the policy.
func (p *Policy) verifier() (*verify.Verifier, error) {
	var trusted root.TrustedMaterial = p.trusted
	var opts []verify.VerifierOption
	if p.key != nil {
		sv, err := signature.LoadVerifier(p.key, crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("loading policy key: %w", err)
		}
		keys := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
			return root.NewExpiringKey(sv, time.Time{}, time.Time{}), nil
		})
		if p.trusted != nil {
			trusted = root.TrustedMaterialCollection{p.trusted, keys}
		} else {
			trusted = keys
		}
		if p.requireTlog {
			opts = append(opts, verify.WithTransparencyLog(1), verify.WithIntegratedTimestamps(1))
		} else {
			opts = append(opts, verify.WithNoObserverTimestamps())
		}
	} else {
		opts = append(opts, verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1))
		if !p.skipSCT {
			opts = append(opts, verify.WithSignedCertificateTimestamps(1))
		}
	}
	v, err := verify.NewVerifier(trusted, opts...)
	if err != nil {
		return nil, fmt.Errorf("building verifier: %w", err)
	}
	return v, nil
}

func checkErr(check string, format string, args ...any) *CheckError {
	return &CheckError{Check: check, Err: fmt.Errorf(format, args...)}
}

// checkLegacy verifies one layer of the `.sig` tag.
func (p *Policy) checkLegacy(v *verify.Verifier, digest name.Digest, e legacyEntry) (*VerifiedSignature, *CheckError) {
	if e.mediaType != simpleSigningMediaType {
		return nil, checkErr(CheckFormat, "layer media type %q is not a simple-signing payload", e.mediaType)
	}
	pb, err := legacyToBundle(e)
	if err != nil {
		return nil, &CheckError{Check: CheckFormat, Err: err}
	}
	b, err := bundle.NewBundle(pb)
	if err != nil {
		return nil, checkErr(CheckFormat, "rebuilding bundle: %w", err)
	}
	res, cerr := p.verifyEntity(v, b, verify.WithArtifact(bytes.NewReader(e.payload)))
	if cerr != nil {
		return nil, cerr
	}
	// The signature is good; now what it says: the claim must name this
	// exact digest, or it is a signature of another image copied here.
	var claim payload.Cosign
	if err := json.Unmarshal(e.payload, &claim); err != nil {
		return nil, checkErr(CheckFormat, "parsing simple-signing payload: %w", err)
	}
	if got := claim.Image.DigestStr(); got != digest.DigestStr() {
		return nil, checkErr(CheckDigest, "payload signs %s, not %s", got, digest.DigestStr())
	}
	s := p.report(res, FormatLegacy)
	if len(pb.GetVerificationMaterial().GetTlogEntries()) > 0 {
		s.LogIndex = pb.GetVerificationMaterial().GetTlogEntries()[0].GetLogIndex()
	}
	return s, nil
}

// checkBundle verifies one Sigstore bundle whose DSSE statement must name
// the digest and carry predicateType.
func (p *Policy) checkBundle(v *verify.Verifier, digest name.Digest, bj []byte, predicateType string) (*VerifiedSignature, *CheckError) {
	var b bundle.Bundle
	if err := b.UnmarshalJSON(bj); err != nil {
		return nil, checkErr(CheckFormat, "parsing bundle: %w", err)
	}
	if b.GetDsseEnvelope() == nil {
		return nil, checkErr(CheckFormat, "bundle holds no DSSE envelope")
	}
	raw, err := hex.DecodeString(strings.TrimPrefix(digest.DigestStr(), "sha256:"))
	if err != nil {
		return nil, checkErr(CheckFormat, "decoding digest: %w", err)
	}
	res, cerr := p.verifyEntity(v, &b, verify.WithArtifactDigest("sha256", raw))
	if cerr != nil {
		return nil, cerr
	}
	if res.Statement == nil {
		return nil, checkErr(CheckFormat, "bundle holds no in-toto statement")
	}
	if got := res.Statement.GetPredicateType(); got != predicateType {
		return nil, checkErr(CheckPredicateType, "predicate type is %q, want %q", got, predicateType)
	}
	s := p.report(res, FormatBundle)
	if es := b.GetVerificationMaterial().GetTlogEntries(); len(es) > 0 {
		s.LogIndex = es[0].GetLogIndex()
	}
	return s, nil
}

// verifyEntity runs sigstore-go's verification, then the policy's own key
// and identity checks, so that each failure names its check.
func (p *Policy) verifyEntity(v *verify.Verifier, e verify.SignedEntity, artifact verify.ArtifactPolicyOption) (*verify.VerificationResult, *CheckError) {
	vc, err := e.VerificationContent()
	if err != nil {
		return nil, checkErr(CheckFormat, "reading verification material: %w", err)
	}
	cert := vc.Certificate()
	switch {
	case p.key != nil && cert != nil:
		return nil, checkErr(CheckKey, "signed with a certificate, the policy requires key %s", p.keyID)
	case p.key == nil && cert == nil:
		return nil, checkErr(CheckKey, "signed with a key, the policy requires a certificate")
	}
	idOpt := verify.WithKey()
	if p.key == nil {
		// Identity is checked below, field by field, to name what differs.
		idOpt = verify.WithoutIdentitiesUnsafe()
	}
	res, err := v.Verify(e, verify.NewPolicy(artifact, idOpt))
	if err != nil {
		return nil, &CheckError{Check: classifyVerify(err), Err: err}
	}
	if p.key == nil {
		if cerr := p.checkIdentity(res.Signature.Certificate); cerr != nil {
			return nil, cerr
		}
	}
	return res, nil
}

func classifyVerify(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "outside certificate validity"), strings.Contains(s, "certificate has expired"):
		return CheckCertificate
	case strings.Contains(s, "failed to verify log inclusion"), strings.Contains(s, "failed to verify timestamps"),
		strings.Contains(s, "transparency log"):
		return CheckTlog
	case strings.Contains(s, "signed certificate timestamp"), strings.Contains(s, "SCT"):
		return CheckSCT
	case strings.Contains(s, "failed to verify leaf certificate"):
		return CheckCertificate
	case strings.Contains(s, "does not match") && strings.Contains(s, "digest"):
		return CheckDigest
	case strings.Contains(s, "expected key signature"):
		return CheckKey
	}
	return CheckSignature
}

func (p *Policy) checkIdentity(c *certificate.Summary) *CheckError {
	if c == nil {
		return checkErr(CheckKey, "no certificate")
	}
	if !p.issuer.match(c.Issuer) {
		return checkErr(CheckIssuer, "issuer %q does not match %s", c.Issuer, p.issuer)
	}
	if !p.subject.match(c.SubjectAlternativeName) {
		return checkErr(CheckSubject, "identity %q does not match %s", c.SubjectAlternativeName, p.subject)
	}
	id := p.identity
	if want := id.GitHubWorkflowRepository; want != "" {
		got := first(c.GithubWorkflowRepository, strings.TrimPrefix(c.SourceRepositoryURI, "https://github.com/"))
		if got != want {
			return checkErr(CheckRepository, "workflow repository %q, want %q", got, want)
		}
	}
	if want := id.GitHubWorkflowRef; want != "" {
		if got := first(c.GithubWorkflowRef, c.SourceRepositoryRef); got != want {
			return checkErr(CheckRef, "workflow ref %q, want %q", got, want)
		}
	}
	if want := id.GitHubWorkflowTrigger; want != "" {
		if got := first(c.GithubWorkflowTrigger, c.BuildTrigger); got != want {
			return checkErr(CheckTrigger, "workflow trigger %q, want %q", got, want)
		}
	}
	return nil
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (p *Policy) report(res *verify.VerificationResult, f Format) *VerifiedSignature {
	s := &VerifiedSignature{Format: f, LogIndex: -1}
	if c := res.Signature.Certificate; c != nil {
		s.Subject = c.SubjectAlternativeName
		s.Issuer = c.Issuer
		s.GitHubWorkflowRepository = first(c.GithubWorkflowRepository, strings.TrimPrefix(c.SourceRepositoryURI, "https://github.com/"))
		s.GitHubWorkflowRef = first(c.GithubWorkflowRef, c.SourceRepositoryRef)
		s.GitHubWorkflowTrigger = first(c.GithubWorkflowTrigger, c.BuildTrigger)
	} else {
		s.KeyID = p.keyID
	}
	for _, ts := range res.VerifiedTimestamps {
		if s.Time.IsZero() || ts.Timestamp.Before(s.Time) {
			s.Time = ts.Timestamp
		}
	}
	return s
}

// legacyToBundle rebuilds a v0.1 Sigstore bundle from a `.sig` layer and its
// annotations, so that one verifier handles both formats.
func legacyToBundle(e legacyEntry) (*protobundle.Bundle, error) {
	sig, err := base64.StdEncoding.DecodeString(e.annotations[annSignature])
	if err != nil || len(sig) == 0 {
		return nil, errors.New("decoding signature annotation: missing or not base64")
	}
	sum := sha256Sum(e.payload)
	pb := &protobundle.Bundle{
		MediaType: "application/vnd.dev.sigstore.bundle+json;version=0.1",
		Content: &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
			MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: sum},
			Signature:     sig,
		}},
		VerificationMaterial: &protobundle.VerificationMaterial{},
	}
	if certPEM := e.annotations[annCertificate]; certPEM != "" {
		certs, err := parseCerts([]byte(certPEM + "\n" + e.annotations[annChain]))
		if err != nil {
			return nil, err
		}
		chain := &protocommon.X509CertificateChain{}
		for _, c := range certs {
			chain.Certificates = append(chain.Certificates, &protocommon.X509Certificate{RawBytes: c.Raw})
		}
		pb.VerificationMaterial.Content = &protobundle.VerificationMaterial_X509CertificateChain{X509CertificateChain: chain}
	} else {
		pb.VerificationMaterial.Content = &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{}}
	}
	if rb := e.annotations[annBundle]; rb != "" {
		entry, err := tlogFromRekorBundle([]byte(rb))
		if err != nil {
			return nil, err
		}
		pb.VerificationMaterial.TlogEntries = []*protorekor.TransparencyLogEntry{entry}
	}
	return pb, nil
}

func parseCerts(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing certificate annotation: %w", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("parsing certificate annotation: no certificate")
	}
	return out, nil
}

func tlogFromRekorBundle(b []byte) (*protorekor.TransparencyLogEntry, error) {
	var rb rekorBundle
	if err := json.Unmarshal(b, &rb); err != nil {
		return nil, fmt.Errorf("parsing log entry annotation: %w", err)
	}
	body, err := base64.StdEncoding.DecodeString(rb.Payload.Body)
	if err != nil {
		return nil, fmt.Errorf("parsing log entry annotation: body: %w", err)
	}
	logID, err := hex.DecodeString(rb.Payload.LogID)
	if err != nil {
		return nil, fmt.Errorf("parsing log entry annotation: logID: %w", err)
	}
	var kv struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(body, &kv); err != nil {
		return nil, fmt.Errorf("parsing log entry body: %w", err)
	}
	return &protorekor.TransparencyLogEntry{
		LogIndex:          rb.Payload.LogIndex,
		LogId:             &protocommon.LogId{KeyId: logID},
		KindVersion:       &protorekor.KindVersion{Kind: kv.Kind, Version: kv.APIVersion},
		IntegratedTime:    rb.Payload.IntegratedTime,
		InclusionPromise:  &protorekor.InclusionPromise{SignedEntryTimestamp: rb.SignedEntryTimestamp},
		CanonicalizedBody: body,
	}, nil
}

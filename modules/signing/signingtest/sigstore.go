package signingtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-openapi/strfmt"
	"github.com/sigstore/rekor/pkg/generated/client/entries"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/rekor/pkg/types"
	_ "github.com/sigstore/rekor/pkg/types/dsse/v0.0.1"         // entry types the fake log accepts
	_ "github.com/sigstore/rekor/pkg/types/hashedrekord/v0.0.1" // entry types the fake log accepts
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// FakeIssuer, FakeRepo and FakeIdentity are the OIDC issuer, the
// repository and the certificate identity of the tokens FakeToken makes: a
// GitHub Actions release workflow on main.
const (
	FakeIssuer   = "https://token.actions.githubusercontent.com"
	FakeRepo     = "ferry-ci/ferry"
	FakeIdentity = "https://github.com/ferry-ci/ferry/.github/workflows/release.yml@refs/heads/main"
)

// Sigstore is an offline Fulcio and Rekor, for what cannot run here.
// Fulcio is an HTTP server speaking its v2 signingCert contract with a CA
// from sigstore-go's testing/ca (no SCT: verify with SkipSCTUnsafe); Rekor
// is a v1 log whose entries sigstore-go's VirtualSigstore signs, over HTTP
// (RekorURL) or in process (RekorClient).
type Sigstore struct {
	// FulcioURL and RekorURL are the servers' roots.
	FulcioURL, RekorURL string
	// TrustedRoot is the path of the trusted_root.json of both.
	TrustedRoot string

	vs         *ca.VirtualSigstore
	rootCert   *x509.Certificate
	interCert  *x509.Certificate
	interKey   *ecdsa.PrivateKey
	certWindow atomic.Pointer[[2]time.Time] // leaf validity override
	logMu      sync.Mutex
}

// StartSigstore starts the fake Fulcio and Rekor until the test ends.
func StartSigstore(t testing.TB) *Sigstore {
	t.Helper()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	rootCert, rootKey, err := ca.GenerateRootCa()
	if err != nil {
		t.Fatal(err)
	}
	interCert, interKey, err := ca.GenerateFulcioIntermediate(rootCert, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	s := &Sigstore{vs: vs, rootCert: rootCert, interCert: interCert, interKey: interKey}
	fulcio := httptest.NewServer(http.HandlerFunc(s.serveSigningCert))
	t.Cleanup(fulcio.Close)
	rekor := httptest.NewServer(http.HandlerFunc(s.serveRekor))
	t.Cleanup(rekor.Close)
	s.FulcioURL, s.RekorURL = fulcio.URL, rekor.URL

	// Log IDs in a trusted root are the raw 32-byte key IDs;
	// VirtualSigstore's RekorLogs/CTLogs hold the hex text's bytes, which
	// cosign cannot match.
	fixIDs := func(m map[string]*root.TransparencyLog) map[string]*root.TransparencyLog {
		for id, l := range m {
			raw, err := hex.DecodeString(id)
			if err != nil {
				t.Fatal(err)
			}
			l.ID, l.ValidityPeriodStart, l.ValidityPeriodEnd = raw, time.Now().Add(-24*time.Hour), time.Time{}
		}
		return m
	}
	cas := []root.CertificateAuthority{&root.FulcioCertificateAuthority{Root: rootCert, Intermediates: []*x509.Certificate{interCert},
		ValidityPeriodStart: time.Now().Add(-24 * time.Hour), URI: fulcio.URL}}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, cas, fixIDs(vs.CTLogs()), nil, fixIDs(vs.RekorLogs()))
	if err != nil {
		t.Fatal(err)
	}
	j, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	s.TrustedRoot = filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(s.TrustedRoot, j, 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

// SetCertWindow makes Fulcio issue leaves valid from notBefore to
// notAfter; zero times restore the default (from a minute ago for ten
// minutes).
func (s *Sigstore) SetCertWindow(notBefore, notAfter time.Time) {
	if notBefore.IsZero() && notAfter.IsZero() {
		s.certWindow.Store(nil)
		return
	}
	s.certWindow.Store(&[2]time.Time{notBefore, notAfter})
}

// FakeToken is an unsigned JWT shaped like a GitHub Actions OIDC token
// for the workflow workflowRef (owner/repo/path@ref) of repo at ref,
// triggered by event and expiring after ttl (Fulcio verifies the
// signature; this fake does not).
func FakeToken(t testing.TB, workflowRef, repo, ref, event string, ttl time.Duration) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"iss": FakeIssuer, "aud": "sigstore", "exp": time.Now().Add(ttl).Unix(),
		"sub":              "repo:" + repo + ":ref:" + ref,
		"job_workflow_ref": workflowRef, "repository": repo, "ref": ref, "event_name": event,
	})
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(b) + "." + enc([]byte("sig"))
}

// FakeReleaseToken is FakeToken for FakeIdentity: FakeRepo's release
// workflow on main, triggered by a push.
func FakeReleaseToken(t testing.TB, ttl time.Duration) string {
	t.Helper()
	return FakeToken(t, strings.TrimPrefix(FakeIdentity, "https://github.com/"), FakeRepo, "refs/heads/main", "push", ttl)
}

var (
	oidIssuerV1      = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}
	oidTriggerV1     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 2}
	oidRepositoryV1  = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 5}
	oidRefV1         = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 6}
	oidIssuerV2      = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}
	oidSourceRepoURI = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 12}
	oidSourceRepoRef = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 14}
	oidBuildTrigger  = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 20}
)

// serveSigningCert implements POST /api/v2/signingCert for GitHub tokens:
// a leaf for the request's public key naming the token's workflow, issuer,
// repository, ref and trigger.
func (s *Sigstore) serveSigningCert(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/api/v2/signingCert" {
		http.NotFound(w, r)
		return
	}
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		http.Error(w, "bad token", http.StatusUnauthorized)
		return
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	if err != nil || json.Unmarshal(raw, &c) != nil {
		http.Error(w, "bad token", http.StatusUnauthorized)
		return
	}
	var req struct {
		PublicKeyRequest struct {
			PublicKey struct{ Content string } `json:"publicKey"`
		} `json:"publicKeyRequest"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(req.PublicKeyRequest.PublicKey.Content))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	str := func(k string) string { v, _ := c[k].(string); return v }
	san, err := url.Parse("https://github.com/" + str("job_workflow_ref"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	utf8 := func(v string) []byte { b, _ := asn1.MarshalWithParams(v, "utf8"); return b }
	notBefore, notAfter := time.Now().Add(-time.Minute), time.Now().Add(10*time.Minute)
	if win := s.certWindow.Load(); win != nil {
		notBefore, notAfter = win[0], win[1]
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		URIs:         []*url.URL{san},
		ExtraExtensions: []pkix.Extension{
			{Id: oidIssuerV1, Value: []byte(str("iss"))},
			{Id: oidTriggerV1, Value: []byte(str("event_name"))},
			{Id: oidRepositoryV1, Value: []byte(str("repository"))},
			{Id: oidRefV1, Value: []byte(str("ref"))},
			{Id: oidIssuerV2, Value: utf8(str("iss"))},
			{Id: oidSourceRepoURI, Value: utf8("https://github.com/" + str("repository"))},
			{Id: oidSourceRepoRef, Value: utf8(str("ref"))},
			{Id: oidBuildTrigger, Value: utf8(str("event_name"))},
		},
	}
	der, err := x509.CreateCertificate(nil, tmpl, s.interCert, pub, s.interKey)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	p := func(b []byte) string { return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b})) }
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"signedCertificateEmbeddedSct": map[string]any{"chain": map[string]any{
		"certificates": []string{p(der), p(s.interCert.Raw), p(s.rootCert.Raw)},
	}}})
}

// logEntry canonicalises the proposed entry as Rekor does and returns its
// UUID and the entry with a signed entry timestamp and an inclusion proof
// from the VirtualSigstore.
func (s *Sigstore) logEntry(pe models.ProposedEntry) (string, models.LogEntryAnon, error) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	impl, err := types.UnmarshalEntry(pe)
	if err != nil {
		return "", models.LogEntryAnon{}, fmt.Errorf("fake rekor: %w", err)
	}
	body, err := impl.Canonicalize(context.Background())
	if err != nil {
		return "", models.LogEntryAnon{}, fmt.Errorf("fake rekor: %w", err)
	}
	logID, err := s.vs.RekorLogID()
	if err != nil {
		return "", models.LogEntryAnon{}, err
	}
	it, idx := time.Now().Unix(), int64(0)
	b64 := base64.StdEncoding.EncodeToString(body)
	set, err := s.vs.RekorSignPayload(tlog.RekorPayload{Body: b64, IntegratedTime: it, LogIndex: idx, LogID: logID})
	if err != nil {
		return "", models.LogEntryAnon{}, err
	}
	proof, err := s.vs.GetInclusionProof(body)
	if err != nil {
		return "", models.LogEntryAnon{}, err
	}
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:]), models.LogEntryAnon{
		Body: b64, IntegratedTime: &it, LogID: &logID, LogIndex: &idx,
		Verification: &models.LogEntryAnonVerification{SignedEntryTimestamp: strfmt.Base64(set), InclusionProof: proof},
	}, nil
}

// serveRekor implements Rekor v1's POST /api/v1/log/entries.
func (s *Sigstore) serveRekor(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/api/v1/log/entries" {
		http.NotFound(w, r)
		return
	}
	pe, err := models.UnmarshalProposedEntry(r.Body, nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	uuid, entry, err := s.logEntry(pe)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ETag", uuid)
	w.Header().Set("Location", "/api/v1/log/entries/"+uuid)
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(models.LogEntry{uuid: entry})
}

// RekorClient returns the fake Rekor as a sigstore-go Rekor v1 client in
// process, for sign.NewRekor.
func (s *Sigstore) RekorClient() sign.RekorClient {
	return rekorClient{s}
}

type rekorClient struct{ s *Sigstore }

// CreateLogEntry logs the proposed entry.
func (c rekorClient) CreateLogEntry(params *entries.CreateLogEntryParams, _ ...entries.ClientOption) (*entries.CreateLogEntryCreated, error) {
	uuid, entry, err := c.s.logEntry(params.ProposedEntry)
	if err != nil {
		return nil, err
	}
	return &entries.CreateLogEntryCreated{ETag: uuid, Payload: models.LogEntry{uuid: entry}}, nil
}

// GetLogEntryByUUID is not supported.
func (rekorClient) GetLogEntryByUUID(*entries.GetLogEntryByUUIDParams, ...entries.ClientOption) (*entries.GetLogEntryByUUIDOK, error) {
	return nil, fmt.Errorf("fake rekor: lookups are not supported")
}

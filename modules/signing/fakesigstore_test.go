package signing

import (
	"context"
	"crypto/ecdsa"
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
	_ "github.com/sigstore/rekor/pkg/types/dsse/v0.0.1"
	_ "github.com/sigstore/rekor/pkg/types/hashedrekord/v0.0.1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

const (
	githubIssuer = "https://token.actions.githubusercontent.com"
	testRepo     = "ferry-ci/ferry"
	testWorkflow = "https://github.com/ferry-ci/ferry/.github/workflows/release.yml@refs/heads/main"
)

// fakeSigstore is an offline Fulcio and Rekor: Fulcio is an httptest server
// speaking Fulcio's v2 signingCert contract with a CA from sigstore-go's
// testing/ca; Rekor is sigstore-go's VirtualSigstore behind the Rekor v1
// client interface, so sigstore-go's own Fulcio and Rekor clients run.
type fakeSigstore struct {
	vs          *ca.VirtualSigstore
	rootCert    *x509.Certificate
	interCert   *x509.Certificate
	interKey    *ecdsa.PrivateKey
	fulcio      *httptest.Server
	certWindow  atomic.Pointer[[2]time.Time] // leaf validity override
	trustedRoot string                       // path of trusted_root.json
	rekor       *fakeRekorClient
}

func newFakeSigstore(t testing.TB) *fakeSigstore {
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
	f := &fakeSigstore{vs: vs, rootCert: rootCert, interCert: interCert, interKey: interKey}
	f.rekor = &fakeRekorClient{vs: vs}
	f.fulcio = httptest.NewServer(http.HandlerFunc(f.serveSigningCert))
	t.Cleanup(f.fulcio.Close)

	// The trusted root cosign --trusted-root and LoadTrustedRoot read. Log
	// IDs are the raw 32-byte key IDs (VirtualSigstore's RekorLogs/CTLogs
	// hold the hex text's bytes, which cosign cannot match).
	fixIDs := func(m map[string]*root.TransparencyLog) map[string]*root.TransparencyLog {
		for id, l := range m {
			raw, err := hex.DecodeString(id)
			if err != nil {
				t.Fatal(err)
			}
			l.ID = raw
			l.ValidityPeriodStart = time.Now().Add(-24 * time.Hour)
			l.ValidityPeriodEnd = time.Time{}
		}
		return m
	}
	cas := []root.CertificateAuthority{&root.FulcioCertificateAuthority{
		Root: rootCert, Intermediates: []*x509.Certificate{interCert},
		ValidityPeriodStart: time.Now().Add(-24 * time.Hour), URI: f.fulcio.URL,
	}}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, cas, fixIDs(vs.CTLogs()), nil, fixIDs(vs.RekorLogs()))
	if err != nil {
		t.Fatal(err)
	}
	j, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	f.trustedRoot = filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(f.trustedRoot, j, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fakeSigstore) trusted(t testing.TB) root.TrustedMaterial {
	t.Helper()
	tm, err := LoadTrustedRoot(f.trustedRoot)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// tlog returns a TransparencyLog backed by the virtual Rekor.
func (f *fakeSigstore) tlog() TransparencyLog {
	return sign.NewRekor(&sign.RekorOptions{Client: f.rekor, Version: 1})
}

// githubToken is an unsigned JWT shaped like a GitHub Actions OIDC token
// (Fulcio verifies the signature; this fake does not).
func githubToken(t testing.TB, workflowRef, repo, ref, event string) string {
	t.Helper()
	claims := map[string]any{
		"iss": githubIssuer, "aud": "sigstore", "exp": time.Now().Add(time.Hour).Unix(),
		"sub":              "repo:" + repo + ":ref:" + ref,
		"job_workflow_ref": workflowRef, "repository": repo, "ref": ref, "event_name": event,
	}
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(b) + "." + enc([]byte("sig"))
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

// serveSigningCert implements POST /api/v2/signingCert for GitHub tokens.
func (f *fakeSigstore) serveSigningCert(w http.ResponseWriter, r *http.Request) {
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
	str := func(k string) string { s, _ := c[k].(string); return s }
	san, err := url.Parse("https://github.com/" + str("job_workflow_ref"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	utf8 := func(s string) []byte { b, _ := asn1.MarshalWithParams(s, "utf8"); return b }
	notBefore, notAfter := time.Now().Add(-time.Minute), time.Now().Add(10*time.Minute)
	if win := f.certWindow.Load(); win != nil {
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
	der, err := x509.CreateCertificate(nil, tmpl, f.interCert, pub, f.interKey)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	p := func(b []byte) string { return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b})) }
	resp := map[string]any{"signedCertificateEmbeddedSct": map[string]any{"chain": map[string]any{
		"certificates": []string{p(der), p(f.interCert.Raw), p(f.rootCert.Raw)},
	}}}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// fakeRekorClient is a Rekor v1 log in memory, signed by VirtualSigstore's
// log key: it canonicalises the proposed entry as Rekor does, and returns
// a signed entry timestamp and an inclusion proof.
type fakeRekorClient struct {
	vs    *ca.VirtualSigstore
	mu    sync.Mutex
	calls int
}

var _ sign.RekorClient = (*fakeRekorClient)(nil)

func (c *fakeRekorClient) CreateLogEntry(params *entries.CreateLogEntryParams, _ ...entries.ClientOption) (*entries.CreateLogEntryCreated, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	ctx := context.Background()
	impl, err := types.UnmarshalEntry(params.ProposedEntry)
	if err != nil {
		return nil, fmt.Errorf("fake rekor: %w", err)
	}
	body, err := impl.Canonicalize(ctx)
	if err != nil {
		return nil, fmt.Errorf("fake rekor: %w", err)
	}
	logID, err := c.vs.RekorLogID()
	if err != nil {
		return nil, err
	}
	it, idx := time.Now().Unix(), int64(0)
	b64 := base64.StdEncoding.EncodeToString(body)
	set, err := c.vs.RekorSignPayload(tlog.RekorPayload{Body: b64, IntegratedTime: it, LogIndex: idx, LogID: logID})
	if err != nil {
		return nil, err
	}
	proof, err := c.vs.GetInclusionProof(body)
	if err != nil {
		return nil, err
	}
	entry := models.LogEntryAnon{
		Body: b64, IntegratedTime: &it, LogID: &logID, LogIndex: &idx,
		Verification: &models.LogEntryAnonVerification{SignedEntryTimestamp: strfmt.Base64(set), InclusionProof: proof},
	}
	uuid := hex.EncodeToString(sha256Sum(body))
	return &entries.CreateLogEntryCreated{ETag: uuid, Payload: models.LogEntry{uuid: entry}}, nil
}

func (c *fakeRekorClient) GetLogEntryByUUID(*entries.GetLogEntryByUUIDParams, ...entries.ClientOption) (*entries.GetLogEntryByUUIDOK, error) {
	return nil, fmt.Errorf("fake rekor: lookups are not supported")
}

package nativetest

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-openapi/strfmt"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/rekor/pkg/types"
	_ "github.com/sigstore/rekor/pkg/types/dsse/v0.0.1"         // entry types the fake log accepts
	_ "github.com/sigstore/rekor/pkg/types/hashedrekord/v0.0.1" // entry types the fake log accepts
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// FakeIssuer and FakeIdentity are the OIDC issuer and the certificate
// identity of the tokens Sigstore.Token makes: a GitHub Actions release
// workflow.
const (
	FakeIssuer   = "https://token.actions.githubusercontent.com"
	FakeIdentity = "https://github.com/ferry-ci/ferry/.github/workflows/release.yml@refs/heads/main"
)

// Sigstore is an offline Fulcio and Rekor over HTTP, for what cannot run
// here: Fulcio speaks its v2 signingCert contract with a CA from
// sigstore-go's testing/ca (no SCT: verify with SkipSCTUnsafe); Rekor is
// a v1 log whose entries sigstore-go's VirtualSigstore signs.
type Sigstore struct {
	// FulcioURL and RekorURL are the servers' roots.
	FulcioURL, RekorURL string
	// TrustedRoot is the path of the trusted_root.json of both.
	TrustedRoot string
}

// StartSigstore starts the fake Fulcio and Rekor.
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
	fulcio := httptest.NewServer(fulcioHandler(rootCert, interCert, interKey))
	t.Cleanup(fulcio.Close)
	rekor := httptest.NewServer(&rekorLog{vs: vs})
	t.Cleanup(rekor.Close)

	// Log IDs in a trusted root are the raw key IDs; VirtualSigstore keys
	// them by their hex text.
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
	path := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(path, j, 0o644); err != nil {
		t.Fatal(err)
	}
	return &Sigstore{FulcioURL: fulcio.URL, RekorURL: rekor.URL, TrustedRoot: path}
}

// Token is an unsigned JWT shaped like a GitHub Actions OIDC token for
// FakeIdentity, expiring in hours (Fulcio checks the signature; the fake
// does not).
func Token(t testing.TB, hours int) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"iss": FakeIssuer, "aud": "sigstore", "sub": "repo:ferry-ci/ferry:ref:refs/heads/main",
		"exp": time.Now().Add(time.Duration(hours) * time.Hour).Unix(), "job_workflow_ref": strings.TrimPrefix(FakeIdentity, "https://github.com/")})
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(b) + "." + enc([]byte("sig"))
}

var oidIssuerV2 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}

// fulcioHandler serves POST /api/v2/signingCert: a leaf for the request's
// public key naming the token's workflow and issuer.
func fulcioHandler(rootCert, interCert *x509.Certificate, interKey any) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v2/signingCert" {
			http.NotFound(w, r)
			return
		}
		parts := strings.Split(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), ".")
		var claims struct {
			Iss         string `json:"iss"`
			WorkflowRef string `json:"job_workflow_ref"`
		}
		if len(parts) != 3 {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
		if err := json.Unmarshal(raw, &claims); err != nil || claims.Iss == "" {
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
		san, _ := url.Parse("https://github.com/" + claims.WorkflowRef)
		iss, _ := asn1.MarshalWithParams(claims.Iss, "utf8")
		der, err := x509.CreateCertificate(nil, &x509.Certificate{
			SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{},
			NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(10 * time.Minute),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
			URIs: []*url.URL{san}, ExtraExtensions: []pkix.Extension{{Id: oidIssuerV2, Value: iss}},
		}, interCert, pub, interKey)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		p := func(b []byte) string { return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b})) }
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"signedCertificateEmbeddedSct": map[string]any{"chain": map[string]any{
			"certificates": []string{p(der), p(interCert.Raw), p(rootCert.Raw)}}}})
	})
}

// rekorLog serves POST /api/v1/log/entries: it canonicalises the proposed
// entry as Rekor does and answers with a signed entry timestamp and an
// inclusion proof from the VirtualSigstore.
type rekorLog struct {
	vs *ca.VirtualSigstore
	mu sync.Mutex
}

func (l *rekorLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/api/v1/log/entries" {
		http.NotFound(w, r)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	pe, err := models.UnmarshalProposedEntry(r.Body, nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	impl, err := types.UnmarshalEntry(pe)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	body, err := impl.Canonicalize(context.Background())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	logID, err := l.vs.RekorLogID()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	it, idx := time.Now().Unix(), int64(0)
	b64 := base64.StdEncoding.EncodeToString(body)
	set, err := l.vs.RekorSignPayload(tlog.RekorPayload{Body: b64, IntegratedTime: it, LogIndex: idx, LogID: logID})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	proof, err := l.vs.GetInclusionProof(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	sum := sha256.Sum256(body)
	uuid := hex.EncodeToString(sum[:])
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ETag", uuid)
	w.Header().Set("Location", "/api/v1/log/entries/"+uuid)
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(models.LogEntry{uuid: models.LogEntryAnon{
		Body: b64, IntegratedTime: &it, LogID: &logID, LogIndex: &idx,
		Verification: &models.LogEntryAnonVerification{SignedEntryTimestamp: strfmt.Base64(set), InclusionProof: proof},
	}})
}

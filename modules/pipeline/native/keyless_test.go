package native

import (
	"context"
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
	"testing"
	"time"

	"github.com/go-openapi/strfmt"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/rekor/pkg/generated/client/entries"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/rekor/pkg/types"
	_ "github.com/sigstore/rekor/pkg/types/hashedrekord/v0.0.1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/ferry-ci/ferry/modules/oci"
	"github.com/ferry-ci/ferry/modules/pipeline"
	"github.com/ferry-ci/ferry/modules/signing"
)

const (
	fakeIssuer   = "https://token.actions.githubusercontent.com"
	fakeIdentity = "https://github.com/ferry-ci/ferry/.github/workflows/release.yml@refs/heads/main"
)

// fakeToken is an unsigned JWT shaped like a GitHub Actions OIDC token,
// expiring in hours (Fulcio checks the signature; the fake does not).
func fakeToken(t testing.TB, hours int) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"iss": fakeIssuer, "aud": "sigstore", "sub": "repo:ferry-ci/ferry:ref:refs/heads/main",
		"exp": time.Now().Add(time.Duration(hours) * time.Hour).Unix(), "job_workflow_ref": strings.TrimPrefix(fakeIdentity, "https://github.com/")})
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(b) + "." + enc([]byte("sig"))
}

// fakeSigstore is Fulcio over HTTP (its v2 signingCert contract, with a CA
// from sigstore-go's testing/ca) and Rekor as sigstore-go's VirtualSigstore
// behind the Rekor v1 client, with the trusted_root.json of both.
type fakeSigstore struct {
	fulcio      *httptest.Server
	trustedRoot string
	tlog        signing.TransparencyLog
}

func newFakeSigstore(t *testing.T) *fakeSigstore {
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
	oidIssuerV2 := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}
	fulcio := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v2/signingCert" {
			http.NotFound(w, r)
			return
		}
		parts := strings.Split(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), ".")
		var claims struct {
			Iss, Job_workflow_ref string
		}
		if len(parts) != 3 {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
		if err := json.Unmarshal(raw, &claims); err != nil {
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
		san, _ := url.Parse("https://github.com/" + claims.Job_workflow_ref)
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
	}))
	t.Cleanup(fulcio.Close)
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
	return &fakeSigstore{fulcio: fulcio, trustedRoot: path, tlog: sign.NewRekor(&sign.RekorOptions{Client: &fakeRekor{vs: vs}, Version: 1})}
}

// fakeRekor is a Rekor v1 log in memory, signed by VirtualSigstore's key.
type fakeRekor struct{ vs *ca.VirtualSigstore }

var _ sign.RekorClient = (*fakeRekor)(nil)

func (c *fakeRekor) CreateLogEntry(params *entries.CreateLogEntryParams, _ ...entries.ClientOption) (*entries.CreateLogEntryCreated, error) {
	impl, err := types.UnmarshalEntry(params.ProposedEntry)
	if err != nil {
		return nil, fmt.Errorf("fake rekor: %w", err)
	}
	body, err := impl.Canonicalize(context.Background())
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
	uuid := fmt.Sprintf("%x", body[:min(len(body), 16)])
	return &entries.CreateLogEntryCreated{ETag: uuid, Payload: models.LogEntry{uuid: models.LogEntryAnon{
		Body: b64, IntegratedTime: &it, LogID: &logID, LogIndex: &idx,
		Verification: &models.LogEntryAnonVerification{SignedEntryTimestamp: strfmt.Base64(set), InclusionProof: proof},
	}}}, nil
}

func (c *fakeRekor) GetLogEntryByUUID(*entries.GetLogEntryByUUIDParams, ...entries.ClientOption) (*entries.GetLogEntryByUUIDOK, error) {
	return nil, fmt.Errorf("fake rekor: lookups are not supported")
}

// TestKeylessRunnerFake opens the runner with --keyless against a fake
// Fulcio and Rekor and a registry prefix, and checks the wiring: the Sign
// step gets a certificate for the token's identity and logs it, the Verify
// step and the promotion gate accept it under the configured identity,
// and without a token the runner still verifies but Sign says which
// variables to set.
func TestKeylessRunnerFake(t *testing.T) {
	fake := newFakeSigstore(t)
	reg := httptest.NewServer(ggcrregistry.New())
	t.Cleanup(reg.Close)
	host := strings.TrimPrefix(reg.URL, "http://")
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "deployments", "overlays", "staging"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "deployments", "overlays", "staging", "kustomization.yaml"), []byte("resources: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	token := fakeToken(t, 1)
	runner := func(t *testing.T, env map[string]string) *Runner {
		cfg := Config{Root: root, Registry: host + "/ferry", Getenv: func(k string) string { return env[k] },
			Keyless: &Keyless{FulcioURL: fake.fulcio.URL, RekorURL: "http://127.0.0.1:9", TrustedRoot: fake.trustedRoot,
				Identity: signing.Identity{Issuer: fakeIssuer, Subject: fakeIdentity}, SkipSCTUnsafe: true}}
		if err := cfg.validate(); err != nil {
			t.Fatal(err)
		}
		r, err := open(context.Background(), cfg, fake.tlog)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	push := func(t *testing.T) oci.Pinned {
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		tag, err := name.ParseReference(host + "/ferry/app:t")
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(tag, img); err != nil {
			t.Fatal(err)
		}
		p, err := oci.ParsePinned(host + "/ferry/app@" + d.String())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	ctx := context.Background()

	r := runner(t, map[string]string{IDTokenEnv: token})
	if _, ok := r.signer.(*KeylessSigning); !ok {
		t.Fatalf("signer is %T, want keyless", r.signer)
	}
	ref := push(t)
	sig, err := r.signer.Sign(ctx, ref)
	if err != nil || !strings.HasSuffix(sig.Ref, ".sig") {
		t.Fatalf("Sign = %+v, %v; want the legacy signature tag", sig, err)
	}
	v, err := r.verifier.Verify(ctx, ref)
	if err != nil || len(v.Signers) != 1 || v.Signers[0] != fakeIdentity {
		t.Fatalf("Verify = %+v, %v; want one signature by %s", v, err, fakeIdentity)
	}
	gs, err := gate{client: r.client, verifier: r.verifier}.Verify(ctx, ref.String(), "staging")
	if err != nil || gs.Identity != fakeIdentity {
		t.Fatalf("promotion gate = %+v, %v", gs, err)
	}
	if _, err := r.verifier.Verify(ctx, push(t)); err == nil {
		t.Fatal("an unsigned image verified")
	}

	// Without a token: verifying works, signing names what to set.
	r = runner(t, nil)
	if _, err := r.verifier.Verify(ctx, ref); err != nil {
		t.Fatalf("verifying without a token: %v", err)
	}
	_, err = r.signer.Sign(ctx, push(t))
	if err == nil || !strings.Contains(err.Error(), IDTokenEnv) || pipeline.Classify(err) != pipeline.Terminal {
		t.Fatalf("Sign without a token = %v, want a terminal error naming %s", err, IDTokenEnv)
	}

	// A different identity is refused.
	other, err := newKeylessSigning(Keyless{FulcioURL: fake.fulcio.URL, RekorURL: "http://127.0.0.1:9", TrustedRoot: fake.trustedRoot,
		Identity: signing.Identity{Issuer: fakeIssuer, Subject: "https://github.com/someone/else"}, SkipSCTUnsafe: true}, nil, nil, fake.tlog, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Verify(ctx, ref); err == nil {
		t.Fatal("a signature by another identity verified")
	}
}

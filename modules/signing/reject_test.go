package signing

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
)

// legacySigLayer returns the first payload and annotations of a .sig tag.
func legacySigLayer(t *testing.T, d name.Digest) ([]byte, map[string]string) {
	t.Helper()
	es, err := readLegacy(tagFor(d, "sig"), nil)
	if err != nil || len(es) == 0 {
		t.Fatalf("reading signatures of %s: %v (%d)", d, err, len(es))
	}
	return es[0].payload, es[0].annotations
}

// putLegacy replaces the .sig tag of d with one layer.
func putLegacy(t *testing.T, d name.Digest, payload []byte, ann map[string]string) {
	t.Helper()
	img, err := mutate.Append(emptySignatures(), mutate.Addendum{Layer: static.NewLayer(payload, simpleSigningMediaType), Annotations: ann})
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tagFor(d, "sig"), img); err != nil {
		t.Fatal(err)
	}
}

// firstBundle returns the JSON of the first bundle referrer of d.
func firstBundle(t *testing.T, d name.Digest) []byte {
	t.Helper()
	bs, err := readBundles(d, nil)
	if err != nil || len(bs) == 0 {
		t.Fatalf("reading bundles of %s: %v (%d)", d, err, len(bs))
	}
	return bs[0].json
}

func putBundle(t *testing.T, d name.Digest, bj []byte, predicateType string) {
	t.Helper()
	o, err := makeSignOptions(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	subject, err := resolve(d, o.remote)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writeReferrer(ctx, d, subject, bj, predicateType, o); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyRejects(t *testing.T) {
	k := newKey(t)
	tests := []struct {
		name   string
		setup  func(t *testing.T, host string) name.Digest
		checks []string // nil means ErrNoSignatures
	}{
		{"legacy tampered payload", func(t *testing.T, host string) name.Digest {
			d := pushRandom(t, host, "app")
			mustSign(t, d, k, FormatLegacy)
			p, ann := legacySigLayer(t, d)
			putLegacy(t, d, bytes.Replace(p, []byte(`"optional":null`), []byte(`"optional":{"evil":"1"}`), 1), ann)
			return d
		}, []string{CheckSignature}},
		{"bundle tampered payload", func(t *testing.T, host string) name.Digest {
			d := pushRandom(t, host, "app")
			mustSign(t, d, k, FormatBundle)
			var m map[string]any
			if err := json.Unmarshal(firstBundle(t, d), &m); err != nil {
				t.Fatal(err)
			}
			// Re-point the signed statement at another image: the envelope
			// signature no longer covers the payload.
			d2 := pushRandom(t, host, "app")
			stmt, err := signatureStatement(d2, nil)
			if err != nil {
				t.Fatal(err)
			}
			m["dsseEnvelope"].(map[string]any)["payload"] = stmt
			tampered, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			putBundle(t, d2, tampered, PredicateTypeCosignSign)
			return d2
		}, []string{CheckSignature}},
		{"legacy signature of another digest", func(t *testing.T, host string) name.Digest {
			a := pushRandom(t, host, "app")
			b := pushRandom(t, host, "app")
			mustSign(t, a, k, FormatLegacy)
			p, ann := legacySigLayer(t, a)
			putLegacy(t, b, p, ann)
			return b
		}, []string{CheckDigest}},
		{"bundle signature of another digest", func(t *testing.T, host string) name.Digest {
			a := pushRandom(t, host, "app")
			b := pushRandom(t, host, "app")
			mustSign(t, a, k, FormatBundle)
			putBundle(t, b, firstBundle(t, a), PredicateTypeCosignSign)
			return b
		}, []string{CheckDigest}},
		{"only a bundle attestation", func(t *testing.T, host string) name.Digest {
			d := pushRandom(t, host, "app")
			if _, err := Attest(ctx, d, newKeySigner(t, k), PredicateTypeSLSAProvenance1, []byte(`{"buildDefinition":{}}`), WithFormat(FormatBundle)); err != nil {
				t.Fatal(err)
			}
			return d
		}, []string{CheckPredicateType}},
		{"only a bundle attestation under the signature annotation", func(t *testing.T, host string) name.Digest {
			// The manifest annotation lies; the signed statement decides.
			d := pushRandom(t, host, "app")
			if _, err := Attest(ctx, d, newKeySigner(t, k), PredicateTypeSLSAProvenance1, []byte(`{}`), WithFormat(FormatBundle)); err != nil {
				t.Fatal(err)
			}
			putBundle(t, d, firstBundle(t, d), PredicateTypeCosignSign)
			return d
		}, []string{CheckPredicateType, CheckPredicateType}},
		{"only a legacy attestation", func(t *testing.T, host string) name.Digest {
			d := pushRandom(t, host, "app")
			if _, err := Attest(ctx, d, newKeySigner(t, k), PredicateTypeSLSAProvenance1, []byte(`{}`), WithFormat(FormatLegacy)); err != nil {
				t.Fatal(err)
			}
			return d
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			host := newRegistry(t, true)
			d := tc.setup(t, host)
			_, err := Verify(ctx, d, keyPolicy(t, k))
			if tc.checks == nil {
				if !errors.Is(err, ErrNoSignatures) {
					t.Fatalf("err = %v, want ErrNoSignatures", err)
				}
				return
			}
			assertChecks(t, err, tc.checks...)
		})
	}
}

func mustSign(t *testing.T, d name.Digest, k *ecdsa.PrivateKey, f Format) {
	t.Helper()
	if _, err := Sign(ctx, d, newKeySigner(t, k), WithFormat(f)); err != nil {
		t.Fatal(err)
	}
}

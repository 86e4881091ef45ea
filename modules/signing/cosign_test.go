package signing

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ci/ferry/modules/signing/keys"
	"github.com/ferry-ci/ferry/modules/signing/signingtest"
)

// cosignCLI runs the real cosign with an empty HOME (no TUF cache, no
// network) and COSIGN_PASSWORD from the environment given.
type cosignCLI struct {
	bin  string
	home string
}

func newCosign(t testing.TB) *cosignCLI {
	t.Helper()
	return &cosignCLI{bin: signingtest.Tool(t, "cosign"), home: t.TempDir()}
}

func (c *cosignCLI) run(t testing.TB, password string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Dir = c.home
	cmd.Env = []string{"HOME=" + c.home, "TUF_ROOT=" + filepath.Join(c.home, "tuf"), "PATH=/usr/bin:/bin",
		"COSIGN_PASSWORD=" + password, "COSIGN_EXPERIMENTAL=0", "SIGSTORE_NO_CACHE=1"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (c *cosignCLI) mustRun(t testing.TB, password string, args ...string) string {
	t.Helper()
	out, err := c.run(t, password, args...)
	if err != nil {
		t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func loadKey(t testing.TB, path, password string) *ecdsa.PrivateKey {
	t.Helper()
	k, err := keys.LoadPrivate(path, func() ([]byte, error) { return []byte(password), nil })
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// writeKeyPair writes a key pair made by package keys and returns the paths.
func writeKeyPair(t testing.TB, dir, password string) (string, string) {
	t.Helper()
	pair, err := keys.Generate(func() ([]byte, error) { return []byte(password), nil })
	if err != nil {
		t.Fatal(err)
	}
	prefix := filepath.Join(dir, "ferry")
	if err := pair.WriteFiles(prefix); err != nil {
		t.Fatal(err)
	}
	return prefix + ".key", prefix + ".pub"
}

// TestCosignVerifiesOurKeySignatures: `cosign verify --key` accepts what
// Sign writes, in both formats, with and without the referrers API.
func TestCosignVerifiesOurKeySignatures(t *testing.T) {
	c := newCosign(t)
	keyPath, pubPath := writeKeyPair(t, t.TempDir(), "pw")
	priv, err := keys.LoadPrivate(keyPath, func() ([]byte, error) { return []byte("pw"), nil })
	if err != nil {
		t.Fatal(err)
	}
	s := newKeySigner(t, priv)
	for _, tc := range []struct {
		name      string
		format    Format
		referrers bool
		extra     []string
	}{
		{"legacy", FormatLegacy, true, nil},
		{"bundle with referrers API", FormatBundle, true, nil},
		{"bundle with tag fallback", FormatBundle, false, nil},
		{"both, read as bundle", FormatBoth, true, nil},
		{"both, read as legacy", FormatBoth, false, []string{"--new-bundle-format=false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := newRegistry(t, tc.referrers)
			d := pushRandom(t, host, "app")
			if _, err := Sign(ctx, d, s, WithFormat(tc.format)); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"verify", "--key", pubPath, "--insecure-ignore-tlog=true"}, tc.extra...)
			c.mustRun(t, "", append(args, d.String())...)
			// And cosign rejects another key.
			_, otherPub := writeKeyPair(t, t.TempDir(), "x")
			if out, err := c.run(t, "", "verify", "--key", otherPub, "--insecure-ignore-tlog=true", d.String()); err == nil {
				t.Fatalf("cosign accepted another key:\n%s", out)
			}
		})
	}
}

// TestWeVerifyCosignKeySignatures: Verify accepts what `cosign sign --key`
// writes with a key from `cosign generate-key-pair`, in both formats.
func TestWeVerifyCosignKeySignatures(t *testing.T) {
	c := newCosign(t)
	dir := t.TempDir()
	c.mustRun(t, "cosign-pw", "generate-key-pair", "--output-key-prefix", filepath.Join(dir, "cosign"))
	priv, err := keys.LoadPrivate(filepath.Join(dir, "cosign.key"), func() ([]byte, error) { return []byte("cosign-pw"), nil })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.LoadPrivate(filepath.Join(dir, "cosign.key"), func() ([]byte, error) { return []byte("nope"), nil }); err == nil {
		t.Fatal("wrong password accepted")
	}
	for _, tc := range []struct {
		name      string
		format    Format
		referrers bool
		flags     []string
	}{
		{"legacy", FormatLegacy, true, []string{"--new-bundle-format=false"}},
		{"bundle with referrers API", FormatBundle, true, nil},
		{"bundle with tag fallback", FormatBundle, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := newRegistry(t, tc.referrers)
			d := pushRandom(t, host, "app")
			args := append([]string{"sign", "--key", filepath.Join(dir, "cosign.key"), "--tlog-upload=false", "--use-signing-config=false", "--yes"}, tc.flags...)
			c.mustRun(t, "cosign-pw", append(args, d.String())...)
			rep, err := Verify(ctx, d, keyPolicy(t, priv, WithFormats(tc.format)))
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Signatures) != 1 || rep.Signatures[0].Format != tc.format {
				t.Fatalf("report %+v", rep.Signatures)
			}
			// Reading both formats finds it too, and another key fails.
			if _, err := Verify(ctx, d, keyPolicy(t, priv)); err != nil {
				t.Fatal(err)
			}
			_, err = Verify(ctx, d, keyPolicy(t, newKey(t)))
			assertChecks(t, err, CheckSignature)
		})
	}
}

// TestCosignVerifiesOurKeylessSignatures: `cosign verify` with an identity,
// an issuer and a trusted_root.json accepts our keyless signatures.
func TestCosignVerifiesOurKeylessSignatures(t *testing.T) {
	c := newCosign(t)
	f := newFakeSigstore(t)
	tok := githubToken(t, "ferry-ci/ferry/.github/workflows/release.yml@refs/heads/main", testRepo, "refs/heads/main", "push")
	for _, tc := range []struct {
		name      string
		format    Format
		referrers bool
	}{
		{"legacy", FormatLegacy, true},
		{"bundle with referrers API", FormatBundle, true},
		{"bundle with tag fallback", FormatBundle, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := newRegistry(t, tc.referrers)
			d := pushRandom(t, host, "app")
			if _, err := Sign(ctx, d, keylessSigner(t, f, tok), WithFormat(tc.format), WithTransparencyLog(f.tlog())); err != nil {
				t.Fatal(err)
			}
			base := []string{"verify", "--trusted-root", f.TrustedRoot, "--insecure-ignore-sct=true",
				"--certificate-oidc-issuer", githubIssuer}
			c.mustRun(t, "", append(base, "--certificate-identity", testWorkflow, d.String())...)
			c.mustRun(t, "", append(base, "--certificate-identity-regexp", `^https://github\.com/ferry-ci/ferry/\.github/workflows/release\.yml@refs/heads/main$`,
				"--certificate-github-workflow-repository", testRepo, "--certificate-github-workflow-trigger", "push", d.String())...)
			if out, err := c.run(t, "", append(base, "--certificate-identity", "https://github.com/evil/repo/.github/workflows/x.yml@refs/heads/main", d.String())...); err == nil {
				t.Fatalf("cosign accepted a wrong identity:\n%s", out)
			}
		})
	}
}

// TestCosignVerifiesOurAttestations: `cosign verify-attestation` accepts
// our SLSA provenance in both formats.
func TestCosignVerifiesOurAttestations(t *testing.T) {
	c := newCosign(t)
	keyPath, pubPath := writeKeyPair(t, t.TempDir(), "pw")
	priv, err := keys.LoadPrivate(keyPath, func() ([]byte, error) { return []byte("pw"), nil })
	if err != nil {
		t.Fatal(err)
	}
	pred, err := testProvenance().Predicate()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		format Format
		flags  []string
	}{
		{"legacy", FormatLegacy, []string{"--new-bundle-format=false"}},
		{"bundle", FormatBundle, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := newRegistry(t, true)
			d := pushRandom(t, host, "app")
			if _, err := Attest(ctx, d, newKeySigner(t, priv), PredicateTypeSLSAProvenance1, pred, WithFormat(tc.format)); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"verify-attestation", "--key", pubPath, "--insecure-ignore-tlog=true"}, tc.flags...)
			out := c.mustRun(t, "", append(args, "--type", "slsaprovenance1", d.String())...)
			if !strings.Contains(out, `"payloadType":"application/vnd.in-toto+json"`) {
				t.Fatalf("cosign printed no in-toto envelope:\n%s", out)
			}
			if out, err := c.run(t, "", append(args, "--type", "spdxjson", d.String())...); err == nil {
				t.Fatalf("cosign found an SPDX attestation that was never written:\n%s", out)
			}
		})
	}
}

// TestWeVerifyCosignAttestations: VerifyAttestations accepts what `cosign
// attest --key` writes, in both formats, and VerifyAttestations/Verify keep
// signature and attestation apart.
func TestWeVerifyCosignAttestations(t *testing.T) {
	c := newCosign(t)
	dir := t.TempDir()
	c.mustRun(t, "pw", "generate-key-pair", "--output-key-prefix", filepath.Join(dir, "cosign"))
	priv := loadKey(t, filepath.Join(dir, "cosign.key"), "pw")
	pred, err := testProvenance().Predicate()
	if err != nil {
		t.Fatal(err)
	}
	predPath := filepath.Join(dir, "provenance.json")
	if err := os.WriteFile(predPath, pred, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		format Format
		flags  []string
	}{{FormatLegacy, []string{"--new-bundle-format=false"}}, {FormatBundle, nil}} {
		t.Run(string(tc.format), func(t *testing.T) {
			host := newRegistry(t, true)
			d := pushRandom(t, host, "app")
			args := append([]string{"attest", "--key", filepath.Join(dir, "cosign.key"), "--type", "slsaprovenance1", "--predicate", predPath,
				"--tlog-upload=false", "--use-signing-config=false", "--yes"}, tc.flags...)
			c.mustRun(t, "pw", append(args, d.String())...)
			atts, err := VerifyAttestations(ctx, d, keyPolicy(t, priv, WithFormats(tc.format)), PredicateTypeSLSAProvenance1)
			if err != nil {
				t.Fatal(err)
			}
			if len(atts) != 1 || !strings.Contains(string(atts[0].Statement), testProvenance().BuilderID) {
				t.Fatalf("attestations %+v", atts)
			}
			// cosign's attestation is no image signature.
			_, err = Verify(ctx, d, keyPolicy(t, priv))
			if tc.format == FormatLegacy {
				if !errors.Is(err, ErrNoSignatures) {
					t.Fatalf("err = %v, want ErrNoSignatures", err)
				}
			} else {
				assertChecks(t, err, CheckPredicateType)
			}
		})
	}
}

// TestCosignReadsOurKeyFile: a key pair from keys.Generate works with
// `cosign sign --key` (password from COSIGN_PASSWORD), and cosign refuses a
// wrong password.
func TestCosignReadsOurKeyFile(t *testing.T) {
	c := newCosign(t)
	keyPath, pubPath := writeKeyPair(t, t.TempDir(), "ours-pw")
	host := newRegistry(t, true)
	d := pushRandom(t, host, "app")
	sign := []string{"sign", "--key", keyPath, "--tlog-upload=false", "--use-signing-config=false", "--new-bundle-format=false", "--yes", d.String()}
	if out, err := c.run(t, "wrong", sign...); err == nil {
		t.Fatalf("cosign signed with a wrong password:\n%s", out)
	}
	c.mustRun(t, "ours-pw", sign...)
	pub := loadPub(t, pubPath)
	p, err := KeyPolicy(pub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(ctx, d, p); err != nil {
		t.Fatal(err)
	}
}

func loadPub(t testing.TB, path string) *ecdsa.PublicKey {
	t.Helper()
	k, err := keys.LoadPublic(path)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

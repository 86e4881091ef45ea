package signing

import (
	"crypto/ecdsa"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ferry-ci/ferry/modules/signing/signingtest"
)

// TestDistributionInterop runs the signing round trips on a real
// distribution registry process, in both directions with the cosign CLI.
func TestDistributionInterop(t *testing.T) {
	host := signingtest.StartRegistry(t, signingtest.WithDelete())
	c := newCosign(t)
	dir := t.TempDir()
	c.mustRun(t, "pw", "generate-key-pair", "--output-key-prefix", filepath.Join(dir, "cosign"))
	keyPath, pubPath := filepath.Join(dir, "cosign.key"), filepath.Join(dir, "cosign.pub")
	priv := loadKey(t, keyPath, "pw")
	s := newKeySigner(t, priv)

	probe := pushRandom(t, host, "probe")
	if resp, err := http.Get("http://" + host + "/v2/probe/referrers/" + probe.DigestStr()); err == nil {
		resp.Body.Close()
		t.Logf("distribution referrers API: HTTP %d (404 means the tag-schema fallback is used)", resp.StatusCode)
	}
	t.Run("ours, cosign verifies", func(t *testing.T) {
		for _, f := range []Format{FormatLegacy, FormatBundle, FormatBoth} {
			d := pushRandom(t, host, "ours")
			if _, err := Sign(ctx, d, s, WithFormat(f)); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			c.mustRun(t, "", "verify", "--key", pubPath, "--insecure-ignore-tlog=true", d.String())
			if f == FormatBoth {
				c.mustRun(t, "", "verify", "--key", pubPath, "--insecure-ignore-tlog=true", "--new-bundle-format=false", d.String())
			}
			if _, err := Verify(ctx, d, keyPolicy(t, priv)); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
	})
	t.Run("cosign signs, we verify", func(t *testing.T) {
		for _, tc := range []struct {
			format Format
			flags  []string
		}{{FormatLegacy, []string{"--new-bundle-format=false"}}, {FormatBundle, nil}} {
			d := pushRandom(t, host, "theirs")
			args := append([]string{"sign", "--key", keyPath, "--tlog-upload=false", "--use-signing-config=false", "--yes"}, tc.flags...)
			c.mustRun(t, "pw", append(args, d.String())...)
			rep, err := Verify(ctx, d, keyPolicy(t, priv, WithFormats(tc.format)))
			if err != nil {
				t.Fatalf("%s: %v", tc.format, err)
			}
			if rep.Signatures[0].Format != tc.format {
				t.Fatalf("report %+v", rep.Signatures)
			}
		}
	})
	t.Run("concurrent signers", func(t *testing.T) {
		const n = 8
		d := pushRandom(t, host, "shared")
		ks := make([]*ecdsa.PrivateKey, n)
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range ks {
			ks[i] = newKey(t)
			wg.Go(func() { _, errs[i] = Sign(ctx, d, newKeySigner(t, ks[i]), WithFormat(FormatBoth)) })
		}
		wg.Wait()
		for i, k := range ks {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			rep, err := Verify(ctx, d, keyPolicy(t, k))
			if err != nil {
				t.Fatalf("signer %d: %v", i, err)
			}
			if len(rep.Signatures) != 2 {
				t.Fatalf("signer %d: %d signatures, want legacy and bundle", i, len(rep.Signatures))
			}
		}
	})
}

package signing

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ferry-ci/ferry/modules/signing/keys"
	"github.com/google/go-containerregistry/pkg/name"
)

// BenchmarkSignVerifyKey signs and verifies one fresh digest per iteration
// with a key loaded once, as the pipeline's Sign and Verify steps do (one
// key load per run, one signature per digest).
func BenchmarkSignVerifyKey(b *testing.B) {
	host := newRegistry(b, true)
	k := newKey(b)
	s := newKeySigner(b, k)
	p := keyPolicy(b, k)
	for b.Loop() {
		b.StopTimer()
		d := pushRandom(b, host, "app")
		b.StartTimer()
		if _, err := Sign(ctx, d, s); err != nil {
			b.Fatal(err)
		}
		if _, err := Verify(ctx, d, p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignVerifyKeyCold does per fresh digest all that `cosign sign
// --key` plus `cosign verify --key` do: decrypt the cosign.key file (scrypt
// N=2^16, r=8: the dominant cost, paid by cosign too), sign (legacy format,
// offline), load the public key file, verify. Compare with
// BenchmarkCosignSignVerifyKey (bench/run.sh prints both ratios).
func BenchmarkSignVerifyKeyCold(b *testing.B) {
	host := newRegistry(b, true)
	dir := b.TempDir()
	pw := func() ([]byte, error) { return []byte("pw"), nil }
	pair, err := keys.Generate(pw)
	if err != nil {
		b.Fatal(err)
	}
	prefix := filepath.Join(dir, "cosign")
	if err := pair.WriteFiles(prefix); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		b.StopTimer()
		d := pushRandom(b, host, "app")
		b.StartTimer()
		priv, err := keys.LoadPrivate(prefix+".key", pw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Sign(ctx, d, newKeySigner(b, priv)); err != nil {
			b.Fatal(err)
		}
		pub, err := keys.LoadPublic(prefix + ".pub")
		if err != nil {
			b.Fatal(err)
		}
		p, err := KeyPolicy(pub)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Verify(ctx, d, p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCosignSignVerifyKey runs the real cosign CLI for the same work on
// the same kind of registry: `cosign sign --key` then `cosign verify --key`,
// two processes per digest, offline (no Rekor).
func BenchmarkCosignSignVerifyKey(b *testing.B) {
	c := newCosign(b)
	host := newRegistry(b, true)
	dir := b.TempDir()
	pair, err := keys.Generate(func() ([]byte, error) { return []byte("pw"), nil })
	if err != nil {
		b.Fatal(err)
	}
	if err := pair.WriteFiles(filepath.Join(dir, "cosign")); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		b.StopTimer()
		d := pushRandom(b, host, "app")
		b.StartTimer()
		c.mustRun(b, "pw", "sign", "--key", filepath.Join(dir, "cosign.key"), "--tlog-upload=false", "--use-signing-config=false",
			"--new-bundle-format=false", "--yes", d.String())
		c.mustRun(b, "", "verify", "--key", filepath.Join(dir, "cosign.pub"), "--insecure-ignore-tlog=true", d.String())
	}
}

// BenchmarkSign100Concurrent signs 100 digests at once (16 in flight) and
// checks that none lost its signature; it reports digests signed per second.
func BenchmarkSign100Concurrent(b *testing.B) {
	const n, inflight = 100, 16
	host := newRegistry(b, true)
	s := newKeySigner(b, newKey(b))
	for b.Loop() {
		b.StopTimer()
		ds := make([]name.Digest, n)
		for i := range ds {
			ds[i] = pushRandom(b, host, fmt.Sprintf("svc%d", i%10))
		}
		b.StartTimer()
		sem := make(chan struct{}, inflight)
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i, d := range ds {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				_, errs[i] = Sign(ctx, d, s)
			})
		}
		wg.Wait()
		b.StopTimer()
		for i, d := range ds {
			if errs[i] != nil {
				b.Fatal(errs[i])
			}
			es, err := readLegacy(tagFor(d, "sig"), nil)
			if err != nil || len(es) != 1 {
				b.Fatalf("%s: %d signatures (%v), want 1", d, len(es), err)
			}
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "digests/s")
}

package signing

import (
	"crypto/ecdsa"
	"fmt"
	"sync"
	"testing"
)

// TestConcurrentSigners signs one digest from many goroutines, each with its
// own key: every signature must survive the shared read-modify-write.
func TestConcurrentSigners(t *testing.T) {
	const n = 16
	for _, tc := range []struct {
		name      string
		format    Format
		referrers bool
	}{
		{"legacy", FormatLegacy, true},
		{"bundle without referrers API", FormatBundle, false},
		{"both with referrers API", FormatBoth, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := newRegistry(t, tc.referrers)
			d := pushRandom(t, host, "app")
			ks := make([]*ecdsa.PrivateKey, n)
			for i := range ks {
				ks[i] = newKey(t)
			}
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range ks {
				wg.Go(func() {
					s, err := NewKeySigner(ks[i])
					if err == nil {
						_, err = Sign(ctx, d, s, WithFormat(tc.format))
					}
					errs[i] = err
				})
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("signer %d: %v", i, err)
				}
			}
			if tc.format.legacy() {
				es, err := readLegacy(tagFor(d, "sig"), nil)
				if err != nil {
					t.Fatal(err)
				}
				if len(es) != n {
					t.Fatalf(".sig holds %d signatures, want %d", len(es), n)
				}
			}
			if tc.format.bundle() {
				bs, err := readBundles(d, nil)
				if err != nil {
					t.Fatal(err)
				}
				if len(bs) != n {
					t.Fatalf("%d bundle referrers, want %d", len(bs), n)
				}
			}
			for i, k := range ks {
				if _, err := Verify(ctx, d, keyPolicy(t, k)); err != nil {
					t.Fatal(fmt.Errorf("signer %d: %w", i, err))
				}
			}
			tagLocks.Lock()
			left := len(tagLocks.m)
			tagLocks.Unlock()
			if left != 0 {
				t.Fatalf("%d tag locks left after all signers finished", left)
			}
		})
	}
}

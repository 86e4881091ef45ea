package signing

import (
	"bytes"
	"crypto/ecdsa"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
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

// TestLostWriteIsRetriedFake interleaves a writer from "another process"
// deterministically: right after our write of the .sig manifest, the fake
// replays a stale manifest that lacks our signature (as a concurrent cosign
// would). The read-back must notice and the write be retried, keeping both.
func TestLostWriteIsRetriedFake(t *testing.T) {
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	var stale []byte
	var staleType string
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reg.ServeHTTP(w, r)
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, ".sig") && stale != nil {
			once.Do(func() {
				req := httptest.NewRequest(http.MethodPut, r.URL.Path, bytes.NewReader(stale))
				req.Header.Set("Content-Type", staleType)
				reg.ServeHTTP(httptest.NewRecorder(), req)
			})
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	d := pushRandom(t, host, "app")
	other, ours := newKey(t), newKey(t)
	mustSign(t, d, other, FormatLegacy)
	desc, err := remote.Get(tagFor(d, "sig"))
	if err != nil {
		t.Fatal(err)
	}
	staleType = string(desc.MediaType)
	stale = desc.Manifest
	var retried bool
	if _, err := Sign(ctx, d, newKeySigner(t, ours), WithEvents(func(e Event) {
		if e.Step == "retrying" {
			retried = true
		}
	})); err != nil {
		t.Fatal(err)
	}
	if !retried {
		t.Fatal("the lost write was not retried")
	}
	for _, k := range []*ecdsa.PrivateKey{other, ours} {
		if _, err := Verify(ctx, d, keyPolicy(t, k)); err != nil {
			t.Fatal(err)
		}
	}
}

package registry_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ferry-ci/ferry/modules/oci"
	"github.com/ferry-ci/ferry/modules/oci/embedded"
	"github.com/ferry-ci/ferry/modules/oci/internal/faultproxy"
	"github.com/ferry-ci/ferry/modules/oci/registry"
)

// TestPushThroughFaults pushes a two-platform index to the embedded
// registry through a fault proxy. Transient faults are retried away;
// persistent ones fail with a retryable error and leave no tag.
func TestPushThroughFaults(t *testing.T) {
	reg, err := embedded.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	direct := newClient(t, registry.WithRetry(registry.Retry{Attempts: 1}))

	blobPut := faultproxy.Request(http.MethodPut, "/blobs/uploads/")
	manifestPut := faultproxy.Request(http.MethodPut, "/manifests/")
	manifestHead := faultproxy.Request(http.MethodHead, "/manifests/")
	tagPut := func(r *http.Request) bool {
		return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") && !strings.Contains(r.URL.Path, "sha256:")
	}

	tests := []struct {
		name       string
		fault      faultproxy.Fault
		n          int
		match      faultproxy.Match
		wantErr    bool
		wantTagged bool
	}{
		{name: "500 twice on blob upload", fault: faultproxy.Status500, n: 2, match: blobPut, wantTagged: true},
		{name: "500 once on every first request", fault: faultproxy.Status500, n: 1, wantTagged: true},
		{name: "connection reset on manifest put", fault: faultproxy.Drop, n: 2, match: manifestPut, wantTagged: true},
		{name: "stall once on blob upload", fault: faultproxy.Stall, n: 1, match: blobPut, wantTagged: true},
		{name: "stall once on tag put", fault: faultproxy.Stall, n: 1, match: tagPut, wantTagged: true},
		{name: "persistent 500 on manifest put", fault: faultproxy.Status500, n: faultproxy.Forever, match: manifestPut, wantErr: true},
		{name: "persistent reset on blob upload", fault: faultproxy.Drop, n: faultproxy.Forever, match: blobPut, wantErr: true},
		{name: "persistent stall on manifest put", fault: faultproxy.Stall, n: faultproxy.Forever, match: manifestPut, wantErr: true},
		{name: "persistent 500 on existence checks", fault: faultproxy.Status500, n: faultproxy.Forever, match: manifestHead, wantErr: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxy, err := faultproxy.New(reg.Host())
			if err != nil {
				t.Fatal(err)
			}
			defer proxy.Close()
			proxy.Inject(tt.fault, tt.n, tt.match)

			name := "ferry/fault" + string(rune('a'+i))
			viaProxy, _ := oci.ParseRepository(proxy.Host() + "/" + name)
			atRegistry, _ := oci.ParseRepository(reg.Host() + "/" + name)
			c := newClient(t,
				// A stall ends at the request timeout; 2s leaves room for a
				// loaded machine, where a healthy upload may take a while.
				registry.WithRetry(registry.Retry{Attempts: 5, Initial: 10 * time.Millisecond, Max: 40 * time.Millisecond}),
				registry.WithRequestTimeout(2*time.Second))
			idx := index(t)
			want, _ := idx.Digest()

			res, err := c.Push(context.Background(), viaProxy, idx, "prod-abc1234-api")
			tags, lerr := direct.ListTags(context.Background(), atRegistry)
			if lerr != nil {
				t.Fatal(lerr)
			}
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Push succeeded through a persistent %s", tt.fault)
				}
				if !oci.IsRetryable(err) || !strings.Contains(err.Error(), viaProxy.String()) {
					t.Errorf("Push error %v: want retryable, naming %s", err, viaProxy)
				}
				if len(tags) != 0 {
					t.Errorf("failed push left tags %v", tags)
				}
				return
			}
			if err != nil {
				t.Fatalf("Push through transient %s: %v\nproxy log: %q", tt.fault, err, proxy.Log())
			}
			if res.Ref.Digest().String() != want.String() || len(tags) != 1 || tags[0] != "prod-abc1234-api" {
				t.Errorf("Push = %v, tags at registry %v", res.Ref, tags)
			}
			if !faulted(proxy.Log()) {
				t.Errorf("no fault was injected: %q", proxy.Log())
			}
		})
	}
}

func faulted(log []string) bool {
	for _, l := range log {
		if !strings.HasPrefix(l, "pass ") {
			return true
		}
	}
	return false
}

func newClient(t *testing.T, opts ...registry.Option) *registry.Client {
	t.Helper()
	c, err := registry.New(append([]registry.Option{registry.WithKeychain(authn.NewMultiKeychain())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func index(t *testing.T) v1.ImageIndex {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(2048, 2)
		if err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	return idx
}

package native

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-ci/ferry/modules/oci"
	"github.com/ferry-ci/ferry/modules/pipeline"
	"github.com/ferry-ci/ferry/modules/pipeline/native/nativetest"
	"github.com/ferry-ci/ferry/modules/signing"
)

// TestKeylessRunnerFake opens the runner with keyless signing against a
// fake Fulcio and Rekor over HTTP and a registry prefix, and checks the
// wiring: the Sign step gets a certificate for the token's identity and
// logs it, the Verify step and the promotion gate accept it under the
// configured identity, another identity is refused, and without a token
// the runner still verifies but Sign says which variables to set.
func TestKeylessRunnerFake(t *testing.T) {
	fake := nativetest.StartSigstore(t)
	reg := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
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
	keyless := func(subject string) *Keyless {
		return &Keyless{FulcioURL: fake.FulcioURL, RekorURL: fake.RekorURL, TrustedRoot: fake.TrustedRoot,
			Identity: signing.Identity{Issuer: nativetest.FakeIssuer, Subject: subject}, SkipSCTUnsafe: true}
	}
	runner := func(t *testing.T, env map[string]string, k *Keyless) *Runner {
		cfg := Config{Root: root, Registry: host + "/ferry", Getenv: func(k string) string { return env[k] }, Keyless: k}
		if err := cfg.validate(); err != nil {
			t.Fatal(err)
		}
		r, err := open(context.Background(), cfg)
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

	r := runner(t, map[string]string{IDTokenEnv: nativetest.Token(t, 1)}, keyless(nativetest.FakeIdentity))
	if _, ok := r.signer.(*KeylessSigning); !ok {
		t.Fatalf("signer is %T, want keyless", r.signer)
	}
	ref := push(t)
	sig, err := r.signer.Sign(ctx, ref)
	if err != nil || !strings.HasSuffix(sig.Ref, ".sig") {
		t.Fatalf("Sign = %+v, %v; want the legacy signature tag", sig, err)
	}
	v, err := r.verifier.Verify(ctx, ref)
	if err != nil || len(v.Signers) != 1 || v.Signers[0] != nativetest.FakeIdentity {
		t.Fatalf("Verify = %+v, %v; want one signature by %s", v, err, nativetest.FakeIdentity)
	}
	gs, err := gate{client: r.client, verifier: r.verifier}.Verify(ctx, ref.String(), "staging")
	if err != nil || gs.Identity != nativetest.FakeIdentity {
		t.Fatalf("promotion gate = %+v, %v", gs, err)
	}
	if _, err := r.verifier.Verify(ctx, push(t)); err == nil {
		t.Fatal("an unsigned image verified")
	}

	// Another identity is refused.
	other := runner(t, nil, keyless("https://github.com/someone/else/.github/workflows/release.yml@refs/heads/main"))
	if _, err := other.verifier.Verify(ctx, ref); err == nil {
		t.Fatal("a signature by another identity verified")
	}

	// Without a token: verifying works, signing names what to set.
	r = runner(t, nil, keyless(nativetest.FakeIdentity))
	if _, err := r.verifier.Verify(ctx, ref); err != nil {
		t.Fatalf("verifying without a token: %v", err)
	}
	_, err = r.signer.Sign(ctx, push(t))
	if err == nil || !strings.Contains(err.Error(), IDTokenEnv) || pipeline.Classify(err) != pipeline.Terminal {
		t.Fatalf("Sign without a token = %v, want a terminal error naming %s", err, IDTokenEnv)
	}
}

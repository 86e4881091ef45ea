package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ci/ferry/modules/gitops/forge/local"
	"github.com/ferry-ci/ferry/modules/oci"
	"github.com/ferry-ci/ferry/modules/pipeline"
	"github.com/ferry-ci/ferry/modules/pipeline/native"
	"github.com/ferry-ci/ferry/modules/pipeline/native/nativetest"
)

// TestPromotePREndToEnd releases a service on the embedded defaults, merges
// its staging pull request, and pins its pushed digest in production with
// promote-pr, as the Dagger module's Release does: refused for a tag, a
// digest the registry lacks and a key that did not sign it; created with
// the signer's public key; a noop on the same pull request when run again.
func TestPromotePREndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and tests a service")
	}
	root := copyRepo(t)
	state := filepath.Join(root, ".ci", "state")
	t.Setenv(passwordEnv, "e2e-password")

	ref, err := oci.ParsePinned(release(t, root).Services[0].Image)
	if err != nil {
		t.Fatal(err)
	}
	bare := filepath.Join(state, "deployments.git")
	forge, err := local.New(bare)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := forge.Merge(context.Background(), 1); err != nil { // staging runs it: production's upstream gate
		t.Fatal(err)
	}
	dir := t.TempDir()
	rightKey := filepath.Join(dir, "signer.pub")
	pub, err := os.ReadFile(filepath.Join(state, "keys", "cosign.pub"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, rightKey, pub)
	wrongKey := filepath.Join(dir, "other.pub")
	writeFile(t, wrongKey, otherPublicKey(t))
	notAKey := filepath.Join(dir, "not-a-key.pub")
	writeFile(t, notAKey, []byte("hello\n"))

	// verify checks staging's pin with the given key: the signer's passes,
	// another key fails closed and says which key it tried.
	var v struct{ Image string }
	command(t, root, &v, "verify", "--service", e2eService, "--public-key", rightKey)
	if v.Image != ref.String() {
		t.Errorf("verify checked %s, want %s", v.Image, ref)
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"verify", "--service", e2eService, "--public-key", wrongKey, "--root", root}, &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "no signature satisfies the policy") || !strings.Contains(stderr.String(), "--public-key "+wrongKey) {
		t.Errorf("verify with another key: exit %d, stderr:\n%s\nwant exit 1 naming the key", code, stderr.String())
	}

	absent := ref.Repository().String() + "@sha256:" + strings.Repeat("0", 64)
	promotePR := []string{"promote-pr", "--service", e2eService, "--env", "production"}
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr []string
	}{
		{name: "tag only", args: []string{"--image", ref.Repository().String() + ":v1"},
			wantErr: []string{"--image", "not pinned by a sha256 digest", "registry/repo@sha256:<hex>"}},
		{name: "digest the registry lacks", args: []string{"--image", absent},
			wantErr: []string{"promotion gate failed", "the registry has no such manifest"}},
		{name: "wrong public key", args: []string{"--image", ref.String(), "--public-key", wrongKey},
			wantErr: []string{"promotion gate failed", "signature " + ref.String(), "--public-key " + wrongKey}},
		{name: "not a public key", args: []string{"--image", ref.String(), "--public-key", notAKey},
			wantErr: []string{"loading --public-key", "give a cosign public key (PEM)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append(append(append([]string{}, promotePR...), tc.args...), "--root", root)
			if code := run(context.Background(), args, &stdout, &stderr); code != 1 {
				t.Fatalf("exit %d, want 1; stderr:\n%s", code, stderr.String())
			}
			t.Logf("refused:\n%s", stderr.String())
			for _, want := range tc.wantErr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr does not say %q:\n%s", want, stderr.String())
				}
			}
			if prs, err := forge.List(context.Background(), ""); err != nil || len(prs) != 1 {
				t.Errorf("pull requests = %+v, %v; want the staging one only", prs, err)
			}
		})
	}

	var first pipeline.Promotion
	command(t, root, &first, append(promotePR, "--image", ref.String(), "--public-key", rightKey)...)
	branch := "promote/production/" + e2eService
	if first.Env != "production" || first.Action != "created" || first.PullRequest == nil || first.PullRequest.Branch != branch {
		t.Fatalf("promote-pr = %+v, want a new pull request from %s", first, branch)
	}
	overlay := gitOut(t, bare, "show", branch+":deployments/overlays/production/kustomization.yaml")
	if !strings.Contains(overlay, ref.Digest().String()) || !strings.Contains(overlay, ref.Repository().String()) {
		t.Errorf("the promotion branch's overlay does not pin %s:\n%s", ref, overlay)
	}

	var again pipeline.Promotion
	command(t, root, &again, append(promotePR, "--image", ref.String())...)
	if again.Action != pipeline.NoopAction || again.PullRequest == nil || again.PullRequest.Number != first.PullRequest.Number {
		t.Fatalf("promote-pr again = %+v, want a noop on pull request #%d", again, first.PullRequest.Number)
	}
	prs, err := forge.List(context.Background(), "")
	if err != nil || len(prs) != 2 {
		t.Fatalf("pull requests = %+v, %v; want staging's and one production pull request", prs, err)
	}
	if n := gitOut(t, bare, "rev-list", "--count", "main.."+branch); n != "1" {
		t.Errorf("%s has %s commits above main, want 1", branch, n)
	}
}

// TestPromotePRBadInput: usage errors of promote-pr and --public-key stop
// before anything starts.
func TestPromotePRBadInput(t *testing.T) {
	const ref = "127.0.0.1:5000/migrator@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "no image", args: []string{"promote-pr", "--service", "migrator"}, wantErr: "promote-pr needs --image"},
		{name: "two services", args: []string{"promote-pr", "--service", "a,b", "--image", ref}, wantErr: "promote-pr takes exactly one --service"},
		{name: "image on promote", args: []string{"promote", "--service", "migrator", "--image", ref}, wantErr: "promote takes no --image"},
		{name: "public key and keyless", args: []string{"verify", "--service", "migrator", "--public-key", "k.pub", "--keyless"},
			wantErr: "--public-key verifies key signatures, --keyless certificate ones"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append(tc.args, "--root", root), &stdout, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), tc.wantErr) {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, stderr.String(), tc.wantErr)
			}
			if _, err := os.Stat(filepath.Join(root, ".ci")); err == nil {
				t.Errorf("a usage error created .ci")
			}
		})
	}
}

// otherPublicKey is the PEM public half of a key that signed nothing.
func otherPublicKey(t *testing.T) []byte {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPromotePRRealRegistry releases into a real distribution registry
// that wants a login, then pins the pushed digest in production with
// promote-pr: refused without the registry's credentials (the gates cannot
// read the image), created with them, the password in no output.
func TestPromotePRRealRegistry(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and tests a service")
	}
	host := nativetest.StartRegistry(t, registryUser, registryPassword)
	root := copyRepo(t)
	t.Setenv(passwordEnv, "e2e-password")
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("GITHUB_TOKEN", "")
	t.Setenv(native.RegistryUsernameEnv, registryUser)
	t.Setenv(native.RegistryPasswordEnv, registryPassword)
	var rep pipeline.Report
	command(t, root, &rep, "release", "--service", e2eService, "--registry", host+"/ferry")
	ref, err := oci.ParsePinned(rep.Services[0].Image)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Repository().String() != host+"/ferry/"+e2eService {
		t.Fatalf("released %s, want it under %s/ferry", ref, host)
	}
	forge, err := local.New(filepath.Join(root, ".ci", "state", "deployments.git"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := forge.Merge(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	args := []string{"promote-pr", "--service", e2eService, "--env", "production", "--image", ref.String(), "--registry", host + "/ferry"}

	t.Setenv(native.RegistryUsernameEnv, "")
	t.Setenv(native.RegistryPasswordEnv, "")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append(append([]string{}, args...), "--root", root), &stdout, &stderr)
	t.Logf("without credentials:\n%s", stderr.String())
	noSecrets(t, map[string]string{"stderr": stderr.String()}, registryPassword)
	if code != 1 || !strings.Contains(stderr.String(), "promotion gate failed") || !strings.Contains(stderr.String(), "digest-exists") ||
		!strings.Contains(stderr.String(), "set "+native.RegistryUsernameEnv+" and "+native.RegistryPasswordEnv+", or docker login "+host) {
		t.Fatalf("promote-pr without credentials: exit %d, want 1 and the gate refusing:\n%s", code, stderr.String())
	}

	t.Setenv(native.RegistryUsernameEnv, registryUser)
	t.Setenv(native.RegistryPasswordEnv, registryPassword)
	stdout.Reset()
	stderr.Reset()
	if code := run(context.Background(), append(append([]string{}, args...), "--root", root), &stdout, &stderr); code != 0 {
		t.Fatalf("promote-pr: exit %d:\n%s", code, stderr.String())
	}
	if want := "pr         #2 promote/production/" + e2eService + " -> main (created, "; !strings.Contains(stdout.String(), want) {
		t.Errorf("promote-pr said:\n%s\nwant %q", stdout.String(), want)
	}
	noSecrets(t, map[string]string{"stdout": stdout.String(), "stderr": stderr.String()}, registryPassword)
}

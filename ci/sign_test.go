package main

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"dagger/ci/internal/dagger"
	"dagger/ci/internal/fakeengine"
	"dagger/ci/internal/policy"
)

const (
	fakeRef         = "ghcr.io/ferry-ci/scheduler-worker@sha256:" + "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12"
	fakeKey         = "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----fake-key-bytes"
	fakeKeyPassword = "k3y-passw0rd"
	fakeOIDCURL     = "https://pipelines.example.test/oidc?secret-url-part"
	fakeOIDCToken   = "oidc-request-bearer-token"
	fakeIDToken     = "eyJhbGciOiJSUzI1NiJ9.fake-id-token"
	pinnedCosign    = "gcr.io/projectsigstore/cosign:v3.1.3@sha256:" + "cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34"
)

// cosignArgs is what the signing container runs: the credential script,
// then cosign with args.
func cosignArgs(args ...string) []string {
	return append([]string{"sh", "-c", cosignScript, "cosign"}, args...)
}

// assertCosignContainer checks the container cosign runs in: the pinned Go
// image (a shell for the script), cosign on PATH (built, or from
// cosignImage), the docker
// config on a tmpfs, and a per-run nonce so the exec is never a cache hit.
func assertCosignContainer(t *testing.T, e *fakeengine.Engine, c fakeengine.Chain, cosignImage string) {
	t.Helper()
	if got := names(c[:2]); !slices.Equal(got, []string{"container", "from"}) || c[1].Arg("address") != goImage {
		t.Errorf("chain starts %s, want container.from(%s)", c[:2], goImage)
	}
	files := c.All("withFile")
	if len(files) != 1 || files[0].Arg("path") != "/usr/local/bin/cosign" {
		t.Fatalf("withFile = %v, want cosign at /usr/local/bin/cosign", files)
	}
	src := resolve(t, e, files[0], "source")
	if cosignImage != "" {
		if want := `container.from(address:"` + cosignImage + `").file(path:"/ko-app/cosign")`; src.String() != want {
			t.Errorf("cosign binary = %s\nwant %s", src, want)
		}
	} else {
		// Built from its module with the pinned Go image and the caches.
		if got := lastExec(src); !slices.Equal(got, []string{"go", "install", "github.com/sigstore/cosign/v3/cmd/cosign@v3.1.3"}) {
			t.Errorf("cosign built by %q", got)
		}
		if src[1].Arg("address") != goImage || src.Leaf().Name != "file" || src.Leaf().Arg("path") != "/out/cosign" {
			t.Errorf("cosign binary = %s", src)
		}
		if env := envOf(src); env["GOTOOLCHAIN"] != "local" || env["CGO_ENABLED"] != "0" {
			t.Errorf("cosign build env = %v", env)
		}
		var caches []string
		for _, f := range src.All("withMountedCache") {
			caches = append(caches, f.Arg("path")+"="+resolve(t, e, f, "cache").Leaf().Arg("key"))
		}
		if want := []string{"/go/pkg/mod=ferry-ci-go-mod", "/root/.cache/go-build=ferry-ci-go-build"}; !slices.Equal(caches, want) {
			t.Errorf("cosign build caches = %q, want %q", caches, want)
		}
	}
	temps := map[string]bool{}
	for _, f := range c.All("withMountedTemp") {
		temps[f.Arg("path")] = true
	}
	if !temps[dockerConfigDir] || envOf(c)["DOCKER_CONFIG"] != dockerConfigDir {
		t.Errorf("docker config is not on a tmpfs at %s: %s", dockerConfigDir, c)
	}
	if len(envOf(c)[runIDVariable]) != 16 {
		t.Errorf("no per-run %s before the exec: a repeat would be served from the engine's cache: %s", runIDVariable, c)
	}
}

func TestFakeEngineSignWithKey(t *testing.T) {
	e := fakeengine.Start(t)
	ctx := context.Background()
	key := dag.SetSecret("cosign-key", fakeKey)
	keyPassword := dag.SetSecret("cosign-password", fakeKeyPassword)
	password := dag.SetSecret("registry-password", fakePassword)

	sig, err := newFakeCi().Sign(ctx, fakeRef, key, keyPassword, false, nil, nil, nil, "bot", password, "")
	if err != nil {
		t.Fatalf("Sign() = %v", err)
	}
	if want := "ghcr.io/ferry-ci/scheduler-worker:sha256-" + strings.Repeat("ab12", 16) + ".sig"; sig != want {
		t.Errorf("Sign() = %q, want the legacy signature tag %q", sig, want)
	}
	c := onlyLeaf(t, e, "stdout").Chain
	assertCosignContainer(t, e, c, "")
	if got, want := lastExec(c), cosignArgs("sign", "--yes", "--use-signing-config=false", "--new-bundle-format=false",
		"--key", cosignKeyPath, "--tlog-upload=false", fakeRef); !slices.Equal(got, want) {
		t.Errorf("exec = %q\nwant %q", got, want)
	}
	if got, want := secretNames(t, e, c), map[string]string{
		cosignKeyPath: "cosign-key", "$COSIGN_PASSWORD": "cosign-password", "$REGISTRY_PASSWORD": "registry-password",
	}; !equalMaps(got, want) {
		t.Errorf("secrets = %v, want %v", got, want)
	}
	env := envOf(c)
	if env["REGISTRY_HOST"] != "ghcr.io" || env["REGISTRY_USERNAME"] != "bot" {
		t.Errorf("registry credential for %q as %q, want ghcr.io as bot", env["REGISTRY_HOST"], env["REGISTRY_USERNAME"])
	}
	if _, plain := env["COSIGN_PASSWORD"]; plain {
		t.Errorf("COSIGN_PASSWORD is a plain variable beside the secret one")
	}
	assertNoSecretInQueries(t, e, fakeKey, fakeKeyPassword, fakePassword)
}

func TestFakeEngineSignKeyless(t *testing.T) {
	tests := []struct {
		name        string
		token       bool
		wantSecrets map[string]string
	}{
		{name: "GitHub Actions request pair", wantSecrets: map[string]string{
			"$ACTIONS_ID_TOKEN_REQUEST_URL": "oidc-url", "$ACTIONS_ID_TOKEN_REQUEST_TOKEN": "oidc-request-token"}},
		{name: "identity token", token: true, wantSecrets: map[string]string{"$SIGSTORE_ID_TOKEN": "oidc-token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := fakeengine.Start(t)
			var token, url, request *dagger.Secret
			if tt.token {
				token = dag.SetSecret("oidc-token", fakeIDToken)
			} else {
				url, request = dag.SetSecret("oidc-url", fakeOIDCURL), dag.SetSecret("oidc-request-token", fakeOIDCToken)
			}
			if _, err := newFakeCi().Sign(context.Background(), fakeRef, nil, nil, true, token, url, request, "", nil, pinnedCosign); err != nil {
				t.Fatalf("Sign() = %v", err)
			}
			c := onlyLeaf(t, e, "stdout").Chain
			assertCosignContainer(t, e, c, pinnedCosign)
			if got, want := lastExec(c), cosignArgs("sign", "--yes", "--use-signing-config=false", "--new-bundle-format=false", fakeRef); !slices.Equal(got, want) {
				t.Errorf("exec = %q\nwant %q (keyless: no key, logged in Rekor)", got, want)
			}
			if got := secretNames(t, e, c); !equalMaps(got, tt.wantSecrets) {
				t.Errorf("secrets = %v, want %v", got, tt.wantSecrets)
			}
			for _, q := range e.Queries() {
				if slices.ContainsFunc(execs(q.Chain), func(args []string) bool { return slices.Contains(args, "install") }) {
					t.Errorf("cosign was built although --cosign-image was given: %s", q.Chain)
				}
			}
			assertNoSecretInQueries(t, e, fakeIDToken, fakeOIDCURL, fakeOIDCToken)
		})
	}
}

func TestFakeEngineSignRefusesBadInput(t *testing.T) {
	tests := []struct {
		name                   string
		ref                    string
		key, keyless, keyPw    bool
		token, url, request    bool
		username               string
		password               bool
		cosignImage, wantError string
	}{
		{name: "no key and not keyless", ref: fakeRef, wantError: "give --key"},
		{name: "key and keyless", ref: fakeRef, key: true, keyless: true, url: true, request: true, wantError: "not both"},
		{name: "keyless without a token", ref: fakeRef, keyless: true, wantError: "--keyless needs --oidc-token"},
		{name: "keyless with half the request pair", ref: fakeRef, keyless: true, url: true, wantError: "--keyless needs --oidc-token"},
		{name: "token and request pair", ref: fakeRef, keyless: true, token: true, url: true, request: true, wantError: "not both"},
		{name: "token without keyless", ref: fakeRef, key: true, token: true, wantError: "OIDC tokens are for --keyless"},
		{name: "key password without key", ref: fakeRef, keyless: true, token: true, keyPw: true, wantError: "--key-password is for --key"},
		{name: "tag instead of digest", ref: "ghcr.io/ferry-ci/migrator:staging", key: true, wantError: "not pinned by a sha256 digest"},
		{name: "cosign image by tag", ref: fakeRef, key: true, cosignImage: "gcr.io/projectsigstore/cosign:v3.1.3", wantError: "--cosign-image"},
		{name: "username without password", ref: fakeRef, key: true, username: "bot", wantError: "--username and --password together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := fakeengine.Start(t)
			secret := func(on bool, name, value string) *dagger.Secret {
				if !on {
					return nil
				}
				return dag.SetSecret(name, value)
			}
			_, err := newFakeCi().Sign(context.Background(), tt.ref, secret(tt.key, "k", fakeKey), secret(tt.keyPw, "kp", fakeKeyPassword), tt.keyless,
				secret(tt.token, "t", fakeIDToken), secret(tt.url, "u", fakeOIDCURL), secret(tt.request, "r", fakeOIDCToken),
				tt.username, secret(tt.password, "p", fakePassword), tt.cosignImage)
			if !errors.Is(err, policy.ErrInvalid) || !strings.Contains(err.Error(), tt.wantError) {
				t.Fatalf("Sign() = %v, want ErrInvalid with %q", err, tt.wantError)
			}
			if n := len(e.Leaves("stdout")); n != 0 {
				t.Fatalf("Sign() ran cosign after bad input:\n%s", dump(e))
			}
		})
	}
}

func TestFakeEngineSignReportsCosignFailure(t *testing.T) {
	e := fakeengine.Start(t)
	e.Handle(stdoutOf(nil, fakeengine.ExecError([]string{"cosign", "sign"}, 1, "", "UNAUTHORIZED: authentication required"), "sign"))
	_, err := newFakeCi().Sign(context.Background(), fakeRef, dag.SetSecret("k", fakeKey), nil, false, nil, nil, nil, "", nil, "")
	if err == nil || !strings.Contains(err.Error(), `signing "`+fakeRef+`"`) {
		t.Fatalf("Sign() = %v, want the failure with the reference", err)
	}
	var x *dagger.ExecError
	if !errors.As(err, &x) || !strings.Contains(x.Stderr, "UNAUTHORIZED") {
		t.Errorf("Sign() = %v, want cosign's exec error with its stderr", err)
	}
	c := onlyLeaf(t, e, "stdout").Chain
	if env := envOf(c); env["COSIGN_PASSWORD"] != "" || !slices.Contains(names(c), "withEnvVariable") {
		t.Errorf("key without password: COSIGN_PASSWORD should be set empty so cosign does not prompt: %v", env)
	}
}

func TestFakeEngineVerify(t *testing.T) {
	tests := []struct {
		name                     string
		publicKey                bool
		identity, identityRegexp string
		wantArgs                 []string
	}{
		{name: "public key", publicKey: true, wantArgs: []string{"--key", cosignPubPath, "--insecure-ignore-tlog=true"}},
		{name: "keyless identity", identity: "https://github.com/ferry-ci/ferry/.github/workflows/dagger.yml@refs/heads/main",
			wantArgs: []string{"--certificate-oidc-issuer", defaultOIDCIssuer, "--certificate-identity", "https://github.com/ferry-ci/ferry/.github/workflows/dagger.yml@refs/heads/main"}},
		{name: "keyless identity regexp", identityRegexp: `^https://github\.com/ferry-ci/ferry/.*$`,
			wantArgs: []string{"--certificate-oidc-issuer", defaultOIDCIssuer, "--certificate-identity-regexp", `^https://github\.com/ferry-ci/ferry/.*$`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := fakeengine.Start(t)
			e.Handle(stdoutOf(`[{"critical":{}}]`, nil, "verify"))
			var pub *dagger.File
			if tt.publicKey {
				pub = dag.LoadFileFromID("public-key-id")
			}
			out, err := newFakeCi().Verify(context.Background(), fakeRef, pub, tt.identity, tt.identityRegexp, defaultOIDCIssuer, "bot", dag.SetSecret("registry-password", fakePassword), "")
			if err != nil {
				t.Fatalf("Verify() = %v", err)
			}
			if out != `[{"critical":{}}]` {
				t.Errorf("Verify() = %q, want cosign's output", out)
			}
			c := onlyLeaf(t, e, "stdout").Chain
			assertCosignContainer(t, e, c, "")
			want := cosignArgs(append(append([]string{"verify", "--new-bundle-format=false", "--output", "json"}, tt.wantArgs...), fakeRef)...)
			if got := lastExec(c); !slices.Equal(got, want) {
				t.Errorf("exec = %q\nwant %q", got, want)
			}
			mounted := c.All("withMountedFile")
			if tt.publicKey != (len(mounted) == 1 && mounted[0].Arg("path") == cosignPubPath) {
				t.Fatalf("public key mounts = %v", mounted)
			}
			if tt.publicKey {
				if got := resolve(t, e, mounted[0], "source").String(); got != `loadFileFromID(id:"public-key-id")` {
					t.Errorf("mounted public key = %s, want the --public-key file", got)
				}
			}
			if got := secretNames(t, e, c); !equalMaps(got, map[string]string{"$REGISTRY_PASSWORD": "registry-password"}) {
				t.Errorf("secrets = %v, want only the registry password", got)
			}
			assertNoSecretInQueries(t, e, fakePassword)
		})
	}
}

func TestFakeEngineVerifyRefusesBadInput(t *testing.T) {
	tests := []struct {
		name, identity, identityRegexp, issuer string
		publicKey                              bool
		wantError                              string
	}{
		{name: "nothing to verify against", issuer: defaultOIDCIssuer, wantError: "give --public-key"},
		{name: "key and identity", publicKey: true, identity: "https://x", issuer: defaultOIDCIssuer, wantError: "one of the two"},
		{name: "identity and regexp", identity: "https://x", identityRegexp: "^x$", issuer: defaultOIDCIssuer, wantError: "one of --certificate-identity"},
		{name: "unanchored regexp", identityRegexp: "https://github.com/ferry-ci/", issuer: defaultOIDCIssuer, wantError: "must be anchored"},
		{name: "issuer not https", identity: "https://x", issuer: "http://issuer", wantError: "must be an https URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := fakeengine.Start(t)
			var pub *dagger.File
			if tt.publicKey {
				pub = dag.LoadFileFromID("public-key-id")
			}
			_, err := newFakeCi().Verify(context.Background(), fakeRef, pub, tt.identity, tt.identityRegexp, tt.issuer, "", nil, "")
			if !errors.Is(err, policy.ErrInvalid) || !strings.Contains(err.Error(), tt.wantError) {
				t.Fatalf("Verify() = %v, want ErrInvalid with %q", err, tt.wantError)
			}
			if len(e.Leaves("stdout")) != 0 {
				t.Fatalf("Verify() ran cosign after bad input:\n%s", dump(e))
			}
		})
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

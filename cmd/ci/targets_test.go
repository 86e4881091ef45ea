package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-ci/ferry/modules/gitops/forge/gitea"
	"github.com/ferry-ci/ferry/modules/oci"
	"github.com/ferry-ci/ferry/modules/oci/registry"
	"github.com/ferry-ci/ferry/modules/pipeline"
	"github.com/ferry-ci/ferry/modules/pipeline/native"
	"github.com/ferry-ci/ferry/modules/pipeline/native/nativetest"
	"github.com/ferry-ci/ferry/modules/signing"
)

// TestTargetFlags: the target flags reach the runner's configuration, and
// keyless settings without --keyless are refused rather than ignored.
func TestTargetFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want native.Config
		err  string
	}{
		{name: "defaults", args: nil, want: native.Config{Forge: native.ForgeLocal}},
		{name: "real targets", args: []string{"--registry", "ghcr.io/org", "--insecure-registry", "--deployments", "https://git.example/o/d",
			"--forge", "gitea", "--forge-url", "https://git.example"},
			want: native.Config{Registry: "ghcr.io/org", InsecureRegistry: true, Deployments: "https://git.example/o/d", Forge: native.ForgeGitea, ForgeURL: "https://git.example"}},
		{name: "keyless", args: []string{"--keyless", "--fulcio-url", "https://fulcio.example", "--rekor-url", "https://rekor.example",
			"--trusted-root", "tr.json", "--certificate-identity-regexp", "^ci$", "--certificate-oidc-issuer", "https://issuer.example", "--insecure-ignore-sct"},
			want: native.Config{Forge: native.ForgeLocal, Keyless: &native.Keyless{FulcioURL: "https://fulcio.example", RekorURL: "https://rekor.example",
				TrustedRoot: "tr.json", Identity: signing.Identity{SubjectRegexp: "^ci$", Issuer: "https://issuer.example"}, SkipSCTUnsafe: true}}},
		{name: "keyless settings without --keyless", args: []string{"--trusted-root", "tr.json"}, err: "need --keyless"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			_, o, err := parse(append([]string{"release", "--service", "x", "--root", "."}, tc.args...), &stderr)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("parse = %v, want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got native.Config
			o.targets.apply(&got)
			if got.Registry != tc.want.Registry || got.InsecureRegistry != tc.want.InsecureRegistry || got.Deployments != tc.want.Deployments ||
				got.Forge != tc.want.Forge || got.ForgeURL != tc.want.ForgeURL || (got.Keyless == nil) != (tc.want.Keyless == nil) ||
				(got.Keyless != nil && *got.Keyless != *tc.want.Keyless) {
				t.Fatalf("config = %+v (keyless %+v)\nwant %+v (keyless %+v)", got, got.Keyless, tc.want, tc.want.Keyless)
			}
		})
	}
}

const (
	registryUser     = "ferry"
	registryPassword = "registry-password-not-for-output"
)

// catalog lists the repositories of a registry that requires a login.
func catalog(t *testing.T, host string) []string {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+host+"/v2/_catalog", nil)
	req.SetBasicAuth(registryUser, registryPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c struct{ Repositories []string }
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil || resp.StatusCode != 200 {
		t.Fatalf("catalog: %d %v", resp.StatusCode, err)
	}
	return c.Repositories
}

// noSecrets fails the test when any output holds a secret.
func noSecrets(t *testing.T, outputs map[string]string, secrets ...string) {
	t.Helper()
	for what, out := range outputs {
		for _, s := range secrets {
			if s != "" && strings.Contains(out, s) {
				t.Errorf("%s holds a secret (%.4s...)", what, s)
			}
		}
	}
}

// TestReleaseRegistryCredentialsRefused: a release into a registry that
// wants a login, without credentials or with wrong ones, stops before the
// build with an error naming the registry and the variables to set, and
// publishes nothing.
func TestReleaseRegistryCredentialsRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a registry")
	}
	host := nativetest.StartRegistry(t, registryUser, registryPassword)
	root := copyRepo(t)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("GITHUB_TOKEN", "")
	for _, tc := range []struct {
		name, user, password string
		want                 []string
	}{
		{name: "none", want: []string{"no credentials for registry " + host, native.RegistryUsernameEnv, native.RegistryPasswordEnv, "docker login " + host}},
		{name: "wrong", user: registryUser, password: "wrong-" + registryPassword,
			want: []string{"registry " + host + " refused the credentials from " + native.RegistryUsernameEnv}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(native.RegistryUsernameEnv, tc.user)
			t.Setenv(native.RegistryPasswordEnv, tc.password)
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"release", "--service", e2eService, "--root", root, "--output", "json",
				"--registry", host + "/ferry"}, &stdout, &stderr)
			t.Logf("stderr:\n%s", stderr.String())
			if code != 1 {
				t.Fatalf("exit %d, want 1:\n%s", code, stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr.String())
				}
			}
			if strings.Contains(stderr.String(), "build") {
				t.Errorf("the release got to a build:\n%s", stderr.String())
			}
			noSecrets(t, map[string]string{"stdout": stdout.String(), "stderr": stderr.String()}, registryPassword, tc.password)
			if repos := catalog(t, host); len(repos) != 0 {
				t.Errorf("the registry holds %v, want nothing published", repos)
			}
		})
	}
}

// TestReleaseToRealTargetsFakeSigstore releases into a real distribution
// registry that wants a login and a deployments repository on a real
// Gitea, signing keyless with a fake Fulcio and Rekor (the only fakes:
// they cannot run here), then releases again (a noop), merges the pull
// request in Gitea, verifies staging, promotes to production, releases a
// second version and rolls staging back to the first: every
// pull request is in Gitea with the pinned digest, the image is in the
// registry, its signature names the token's identity, and no output holds
// the password or a token.
func TestReleaseToRealTargetsFakeSigstore(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and tests a service")
	}
	host := nativetest.StartRegistry(t, registryUser, registryPassword)
	g := nativetest.StartGitea(t)
	sigstore := nativetest.StartSigstore(t)
	idToken := nativetest.Token(t, 1)
	root := copyRepo(t)

	// The deployments repository on Gitea: the repository's deployments/
	// tree at the same path, one commit on main.
	seed := t.TempDir()
	if err := os.CopyFS(filepath.Join(seed, "deployments"), os.DirFS(filepath.Join(root, "deployments"))); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-q", "-m", "seed"}} {
		gitOut(t, seed, args...)
	}
	remote := g.CreateRepo(t, "deployments", seed)

	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("GITHUB_TOKEN", "")
	t.Setenv(native.RegistryUsernameEnv, registryUser)
	t.Setenv(native.RegistryPasswordEnv, registryPassword)
	t.Setenv(native.GiteaTokenEnv, g.Token)
	t.Setenv(native.IDTokenEnv, idToken)
	targets := []string{"--registry", host + "/ferry", "--deployments", remote, "--forge", "gitea", "--root", root, "--output", "json",
		"--keyless", "--fulcio-url", sigstore.FulcioURL, "--rekor-url", sigstore.RekorURL, "--trusted-root", sigstore.TrustedRoot,
		"--certificate-identity", nativetest.FakeIdentity, "--certificate-oidc-issuer", nativetest.FakeIssuer, "--insecure-ignore-sct"}
	outputs := map[string]string{}
	ci := func(out any, args ...string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append(args, targets...), &stdout, &stderr)
		outputs[args[0]+" stdout"], outputs[args[0]+" stderr"] = stdout.String(), stderr.String()
		t.Logf("%s progress:\n%s", args[0], stderr.String())
		if code != 0 {
			t.Fatalf("%s exited %d:\n%s\n%s", strings.Join(args, " "), code, stderr.String(), stdout.String())
		}
		if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
			t.Fatalf("decoding %s: %v\n%s", args[0], err, stdout.String())
		}
	}

	var rep pipeline.Report
	ci(&rep, "release", "--service", e2eService)
	if len(rep.Services) != 1 {
		t.Fatalf("report = %+v", rep)
	}
	got := rep.Services[0]
	if got.Err != nil || got.Signature == nil || got.Promotion == nil || got.Promotion.Action != "created" || got.Promotion.PullRequest == nil ||
		!strings.HasPrefix(got.Promotion.PullRequest.URL, g.URL+"/bot/deployments/pulls/") {
		t.Fatalf("release = %+v, want a signed image and a Gitea pull request", got)
	}
	ref, err := oci.ParsePinned(got.Image)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Repository().String() != host+"/ferry/"+e2eService {
		t.Errorf("image %s, want it in %s/ferry", ref, host)
	}
	client, err := registry.New(registry.WithCredentials(host, registryUser, registryPassword))
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := client.Exists(context.Background(), ref); err != nil || !ok {
		t.Fatalf("registry has %s: %v, %v", ref, ok, err)
	}

	// Again with no change: nothing is built, pushed or signed again; the
	// pull request stays the one there is.
	var again pipeline.Report
	ci(&again, "release", "--service", e2eService)
	if a := again.Services[0]; !a.Cached || a.Image != got.Image || a.Signature != nil || a.Promotion == nil ||
		a.Promotion.Action != pipeline.NoopAction || a.Promotion.PullRequest == nil || a.Promotion.PullRequest.Number != got.Promotion.PullRequest.Number {
		t.Fatalf("second release = %+v, want a noop on %s", a, got.Image)
	}

	// The pull request is in Gitea and its branch pins the digest.
	prs := g.PullRequests(t, "deployments", "open")
	if len(prs) != 1 || prs[0].Head.Ref != "promote/staging/"+e2eService || prs[0].Base.Ref != "main" ||
		prs[0].Number != got.Promotion.PullRequest.Number || !strings.Contains(prs[0].Body, ref.Digest().String()) {
		t.Fatalf("gitea pull requests = %+v, want one for staging naming %s", prs, ref.Digest())
	}
	overlay := func(env, branch string) string {
		var f struct{ Content string }
		g.API(t, "GET", "/repos/bot/deployments/contents/deployments/overlays/"+env+"/kustomization.yaml?ref="+branch, nil, &f)
		b, err := base64.StdEncoding.DecodeString(f.Content)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if o := overlay("staging", "promote/staging/"+e2eService); !strings.Contains(o, ref.String()) && !strings.Contains(o, ref.Digest().String()) {
		t.Fatalf("the promotion branch does not pin %s:\n%s", ref, o)
	}

	// Merge in Gitea; staging now runs the digest, which verifies, and
	// promote opens production's pull request in Gitea.
	forge, err := gitea.New(g.URL, "bot", "deployments", g.Token)
	if err != nil {
		t.Fatal(err)
	}
	// Fast-forward, so that main's first-parent history holds the bot's
	// promotion commit, which rollback looks for (after a merge commit it
	// finds none: modules/gitops walks first parents only).
	if err := forge.Merge(context.Background(), prs[0].Number, "fast-forward-only", prs[0].Head.SHA); err != nil {
		t.Fatal(err)
	}
	var v struct {
		Image   string
		Signers []string
	}
	ci(&v, "verify", "--service", e2eService)
	if v.Image != ref.String() || len(v.Signers) != 1 || v.Signers[0] != nativetest.FakeIdentity {
		t.Errorf("verify = %+v, want %s signed by %s", v, ref, nativetest.FakeIdentity)
	}
	var p pipeline.Promotion
	ci(&p, "promote", "--service", e2eService)
	if p.Env != "production" || p.Action != "created" || p.PullRequest == nil || p.PullRequest.Branch != "promote/production/"+e2eService {
		t.Fatalf("promote = %+v, want a production pull request", p)
	}
	prs = g.PullRequests(t, "deployments", "open")
	if len(prs) != 1 || prs[0].Head.Ref != "promote/production/"+e2eService || !strings.Contains(prs[0].Body, ref.Digest().String()) {
		t.Fatalf("gitea pull requests = %+v, want production's naming %s", prs, ref.Digest())
	}
	if o := overlay("production", "promote/production/"+e2eService); !strings.Contains(o, ref.Digest().String()) {
		t.Fatalf("production's promotion branch does not pin %s:\n%s", ref.Digest(), o)
	}
	// A second version into staging, merged; rolling staging back opens, in
	// Gitea, the revert to the first version.
	main := filepath.Join(root, "services", e2eService, "cmd", e2eService, "main.go")
	b, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(main, append(b, "\n// A change, so that the next release builds a second image.\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	gitOut(t, root, "commit", "-q", "-am", "second version")
	var second pipeline.Report
	ci(&second, "release", "--service", e2eService)
	next := second.Services[0]
	if next.Cached || next.Image == got.Image || next.Promotion == nil || next.Promotion.PullRequest == nil {
		t.Fatalf("release of a change = %+v, want a new image and pull request", next)
	}
	var pr nativetest.PullRequest
	g.API(t, "GET", "/repos/bot/deployments/pulls/"+strconv.Itoa(next.Promotion.PullRequest.Number), nil, &pr)
	if err := forge.Merge(context.Background(), pr.Number, "fast-forward-only", pr.Head.SHA); err != nil {
		t.Fatal(err)
	}
	var rb pipeline.Promotion
	ci(&rb, "rollback", "--service", e2eService, "--env", "staging")
	if rb.PullRequest == nil || rb.PullRequest.Branch != "rollback/staging/"+e2eService || !strings.HasPrefix(rb.PullRequest.URL, g.URL+"/bot/deployments/pulls/") {
		t.Fatalf("rollback = %+v, want a Gitea pull request from rollback/staging/%s", rb, e2eService)
	}
	if o := overlay("staging", rb.PullRequest.Branch); !strings.Contains(o, ref.Digest().String()) {
		t.Errorf("the rollback branch does not restore %s:\n%s", ref.Digest(), o)
	}
	noSecrets(t, outputs, registryPassword, g.Token, idToken)
}

// TestPlanRealRegistry: plan names the real registry's repositories and
// starts nothing (no embedded registry, no key, no deployments clone).
func TestPlanRealRegistry(t *testing.T) {
	root := copyRepo(t)
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"plan", "--service", e2eService, "--root", root, "--output", "json", "--registry", "ghcr.io/acme"}, &stdout, &stderr); code != 0 {
		t.Fatalf("plan exited %d:\n%s", code, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(root, ".ci", "state")); err == nil {
		t.Errorf("plan with a real registry created .ci/state")
	}
	targets, err := native.Plan(context.Background(), native.Config{Root: root, Registry: "ghcr.io/acme"}, native.Selection{Services: []string{e2eService}})
	if err != nil || len(targets) != 1 || targets[0].Repository.String() != "ghcr.io/acme/"+e2eService {
		t.Fatalf("plan = %+v, %v; want %s in ghcr.io/acme", targets, err, e2eService)
	}
}

// TestTargetsBadInput: a bad target is refused before anything runs, with
// what to do.
func TestTargetsBadInput(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{name: "forge without deployments", args: []string{"--forge", "github"}, wantCode: 1, wantErr: "--forge github needs --deployments"},
		{name: "unknown forge", args: []string{"--forge", "svn"}, wantCode: 1, wantErr: `unknown forge "svn"`},
		{name: "registry with a scheme", args: []string{"--registry", "https://ghcr.io/org"}, wantCode: 1, wantErr: "drop the scheme"},
		{name: "insecure without a registry", args: []string{"--insecure-registry"}, wantCode: 1, wantErr: "--insecure-registry needs --registry"},
		{name: "forge URL with the local forge", args: []string{"--forge-url", "https://git.example"}, wantCode: 1, wantErr: "the local forge has none"},
		{name: "remote deployments with the local forge", args: []string{"--deployments", "https://git.example/o/d"}, wantCode: 1, wantErr: "name --forge github or gitea"},
		{name: "forge without a token", args: []string{"--deployments", "https://git.example/o/d", "--forge", "gitea"}, wantCode: 1,
			wantErr: "set GITEA_TOKEN or FERRY_FORGE_TOKEN"},
		{name: "keyless without a trusted root", args: []string{"--keyless"}, wantCode: 1, wantErr: "--trusted-root is required"},
		{name: "keyless flag without --keyless", args: []string{"--fulcio-url", "https://fulcio.example"}, wantCode: 2, wantErr: "need --keyless"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(native.GiteaTokenEnv, "")
			t.Setenv(native.ForgeTokenEnv, "")
			root := t.TempDir()
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"release", "--service", "x", "--root", root}, tc.args...), &stdout, &stderr)
			if code != tc.wantCode || !strings.Contains(stderr.String(), tc.wantErr) {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit %d and %q", code, stderr.String(), tc.wantCode, tc.wantErr)
			}
			if _, err := os.Stat(filepath.Join(root, ".ci", "state")); err == nil {
				t.Errorf("a refused target created .ci/state")
			}
		})
	}
}

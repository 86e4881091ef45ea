package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-ci/ferry/modules/gitops/forge/local"
	"github.com/ferry-ci/ferry/modules/oci"
	"github.com/ferry-ci/ferry/modules/oci/build"
	"github.com/ferry-ci/ferry/modules/oci/embedded"
	"github.com/ferry-ci/ferry/modules/oci/registry"
	"github.com/ferry-ci/ferry/modules/pipeline"
	"github.com/ferry-ci/ferry/modules/pipeline/native"
	"github.com/ferry-ci/ferry/modules/signing"
	"github.com/ferry-ci/ferry/modules/signing/keys"
)

// repoRoot is the repository this test copies its fixture from.
const repoRoot = "../.."

// The service released end to end: the smallest real one, so that the test
// pays for one small `go test` and one `go build`.
const e2eService = "migrator"

// TestReleaseEndToEnd runs the README's main job twice on a copy of the
// repository with the embedded defaults (a release, then a noop) and checks
// the registry, the signature and the deployments repository.
func TestReleaseEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and tests a service")
	}
	root := copyRepo(t)
	state := filepath.Join(root, ".ci", "state")
	t.Setenv(passwordEnv, "e2e-password")

	first := release(t, root)
	got := first.Services[0]
	if got.Cached || got.Signature == nil || got.Signature.Ref == "" || got.Promotion == nil ||
		got.Promotion.Action != "created" || got.Promotion.PullRequest == nil || got.Promotion.PullRequest.Number != 1 ||
		got.Promotion.PullRequest.Branch != "promote/staging/"+e2eService {
		t.Fatalf("first release = %+v, want a fresh build, a signature and pull request #1", got)
	}
	ref, err := oci.ParsePinned(got.Image)
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	second := release(t, root)
	t.Logf("no-change release took %s", time.Since(start).Round(time.Millisecond))
	again := second.Services[0]
	if !again.Cached || again.Image != got.Image || again.Signature != nil || again.Promotion == nil ||
		again.Promotion.Action != pipeline.NoopAction || again.Promotion.PullRequest == nil || again.Promotion.PullRequest.Number != 1 {
		t.Fatalf("second release = %+v, want a noop on %s with pull request #1", again, got.Image)
	}
	for _, s := range again.Steps {
		if s.Step != pipeline.StepVerify && s.State != pipeline.StateSkipped {
			t.Errorf("no-change release ran %s (%s), want it skipped", s.Step, s.State)
		}
	}

	// The registry holds the digest, and the signature verifies.
	reg, err := embedded.Start(filepath.Join(state, "registry"))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close() // closing twice is harmless; the commands below need the port
	if reg.Host() != ref.Repository().Registry() {
		t.Fatalf("the registry came back on %s, the image names %s", reg.Host(), ref.Repository().Registry())
	}
	client, err := registry.New()
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := client.Exists(context.Background(), ref); err != nil || !ok {
		t.Fatalf("registry has %s: %v, %v", ref, ok, err)
	}
	sbom := assertSBOM(t, client, ref)
	pubPath := filepath.Join(state, "keys", "cosign.pub")
	pub, err := keys.LoadPublic(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	policy, err := signing.KeyPolicy(pub)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := signing.Verify(context.Background(), ref.Name(), policy)
	if err != nil || len(rep.Signatures) != 1 {
		t.Fatalf("verifying %s: %+v, %v; want exactly one signature (the noop must not sign again)", ref, rep, err)
	}
	if fi, err := os.Stat(filepath.Join(state, "keys", "cosign.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("cosign.key: %v, %v; want mode 0600", fi, err)
	}
	if cosign := findTool(t, "cosign"); cosign != "" {
		cmd := exec.Command(cosign, "verify", "--key", pubPath, "--insecure-ignore-tlog=true", ref.String())
		home := t.TempDir()
		cmd.Env = []string{"HOME=" + home, "TUF_ROOT=" + filepath.Join(home, "tuf"), "PATH=/usr/bin:/bin", "SIGSTORE_NO_CACHE=1"}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("cosign verify %s: %v\n%s", ref, err, out)
		}
	}

	if err := reg.Close(); err != nil {
		t.Fatal(err)
	}

	// The render check's base is cached for the next run.
	if cached, err := filepath.Glob(filepath.Join(state, "cache", "render", "*", "*")); err != nil || len(cached) == 0 {
		t.Errorf("render cache under %s: %v, %v; want the rendered base", state, cached, err)
	}

	// The deployments repository: one promotion commit on the branch, one
	// pull request record, the digest pinned on the branch only.
	bare := filepath.Join(state, "deployments.git")
	branch := "promote/staging/" + e2eService
	if n := gitOut(t, bare, "rev-list", "--count", "main.."+branch); n != "1" {
		t.Errorf("%s has %s commits above main, want 1", branch, n)
	}
	if n := gitOut(t, bare, "rev-list", "--count", "main"); n != "1" {
		t.Errorf("main has %s commits, want the seed only", n)
	}
	overlay := gitOut(t, bare, "show", branch+":deployments/overlays/staging/kustomization.yaml")
	if !strings.Contains(overlay, ref.Digest().String()) || !strings.Contains(overlay, ref.Repository().String()) {
		t.Errorf("the promotion branch's overlay does not pin %s:\n%s", ref, overlay)
	}
	forge, err := local.New(bare)
	if err != nil {
		t.Fatal(err)
	}
	prs, err := forge.List(context.Background(), "")
	if err != nil || len(prs) != 1 || prs[0].Head != branch || prs[0].Base != "main" {
		t.Fatalf("pull requests = %+v, %v; want one from %s into main", prs, err, branch)
	}
	if want := "- " + e2eService + ": SBOM " + sbom.String() + ","; !strings.Contains(prs[0].Body, want) {
		t.Errorf("the pull request body lacks the SBOM pointer %q:\n%s", want, prs[0].Body)
	}

	// Merge it: staging runs the digest, verify says so, promote copies it
	// to production. A second version goes the same way, and a rollback of
	// production restores the first.
	if _, err := forge.Merge(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	var v struct{ Image string }
	command(t, root, &v, "verify", "--service", e2eService)
	if v.Image != ref.String() {
		t.Errorf("verify checked %s, want %s", v.Image, ref)
	}
	promoteAndMerge(t, root, forge)
	prodFirst := gitOut(t, bare, "show", "main:deployments/overlays/production/kustomization.yaml")
	if !strings.Contains(prodFirst, ref.Digest().String()) {
		t.Fatalf("production does not pin %s after the merge:\n%s", ref.Digest(), prodFirst)
	}

	main := filepath.Join(root, "services", e2eService, "cmd", e2eService, "main.go")
	f, err := os.OpenFile(main, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("\n// A change, so that the next release builds a second image.\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	gitOut(t, root, "commit", "-q", "-am", "second version")
	third := release(t, root).Services[0]
	if third.Cached || third.Image == got.Image || third.Promotion == nil || third.Promotion.PullRequest == nil {
		t.Fatalf("release of a change = %+v, want a new image and pull request", third)
	}
	if _, err := forge.Merge(context.Background(), third.Promotion.PullRequest.Number); err != nil {
		t.Fatal(err)
	}
	promoteAndMerge(t, root, forge)

	var rb pipeline.Promotion
	command(t, root, &rb, "rollback", "--service", e2eService, "--env", "production")
	if rb.PullRequest == nil || rb.PullRequest.Branch != "rollback/production/"+e2eService {
		t.Fatalf("rollback = %+v, want a rollback pull request", rb)
	}
	reverted := gitOut(t, bare, "show", rb.PullRequest.Branch+":deployments/overlays/production/kustomization.yaml")
	if reverted != prodFirst {
		t.Errorf("the rollback branch does not restore the first version's pin:\n%s\nwant:\n%s", reverted, prodFirst)
	}
}

// promoteAndMerge promotes what staging runs to production and merges the
// pull request.
func promoteAndMerge(t *testing.T, root string, forge *local.Forge) {
	t.Helper()
	var p pipeline.Promotion
	command(t, root, &p, "promote", "--service", e2eService)
	if p.Env != "production" || p.Action != "created" || p.PullRequest == nil || p.PullRequest.Branch != "promote/production/"+e2eService {
		t.Fatalf("promote = %+v, want a new production pull request", p)
	}
	if _, err := forge.Merge(context.Background(), p.PullRequest.Number); err != nil {
		t.Fatal(err)
	}
}

// command runs a ci command with --output json on root and decodes its
// result into out.
func command(t *testing.T, root string, out any, args ...string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), append(args, "--root", root, "--output", "json"), &stdout, &stderr); code != 0 {
		t.Fatalf("%s exited %d:\n%s", strings.Join(args, " "), code, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("decoding %s: %v\n%s", strings.Join(args, " "), err, stdout.String())
	}
}

// TestReleaseBadInput: errors name what to fix and publish nothing.
func TestReleaseBadInput(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{name: "no command", args: nil, wantCode: 2, wantErr: "a command is required"},
		{name: "unknown command", args: []string{"deploy", "--service", "x"}, wantCode: 2, wantErr: `unknown command "deploy"`},
		{name: "no service", args: []string{"release"}, wantCode: 2, wantErr: "name --service or --since"},
		{name: "bad output", args: []string{"release", "--service", "x", "--output", "yaml"}, wantCode: 2, wantErr: `--output "yaml"`},
		{name: "unknown service", args: []string{"release", "--service", "nope"}, wantCode: 1, wantErr: `unknown service "nope"`},
		{name: "forge without deployments", args: []string{"release", "--service", "x", "--forge", "github"}, wantCode: 1, wantErr: "--forge github needs --deployments"},
		{name: "unknown forge", args: []string{"release", "--service", "x", "--forge", "svn"}, wantCode: 1, wantErr: `unknown forge "svn"`},
		{name: "promote of two services", args: []string{"promote", "--service", "a,b"}, wantCode: 2, wantErr: "promote takes exactly one --service"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for _, d := range []string{"services", "deployments"} {
				if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append(tc.args, withRoot(tc.args, root)...), &stdout, &stderr)
			if code != tc.wantCode || !strings.Contains(stderr.String(), tc.wantErr) {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit %d and %q", code, stderr.String(), tc.wantCode, tc.wantErr)
			}
			if _, err := os.Stat(filepath.Join(root, ".ci", "state", "registry")); err == nil && tc.wantCode == 2 {
				t.Errorf("a usage error started the registry")
			}
		})
	}
}

func withRoot(args []string, root string) []string {
	if len(args) == 0 {
		return nil
	}
	return []string{"--root", root}
}

const passwordEnv = "FERRY_SIGNING_PASSWORD"

func release(t *testing.T, root string) pipeline.Report {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"release", "--service", e2eService, "--root", root, "--output", "json"}, &stdout, &stderr)
	t.Logf("progress:\n%s", stderr.String())
	if code != 0 {
		t.Fatalf("release exited %d:\n%s\n%s", code, stderr.String(), stdout.String())
	}
	var rep pipeline.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("decoding the report: %v\n%s", err, stdout.String())
	}
	if len(rep.Services) != 1 || rep.Services[0].Target.Name != e2eService || rep.Env != "staging" {
		t.Fatalf("report = %+v, want %s into staging", rep, e2eService)
	}
	return rep
}

// copyRepo copies what a release reads (the service, the deployments
// tree) into a fresh git repository.
func copyRepo(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, dir := range []string{filepath.Join("services", e2eService), "deployments"} {
		if err := os.CopyFS(filepath.Join(root, dir), os.DirFS(filepath.Join(repoRoot, dir))); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-q", "-m", "fixture"}} {
		gitOut(t, root, args...)
	}
	return root
}

func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@localhost", "GIT_COMMITTER_NAME=t",
		"GIT_COMMITTER_EMAIL=t@localhost", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// findTool returns the pinned tool from PATH or the tools cache; without
// it the test fails in CI and skips the check elsewhere (returning "").
func findTool(t *testing.T, tool string) string {
	t.Helper()
	if p, err := exec.LookPath(tool); err == nil {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cache", "ferry", "tools", "bin", tool)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found: run .ci/tools.sh %s", tool, tool)
	}
	t.Logf("%s not found, its check is skipped: run .ci/tools.sh %s", tool, tool)
	return ""
}

// TestHelp: help is an answer, not an error: usage on stdout, exit 0.
func TestHelp(t *testing.T) {
	for _, arg := range []string{"help", "-h", "--help"} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), []string{arg}, &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "usage: ci <command>") || stderr.Len() != 0 {
			t.Errorf("ci %s: exit %d, stdout %q, stderr %q; want usage on stdout and exit 0", arg, code, stdout.String(), stderr.String())
		}
	}
}

// assertSBOM: the release attached the image's SPDX SBOM as an OCI 1.1
// referrer (subject: the image index) under sha256-<hex>.sbom, listed by
// the referrers index, and it describes the service's Go module; crane
// reads it too.
func assertSBOM(t *testing.T, client *registry.Client, ref oci.Pinned) oci.Pinned {
	t.Helper()
	ctx := context.Background()
	tag, err := ref.Repository().Tag(native.SBOMTag(ref.Digest()))
	if err != nil {
		t.Fatal(err)
	}
	sbom, ok, err := client.Lookup(ctx, tag)
	if err != nil || !ok {
		t.Fatalf("SBOM tag %s: %v, %v; want the SBOM", tag, ok, err)
	}
	desc, err := client.Get(ctx, sbom)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		ArtifactType string
		Subject      struct{ Digest string }
		Layers       []struct{ MediaType, Digest string }
	}
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	if m.ArtifactType != build.SBOMArtifactType || m.Subject.Digest != ref.Digest().String() || len(m.Layers) != 1 {
		t.Fatalf("SBOM manifest = %s; want artifactType %s with subject %s", desc.Manifest, build.SBOMArtifactType, ref.Digest())
	}
	referrers, err := client.Referrers(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	listed := false
	for _, r := range referrers {
		listed = listed || (r.Digest.String() == sbom.Digest().String() && r.ArtifactType == build.SBOMArtifactType)
	}
	if !listed {
		t.Errorf("referrers of %s = %+v, want the SBOM %s", ref, referrers, sbom.Digest())
	}
	img, err := remote.Image(sbom.Name())
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("SBOM layers: %d, %v", len(layers), err)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var doc struct {
		SPDXVersion string `json:"spdxVersion"`
		Name        string `json:"name"`
		Packages    []struct{ Name string }
	}
	if err := json.NewDecoder(rc).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || doc.Name != e2eService || len(doc.Packages) < 2 ||
		doc.Packages[0].Name != "github.com/ferry-ci/ferry/services/"+e2eService {
		t.Errorf("SBOM = %+v, want SPDX 2.3 of %s's module and its dependencies", doc, e2eService)
	}
	if crane := findTool(t, "crane"); crane != "" {
		out, err := exec.Command(crane, "manifest", "--insecure", tag.String()).CombinedOutput()
		if err != nil || !strings.Contains(string(out), build.SBOMArtifactType) {
			t.Errorf("crane manifest %s: %v\n%s", tag, err, out)
		}
	}
	return sbom
}

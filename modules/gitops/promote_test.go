package gitops

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-ci/ferry/modules/gitops/forge"
	"github.com/ferry-ci/ferry/modules/gitops/forge/local"
	"github.com/ferry-ci/ferry/modules/gitops/internal/gittest"
)

// FakeRegistry is an in-memory DigestChecker.
type FakeRegistry struct {
	mu   sync.Mutex
	refs map[string]bool
}

func (r *FakeRegistry) Exists(_ context.Context, ref string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refs[ref], nil
}

func (r *FakeRegistry) add(ref string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refs == nil {
		r.refs = map[string]bool{}
	}
	r.refs[ref] = true
}

// FakeVerifier is an in-memory SignatureVerifier: signed refs verify in
// every environment.
type FakeVerifier struct {
	mu     sync.Mutex
	signed map[string]bool
}

func (v *FakeVerifier) Verify(_ context.Context, ref, env string) (Signature, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.signed[ref] {
		return Signature{}, fmt.Errorf("no signature for %s", ref)
	}
	return Signature{Identity: "https://github.com/acme/app/.github/workflows/release.yaml@refs/heads/main", Issuer: "https://token.actions.githubusercontent.com", LogEntry: "rekor#42"}, nil
}

func (v *FakeVerifier) sign(ref string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.signed == nil {
		v.signed = map[string]bool{}
	}
	v.signed[ref] = true
}

func digest(c string) string { return "sha256:" + strings.Repeat(c, 64) }

type fixture struct {
	bare  string
	forge *local.Forge
	reg   *FakeRegistry
	ver   *FakeVerifier
	p     *Promoter
}

func newFixture(t *testing.T, seed string, opts ...Option) *fixture {
	t.Helper()
	f := &fixture{bare: gittest.NewBare(t, seed), reg: &FakeRegistry{}, ver: &FakeVerifier{}}
	var err error
	if f.forge, err = local.New(f.bare); err != nil {
		t.Fatal(err)
	}
	opts = append([]Option{WithDigestChecker(f.reg), WithSignatureVerifier(f.ver), WithRetry(8, 10*time.Millisecond),
		WithClock(func() time.Time { return time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC) })}, opts...)
	if f.p, err = New(f.bare, f.forge, opts...); err != nil {
		t.Fatal(err)
	}
	return f
}

// publish makes an image exist and, if signed, verify.
func (f *fixture) publish(name, d string, signed bool) {
	f.reg.add(name + "@" + d)
	if signed {
		f.ver.sign(name + "@" + d)
	}
}

func apiImage(d string) Image {
	return Image{Service: "api", Name: "ghcr.io/acme/api", Tag: "staging-0000002-api", Digest: d, Platforms: []string{"linux/amd64", "linux/arm64"},
		SourceRepo: "https://github.com/acme/app", SourceCommit: "0000002", PreviousCommit: "0000001"}
}

func TestPromoteCreateNoopUpdateMerge(t *testing.T) {
	f := newFixture(t, "testdata/seed")
	ctx := t.Context()
	f.publish("ghcr.io/acme/api", digest("a"), true)
	f.publish("ghcr.io/acme/api", digest("b"), true)

	res, err := f.p.Promote(ctx, Request{Env: "staging", Images: []Image{apiImage(digest("a"))}, CIRunURL: "https://ci.example/run/1"})
	if err != nil {
		t.Fatalf("Promote: %v", err)
	}
	if res.Action != Created || res.PullRequest == nil || res.PullRequest.Number != 1 || res.Branch != "promote/staging/api" {
		t.Fatalf("first run: %+v", res)
	}
	if got := gittest.Git(t, f.bare, "rev-parse", "promote/staging/api"); got != res.HeadSHA {
		t.Fatalf("branch at %s, result says %s", got, res.HeadSHA)
	}
	// Only the two values changed, checked with git itself.
	diff := gittest.Git(t, f.bare, "diff", "-U0", "main", "promote/staging/api")
	for _, want := range []string{
		"-    newTag: staging-0000001-api # {\"$imagepolicy\": \"flux-system:api:tag\"}",
		"+    newTag: staging-0000002-api # {\"$imagepolicy\": \"flux-system:api:tag\"}",
		"-    digest: " + digest("1"), "+    digest: " + digest("a"),
	} {
		if !strings.Contains(diff, want+"\n") && !strings.HasSuffix(diff, want) {
			t.Errorf("git diff lacks %q:\n%s", want, diff)
		}
	}
	if n := strings.Count(diff, "\n+") + strings.Count(diff, "\n-"); n != 2+2+2 { // +++/--- headers + 2 lines each way
		t.Errorf("git diff touches more lines than the values:\n%s", diff)
	}
	if log := gittest.Git(t, f.bare, "log", "-1", "--format=%an <%ae>", "promote/staging/api"); log != "ferry-bot <ferry-bot@users.noreply.ferry.invalid>" {
		t.Errorf("author %s", log)
	}
	for _, want := range []string{"| api | `ghcr.io/acme/api` | `staging-0000002-api` |", "linux/amd64, linux/arm64", "https://ci.example/run/1",
		"signed by `https://github.com/acme/app/.github/workflows/release.yaml@refs/heads/main`", "rekor#42", "### Rollback",
		"[`0000001..0000002`](https://github.com/acme/app/compare/0000001...0000002)"} {
		if !strings.Contains(res.PullRequest.Body, want) {
			t.Errorf("body lacks %q:\n%s", want, res.PullRequest.Body)
		}
	}
	st, ok, err := ParseState(res.PullRequest.Body)
	if err != nil || !ok || st.Images[0].Digest != digest("a") || st.Images[0].OldDigest != digest("1") {
		t.Fatalf("hidden state: %+v %v %v", st, ok, err)
	}

	// The same request again changes nothing.
	again, err := f.p.Promote(ctx, Request{Env: "staging", Images: []Image{apiImage(digest("a"))}, CIRunURL: "https://ci.example/run/1"})
	if err != nil || again.Action != Noop || again.HeadSHA != res.HeadSHA || again.PullRequest.Number != 1 {
		t.Fatalf("re-run: %+v %v", again, err)
	}
	// A newer digest updates the same pull request.
	upd, err := f.p.Promote(ctx, Request{Env: "staging", Images: []Image{apiImage(digest("b"))}})
	if err != nil || upd.Action != Updated || upd.PullRequest.Number != 1 || upd.Digests["ghcr.io/acme/api"] != digest("b") {
		t.Fatalf("update: %+v %v", upd, err)
	}
	if open, _ := f.forge.List(ctx, forge.Open); len(open) != 1 {
		t.Fatalf("%d open pull requests, want 1", len(open))
	}
	if c, _ := f.forge.Comments(ctx, 1); len(c) != 1 || !strings.Contains(c[0], "Superseded") || !strings.Contains(c[0], "sha256:aaaaaaaaaaaa…` → `sha256:bbbbbbbbbbbb…") {
		t.Fatalf("superseded comment: %q", c)
	}
	if _, err := f.forge.Merge(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// Once merged, the base pins the digest: noop, no branch, no PR.
	noop, err := f.p.Promote(ctx, Request{Env: "staging", Images: []Image{apiImage(digest("b"))}})
	if err != nil || noop.Action != Noop || noop.PullRequest != nil {
		t.Fatalf("after merge: %+v %v", noop, err)
	}
	if _, err := gittest.GitErr(f.bare, "rev-parse", "--verify", "refs/heads/promote/staging/api"); err == nil {
		t.Fatal("noop left a branch")
	}
}

func TestPlanPushesNothing(t *testing.T) {
	f := newFixture(t, "testdata/seed")
	f.publish("ghcr.io/acme/worker", digest("c"), true)
	before := gittest.Snapshot(t, f.bare)
	res, err := f.p.Plan(t.Context(), Request{Env: "staging", Images: []Image{{Service: "worker", Name: "ghcr.io/acme/worker", Tag: "staging-2-worker", Digest: digest("c")}}})
	if err != nil {
		t.Fatal(err)
	}
	wantDiff := "+  - name: ghcr.io/acme/worker\n+    newTag: \"staging-2-worker\"\n+    digest: \"" + digest("c") + "\"\n"
	if res.Action != Created || !strings.Contains(res.Diff, wantDiff) || !strings.Contains(res.Body, "ferry-promotion:v1") {
		t.Fatalf("plan: %+v\n%s", res, res.Diff)
	}
	if after := gittest.Snapshot(t, f.bare); after != before {
		t.Fatal("Plan changed the repository")
	}
	if prs, _ := f.forge.List(t.Context(), ""); len(prs) != 0 {
		t.Fatal("Plan opened a pull request")
	}
}

func TestForeignCommitStopsTheBot(t *testing.T) {
	f := newFixture(t, "testdata/seed")
	f.publish("ghcr.io/acme/api", digest("a"), true)
	f.publish("ghcr.io/acme/api", digest("b"), true)
	ctx := t.Context()
	if _, err := f.p.Promote(ctx, Request{Env: "staging", Images: []Image{apiImage(digest("a"))}}); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(t.TempDir(), "w")
	gittest.Git(t, filepath.Dir(work), "clone", "-q", "-b", "promote/staging/api", f.bare, work)
	if err := os.WriteFile(filepath.Join(work, "NOTE.md"), []byte("hold\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, work, "add", "NOTE.md")
	gittest.Git(t, work, "commit", "-q", "-m", "hold this")
	gittest.Git(t, work, "push", "-q", "origin", "promote/staging/api")
	before := gittest.Snapshot(t, f.bare)
	_, err := f.p.Promote(ctx, Request{Env: "staging", Images: []Image{apiImage(digest("b"))}})
	if !errors.Is(err, ErrForeignCommit) || !strings.Contains(err.Error(), "by Person <person@example.com>") {
		t.Fatalf("Promote over a person's commit: %v", err)
	}
	if gittest.Snapshot(t, f.bare) != before {
		t.Fatal("the bot touched the branch")
	}
}

func TestGates(t *testing.T) {
	tests := []struct {
		name    string
		env     string
		image   Image
		publish bool
		sign    bool
		want    string
	}{
		{name: "digest missing", env: "staging", image: apiImage(digest("a")), want: "digest-exists ghcr.io/acme/api@" + digest("a") + ": the registry has no such manifest"},
		{name: "unsigned", env: "staging", image: apiImage(digest("a")), publish: true, want: "signature ghcr.io/acme/api@" + digest("a") + ": verifying for staging: no signature"},
		{name: "production not from staging", env: "production", image: apiImage(digest("a")), publish: true, sign: true,
			want: "upstream-pin ghcr.io/acme/api@" + digest("a") + ": staging pins " + digest("1") + ", not " + digest("a") + ": promote to staging first"},
		{name: "production copies staging", env: "production", image: Image{Service: "web", Name: "ghcr.io/acme/web", Tag: "staging-0000001-web", Digest: digest("2")}, publish: true, sign: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, "testdata/seed")
			if tt.publish {
				f.publish(tt.image.Name, tt.image.Digest, tt.sign)
			}
			before := gittest.Snapshot(t, f.bare)
			res, err := f.p.Promote(t.Context(), Request{Env: tt.env, Images: []Image{tt.image}})
			if tt.want == "" {
				if err != nil || res.Action != Created {
					t.Fatalf("Promote: %+v %v", res, err)
				}
				return
			}
			if !errors.Is(err, ErrGateFailed) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Promote: %v\nwant %s", err, tt.want)
			}
			if res == nil || len(res.Gates) == 0 {
				t.Fatal("no gate report")
			}
			if gittest.Snapshot(t, f.bare) != before {
				t.Fatal("a failed gate changed the repository")
			}
		})
	}
}

func TestConcurrentPromotionsIntoOneBatch(t *testing.T) {
	const n = 20
	seed := t.TempDir()
	gittest.WriteDeployments(t, seed, n)
	f := newFixture(t, seed, WithRetry(60, 20*time.Millisecond))
	// Four promoters stand for four CI jobs: runs within one take turns,
	// runs across them race on the push lease and rebuild.
	promoters := []*Promoter{f.p}
	for range 3 {
		p, err := New(f.bare, f.forge, WithDigestChecker(f.reg), WithSignatureVerifier(f.ver), WithRetry(60, 20*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		promoters = append(promoters, p)
	}
	var attempts atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		name := fmt.Sprintf("ghcr.io/acme/svc%03d", i)
		d := "sha256:" + fmt.Sprintf("%064x", i+1000)
		f.publish(name, d, true)
		wg.Go(func() {
			res, err := promoters[i%len(promoters)].Promote(t.Context(), Request{Env: "staging", Batch: "release", Images: []Image{{Service: fmt.Sprintf("svc%03d", i), Name: name, Tag: "t", Digest: d}}})
			if err == nil {
				attempts.Add(int64(res.Attempts))
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("promotion %d: %v", i, err)
		}
	}
	prs, err := f.forge.List(t.Context(), "")
	if err != nil || len(prs) != 1 {
		t.Fatalf("%d pull requests (%v), want 1", len(prs), err)
	}
	file := gittest.Git(t, f.bare, "show", "promote/staging/release:deployments/overlays/staging/kustomization.yaml")
	st, _, _ := ParseState(prs[0].Body)
	for i := range n {
		d := "sha256:" + fmt.Sprintf("%064x", i+1000)
		if !strings.Contains(file, d) {
			t.Errorf("digest of svc%03d lost from the branch", i)
		}
		if !strings.Contains(prs[0].Body, d) {
			t.Errorf("digest of svc%03d missing from the pull request body", i)
		}
	}
	if len(st.Images) != n {
		t.Errorf("hidden state has %d images, want %d", len(st.Images), n)
	}
	t.Logf("%d promotions took %d attempts in all", n, attempts.Load())
	if c := gittest.Git(t, f.bare, "rev-list", "--count", "main..promote/staging/release"); c != "1" {
		t.Errorf("branch has %s commits over main, want 1", c)
	}
}

func TestConcurrentSameTargetOnePR(t *testing.T) {
	f := newFixture(t, "testdata/seed")
	f.publish("ghcr.io/acme/api", digest("a"), true)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := f.p.Promote(t.Context(), Request{Env: "staging", Images: []Image{apiImage(digest("a"))}}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if prs, _ := f.forge.List(t.Context(), ""); len(prs) != 1 {
		t.Fatalf("%d pull requests, want 1", len(prs))
	}
}

func TestRollback(t *testing.T) {
	f := newFixture(t, "testdata/seed")
	ctx := t.Context()
	f.publish("ghcr.io/acme/api", digest("a"), true)
	f.publish("ghcr.io/acme/api", digest("1"), true)
	if _, err := f.p.Rollback(ctx, "staging", "api"); !errors.Is(err, ErrNothingToRollBack) {
		t.Fatalf("rollback without promotion: %v", err)
	}
	res, err := f.p.Promote(ctx, Request{Env: "staging", Images: []Image{apiImage(digest("a"))}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.forge.Merge(ctx, res.PullRequest.Number); err != nil {
		t.Fatal(err)
	}
	rb, err := f.p.Rollback(ctx, "staging", "api")
	if err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	if rb.Action != Created || rb.Branch != "rollback/staging/api" || rb.Digests["ghcr.io/acme/api"] != digest("1") ||
		!strings.Contains(rb.Title, "Roll back api in staging") || !strings.Contains(rb.Body, res.HeadSHA) {
		t.Fatalf("rollback result: %+v", rb)
	}
	if _, err := f.forge.Merge(ctx, rb.PullRequest.Number); err != nil {
		t.Fatal(err)
	}
	// The rollback restored the seed's bytes exactly: a true revert.
	if d := gittest.Git(t, f.bare, "diff", "main~2", "main", "--", "deployments/overlays/staging/kustomization.yaml"); d != "" {
		t.Fatalf("rollback is not a revert:\n%s", d)
	}

	// A person's own revert is never overridden.
	f.publish("ghcr.io/acme/api", digest("b"), true)
	res, err = f.p.Promote(ctx, Request{Env: "staging", Images: []Image{apiImage(digest("b"))}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.forge.Merge(ctx, res.PullRequest.Number); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(t.TempDir(), "w")
	gittest.Git(t, filepath.Dir(work), "clone", "-q", f.bare, work)
	gittest.Git(t, work, "revert", "--no-edit", "HEAD")
	gittest.Git(t, work, "push", "-q", "origin", "main")
	before := gittest.Snapshot(t, f.bare)
	if _, err := f.p.Rollback(ctx, "staging", "api"); !errors.Is(err, ErrManualChange) || !strings.Contains(err.Error(), "Person <person@example.com>") {
		t.Fatalf("rollback after a manual revert: %v", err)
	}
	if gittest.Snapshot(t, f.bare) != before {
		t.Fatal("refused rollback changed the repository")
	}
}

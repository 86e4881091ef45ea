package gitops

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ci/ferry/modules/gitops/internal/gittest"
)

// TestRollbackAfterMergeCommit: a promotion merged with a merge commit
// (GitHub's and Gitea's default "create a merge commit") is found behind
// the merge, rolled back as a true revert, and a person's revert of that
// merge is still never overridden.
func TestRollbackAfterMergeCommit(t *testing.T) {
	f := newFixture(t, "testdata/seed")
	ctx := t.Context()
	f.publish("ghcr.io/acme/api", digest("a"), true)
	f.publish("ghcr.io/acme/api", digest("1"), true)
	res, err := f.p.Promote(ctx, Request{Env: "staging", Images: []Image{apiImage(digest("a"))}})
	if err != nil {
		t.Fatal(err)
	}
	// A person merges the pull request with a merge commit, as the forge's
	// merge button does.
	work := filepath.Join(t.TempDir(), "w")
	gittest.Git(t, filepath.Dir(work), "clone", "-q", f.bare, work)
	gittest.Git(t, work, "merge", "--no-ff", "-q", "-m", "Merge pull request #1 from promote/staging/api", "origin/"+res.Branch)
	gittest.Git(t, work, "push", "-q", "origin", "main")
	if n := gittest.Git(t, f.bare, "rev-list", "--count", "--merges", "main"); n != "1" {
		t.Fatalf("main has %s merge commits, want 1", n)
	}

	rb, err := f.p.Rollback(ctx, "staging", "api")
	if err != nil {
		t.Fatalf("Rollback after a merge commit: %v", err)
	}
	if rb.Action != Created || rb.Digests["ghcr.io/acme/api"] != digest("1") || !strings.Contains(rb.Body, res.HeadSHA) {
		t.Fatalf("rollback result: %+v", rb)
	}
	if _, err := f.forge.Merge(ctx, rb.PullRequest.Number); err != nil {
		t.Fatal(err)
	}
	if d := gittest.Git(t, f.bare, "diff", "main~2", "main", "--", "deployments/overlays/staging/kustomization.yaml"); d != "" {
		t.Fatalf("rollback is not a revert:\n%s", d)
	}

	// Promote again, merge with a merge commit, and let a person revert
	// the merge: the bot never overrides it, and names the person.
	f.publish("ghcr.io/acme/api", digest("b"), true)
	res, err = f.p.Promote(ctx, Request{Env: "staging", Images: []Image{apiImage(digest("b"))}})
	if err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, work, "pull", "-q", "--ff-only", "origin", "main")
	gittest.Git(t, work, "fetch", "-q", "origin")
	gittest.Git(t, work, "merge", "--no-ff", "-q", "-m", "Merge pull request #3 from promote/staging/api", "origin/"+res.Branch)
	gittest.Git(t, work, "revert", "--no-edit", "-m", "1", "HEAD")
	gittest.Git(t, work, "push", "-q", "origin", "main")
	before := gittest.Snapshot(t, f.bare)
	if _, err := f.p.Rollback(ctx, "staging", "api"); !errors.Is(err, ErrManualChange) || !strings.Contains(err.Error(), "Person <person@example.com>") {
		t.Fatalf("rollback after a person reverted the merge: %v", err)
	}
	if gittest.Snapshot(t, f.bare) != before {
		t.Fatal("refused rollback changed the repository")
	}
}

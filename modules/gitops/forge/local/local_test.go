package local

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ci/ferry/modules/gitops/forge"
	"github.com/ferry-ci/ferry/modules/gitops/internal/gittest"
)

func TestLocalForge(t *testing.T) {
	bare := gittest.NewBare(t, "../../testdata/seed")
	work := filepath.Join(t.TempDir(), "w")
	gittest.Git(t, filepath.Dir(work), "clone", "-q", bare, work)
	gittest.Git(t, work, "checkout", "-q", "-b", "feature")
	gittest.Git(t, work, "commit", "-q", "--allow-empty", "-m", "feature")
	gittest.Git(t, work, "push", "-q", "origin", "feature")
	f, err := New(bare)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := f.OpenPullRequest(ctx, forge.NewPullRequest{Head: "missing", Base: "main", Title: "x"}); err == nil {
		t.Fatal("opened a pull request for a missing branch")
	}
	pr, err := f.OpenPullRequest(ctx, forge.NewPullRequest{Head: "feature", Base: "main", Title: "t", Body: "b"})
	if err != nil || pr.Number != 1 || pr.HeadSHA != gittest.Git(t, work, "rev-parse", "HEAD") {
		t.Fatalf("Open: %+v %v", pr, err)
	}
	if _, err := f.OpenPullRequest(ctx, forge.NewPullRequest{Head: "feature", Base: "main", Title: "t"}); !errors.Is(err, forge.ErrAlreadyExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if err := f.Comment(ctx, 1, "hello"); err != nil {
		t.Fatal(err)
	}
	if c, _ := f.Comments(ctx, 1); len(c) != 1 || c[0] != "hello" {
		t.Fatalf("comments %v", c)
	}
	// Base moves on: the branch is behind and cannot be fast-forwarded.
	gittest.Git(t, work, "checkout", "-q", "main")
	gittest.Git(t, work, "commit", "-q", "--allow-empty", "-m", "main moves")
	gittest.Git(t, work, "push", "-q", "origin", "main")
	if _, err := f.Merge(ctx, 1); !errors.Is(err, forge.ErrNotMergeable) {
		t.Fatalf("merge of a stale branch: %v", err)
	}
	gittest.Git(t, work, "checkout", "-q", "feature")
	gittest.Git(t, work, "rebase", "-q", "main")
	gittest.Git(t, work, "push", "-q", "-f", "origin", "feature")
	merged, err := f.Merge(ctx, 1)
	if err != nil || merged.State != forge.Merged {
		t.Fatalf("Merge: %+v %v", merged, err)
	}
	if got := gittest.Git(t, bare, "rev-parse", "main"); got != merged.MergeSHA {
		t.Fatalf("main at %s, merge %s", got, merged.MergeSHA)
	}
	if _, err := gittest.GitErr(bare, "rev-parse", "--verify", "refs/heads/feature"); err == nil {
		t.Fatal("head branch kept after merge")
	}
	if _, err := f.Merge(ctx, 1); !errors.Is(err, forge.ErrNotMergeable) {
		t.Fatalf("second merge: %v", err)
	}
	if err := f.Close(ctx, 9); !errors.Is(err, forge.ErrNotFound) {
		t.Fatalf("close of a missing PR: %v", err)
	}
	if open, _ := f.List(ctx, forge.Open); len(open) != 0 {
		t.Fatalf("open: %v", open)
	}
}

func TestLocalForgeRevert(t *testing.T) {
	bare := gittest.NewBare(t, "../../testdata/seed")
	work := filepath.Join(t.TempDir(), "w")
	gittest.Git(t, filepath.Dir(work), "clone", "-q", bare, work)
	file := "deployments/overlays/staging/kustomization.yaml"
	change := func(branch, from, to string) {
		gittest.Git(t, work, "checkout", "-q", "-B", branch, "origin/main")
		b, err := os.ReadFile(filepath.Join(work, file))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, file), []byte(strings.Replace(string(b), from, to, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		gittest.Git(t, work, "commit", "-q", "-am", "change "+branch)
		gittest.Git(t, work, "push", "-q", "origin", branch)
	}
	f, _ := New(bare)
	ctx := t.Context()
	change("promote", "staging-0000001-api", "staging-0000002-api")
	if _, err := f.OpenPullRequest(ctx, forge.NewPullRequest{Head: "promote", Base: "main", Title: "Promote api"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Merge(ctx, 1); err != nil {
		t.Fatal(err)
	}
	rv, err := f.Revert(ctx, 1)
	if err != nil || rv.Head != "revert/1" || rv.Title != `Revert "Promote api"` {
		t.Fatalf("Revert: %+v %v", rv, err)
	}
	if _, err := f.Merge(ctx, rv.Number); err != nil {
		t.Fatal(err)
	}
	if d := gittest.Git(t, bare, "diff", "main~2", "main"); d != "" {
		t.Fatalf("revert left a difference:\n%s", d)
	}
	if msg := gittest.Git(t, bare, "log", "-1", "--format=%B", "main"); !strings.Contains(msg, "This reverts commit") {
		t.Fatalf("message %q", msg)
	}
	// Reverting again after someone changed the file: refused.
	gittest.Git(t, work, "fetch", "-q")
	change("other", "staging-0000001-web", "staging-0000003-web")
	if _, err := f.OpenPullRequest(ctx, forge.NewPullRequest{Head: "other", Base: "main", Title: "Other"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Merge(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Revert(ctx, 2); !errors.Is(err, forge.ErrNotMergeable) {
		t.Fatalf("revert of a file changed since: %v", err)
	}
}

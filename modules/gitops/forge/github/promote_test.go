package github

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ferry-ci/ferry/modules/gitops"
	"github.com/ferry-ci/ferry/modules/gitops/forge"
	"github.com/ferry-ci/ferry/modules/gitops/internal/gittest"
)

type allow struct{}

func (allow) Exists(context.Context, string) (bool, error) { return true, nil }
func (allow) Verify(context.Context, string, string) (gitops.Signature, error) {
	return gitops.Signature{Identity: "release@acme"}, nil
}

// TestPromoteThroughFakeGitHub drives a promotion whose git side is a real
// repository on disk and whose pull requests go to the GitHub fake.
func TestPromoteThroughFakeGitHub(t *testing.T) {
	f := newFake(t, "/api/v3", "ghs_token")
	c, err := New("acme", "deployments", StaticToken("ghs_token"), WithBaseURL(f.srv.URL+"/api/v3"))
	if err != nil {
		t.Fatal(err)
	}
	bare := gittest.NewBare(t, "../../testdata/seed")
	p, err := gitops.New(bare, c, gitops.WithDigestChecker(allow{}), gitops.WithSignatureVerifier(allow{}))
	if err != nil {
		t.Fatal(err)
	}
	req := func(d string) gitops.Request {
		return gitops.Request{Env: "staging", Images: []gitops.Image{{Service: "web", Name: "ghcr.io/acme/web", Tag: "staging-2-web", Digest: "sha256:" + strings.Repeat(d, 64)}}}
	}
	ctx := t.Context()
	res, err := p.Promote(ctx, req("c"))
	if err != nil || res.Action != gitops.Created || res.PullRequest.URL != "https://github.com/acme/deployments/pull/1" {
		t.Fatalf("Promote: %+v %v", res, err)
	}
	if again, err := p.Promote(ctx, req("c")); err != nil || again.Action != gitops.Noop {
		t.Fatalf("re-run: %+v %v", again, err)
	}
	upd, err := p.Promote(ctx, req("d"))
	if err != nil || upd.Action != gitops.Updated || upd.PullRequest.Number != 1 {
		t.Fatalf("update: %+v %v", upd, err)
	}
	if len(f.pulls) != 1 || !strings.Contains(f.pulls[0].Body, strings.Repeat("d", 64)) || len(f.comment[1]) != 1 {
		t.Fatalf("fake state: %d pulls, comments %v", len(f.pulls), f.comment)
	}
	// A token the fake refuses: 401, and the branch push is undone.
	bad, _ := New("acme", "deployments", StaticToken("nope"), WithBaseURL(f.srv.URL+"/api/v3"))
	pb, _ := gitops.New(bare, bad, gitops.WithDigestChecker(allow{}), gitops.WithSignatureVerifier(allow{}))
	before := gittest.Snapshot(t, bare)
	_, err = pb.Promote(ctx, gitops.Request{Env: "staging", Images: []gitops.Image{{Service: "worker", Name: "ghcr.io/acme/worker", Digest: "sha256:" + strings.Repeat("e", 64)}}})
	if !errors.Is(err, forge.ErrUnauthorized) || strings.Contains(err.Error(), "nope") {
		t.Fatalf("401: %v", err)
	}
	if gittest.Snapshot(t, bare) != before {
		t.Fatal("a refused pull request left a branch")
	}
}

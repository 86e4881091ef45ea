package github

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

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
	before, files := gittest.Snapshot(t, bare), gittest.Files(t, bare)
	_, err = pb.Promote(ctx, gitops.Request{Env: "staging", Images: []gitops.Image{{Service: "worker", Name: "ghcr.io/acme/worker", Digest: "sha256:" + strings.Repeat("e", 64)}}})
	if !errors.Is(err, forge.ErrUnauthorized) || strings.Contains(err.Error(), "nope") {
		t.Fatalf("401: %v", err)
	}
	if gittest.Snapshot(t, bare) != before {
		t.Fatal("a refused pull request left a branch")
	}
	// The forge was asked before the push: not one object was pushed.
	if gittest.Files(t, bare) != files {
		t.Fatal("refused credentials still pushed objects")
	}
}

// TestForgeFailureAfterPushFakeGitHub: the branch is pushed, then opening
// its pull request fails. The push is undone (the git CLI finds no
// promote/ branch and every ref as before) unless the forge did open the
// pull request and only the answer was lost; either way a later run
// converges on one pull request.
func TestForgeFailureAfterPushFakeGitHub(t *testing.T) {
	tests := []struct {
		name     string
		fault    openFault
		wantErr  error
		text     string
		attempts int
	}{
		{name: "401", fault: openFault{status: 401}, wantErr: forge.ErrUnauthorized, text: "401 Unauthorized"},
		{name: "403", fault: openFault{status: 403}, wantErr: forge.ErrForbidden, text: "403 Forbidden"},
		{name: "422", fault: openFault{status: 422}, wantErr: forge.ErrUnprocessable, text: "422 Unprocessable Entity"},
		{name: "500 on every attempt", fault: openFault{status: 500}, text: "after 2 attempts", attempts: 2},
		{name: "connection dropped on every attempt", fault: openFault{drop: true}, text: "after 2 attempts", attempts: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, "", "ghs_token")
			c, err := New("acme", "deployments", StaticToken("ghs_token"), WithBaseURL(f.srv.URL))
			if err != nil {
				t.Fatal(err)
			}
			bare := gittest.NewBare(t, "../../testdata/seed")
			p, err := gitops.New(bare, c, gitops.WithDigestChecker(allow{}), gitops.WithSignatureVerifier(allow{}), gitops.WithRetry(2, time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			req := gitops.Request{Env: "staging", Images: []gitops.Image{{Service: "web", Name: "ghcr.io/acme/web", Tag: "staging-2-web", Digest: "sha256:" + strings.Repeat("c", 64)}}}
			before := gittest.Snapshot(t, bare)
			f.failOpens(max(tt.attempts, 1), tt.fault)
			_, err = p.Promote(t.Context(), req)
			if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("Promote: %v, want %v (%s)", err, tt.wantErr, tt.text)
			}
			if after := gittest.Snapshot(t, bare); after != before {
				t.Fatalf("refs changed:\n%s\n->\n%s", before, after)
			}
			if ls := gittest.Git(t, bare, "ls-remote", "--heads", bare); strings.Contains(ls, "promote/") {
				t.Fatalf("stray branch:\n%s", ls)
			}
			if len(f.pulls) != 0 {
				t.Fatalf("%d pull requests", len(f.pulls))
			}
			// The forge recovers: the next run opens the one pull request.
			res, err := p.Promote(t.Context(), req)
			if err != nil || res.Action != gitops.Created || len(f.pulls) != 1 {
				t.Fatalf("after recovery: %+v %v (%d pulls)", res, err, len(f.pulls))
			}
		})
	}
	t.Run("answer lost after the pull request opened", func(t *testing.T) {
		f := newFake(t, "", "ghs_token")
		c, _ := New("acme", "deployments", StaticToken("ghs_token"), WithBaseURL(f.srv.URL))
		bare := gittest.NewBare(t, "../../testdata/seed")
		p, err := gitops.New(bare, c, gitops.WithDigestChecker(allow{}), gitops.WithSignatureVerifier(allow{}), gitops.WithRetry(3, time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		f.failOpens(1, openFault{dropAfter: true})
		res, err := p.Promote(t.Context(), gitops.Request{Env: "staging", Images: []gitops.Image{{Service: "web", Name: "ghcr.io/acme/web", Digest: "sha256:" + strings.Repeat("c", 64)}}})
		if err != nil || res.PullRequest == nil || res.PullRequest.Number != 1 || len(f.pulls) != 1 {
			t.Fatalf("Promote: %+v %v (%d pulls)", res, err, len(f.pulls))
		}
		if head := gittest.Git(t, bare, "rev-parse", "refs/heads/promote/staging/web"); head != res.HeadSHA {
			t.Fatalf("branch at %s, result says %s", head, res.HeadSHA)
		}
	})
}

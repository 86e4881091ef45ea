package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"dagger/ci/internal/dagger"
	"dagger/ci/internal/fakeengine"
	"dagger/ci/internal/policy"
)

const fakePassword = "s3cr3t-registry-token"

func TestFakeEnginePush(t *testing.T) {
	e := fakeengine.Start(t)
	ctx := context.Background()
	password := dag.SetSecret("registry-password", fakePassword)

	ref, err := newFakeCi().Push(ctx, "scheduler-worker", "staging", "registry.example.test:5000/team", "bot", password, "abcdef0123456789", "")
	if err != nil {
		t.Fatalf("Push() = %v", err)
	}

	publish := onlyLeaf(t, e, "publish")
	wantAddress := "registry.example.test:5000/team/scheduler-worker:staging-abcdef0-scheduler-worker"
	if got := publish.Chain.Leaf().Arg("address"); got != wantAddress {
		t.Errorf("published address = %q, want %q", got, wantAddress)
	}
	if !strings.HasPrefix(ref, "registry.example.test:5000/team/scheduler-worker@sha256:") {
		t.Errorf("Push() = %q, want the repository pinned by digest", ref)
	}
	if _, digest, _ := strings.Cut(ref, "@"); len(digest) != len("sha256:")+64 {
		t.Errorf("Push() digest %q is not a sha256 digest", digest)
	}
	if got := publish.Chain.All("dockerBuild"); len(got) != 1 || !strings.Contains(got[0].String(), `"value":"abcdef0123456789"`) {
		t.Errorf("published image was not built from the given commit: %s", publish.Chain)
	}

	auth := publish.Chain.All("withRegistryAuth")
	if len(auth) != 1 {
		t.Fatalf("got %d withRegistryAuth, want 1: %s", len(auth), publish.Chain)
	}
	if got := auth[0].Arg("address"); got != "registry.example.test:5000" {
		t.Errorf("registry auth address = %q, want the registry host", got)
	}
	if got := auth[0].Arg("username"); got != "bot" {
		t.Errorf("registry auth username = %q, want bot", got)
	}
	secret := resolve(t, e, auth[0], "secret")
	if secret.Leaf().Name != "setSecret" || secret.Leaf().Arg("name") != "registry-password" {
		t.Errorf("registry auth secret = %s, want the password secret", secret)
	}
	for _, q := range e.Queries() {
		if strings.Contains(q.Raw, fakePassword) && q.Chain.Leaf().Name != "id" {
			t.Errorf("the password travels in a query other than its own secret: %s", q.Chain)
		}
	}
}

func TestFakeEnginePushWithoutCredentials(t *testing.T) {
	e := fakeengine.Start(t)
	ref, err := newFakeCi().Push(context.Background(), "migrator", "production", "ghcr.io/ferry-ci", "", nil, "", "2026-11-27T08:00:00Z")
	if err != nil {
		t.Fatalf("Push() = %v", err)
	}
	publish := onlyLeaf(t, e, "publish")
	if got, want := publish.Chain.Leaf().Arg("address"), "ghcr.io/ferry-ci/migrator:production-0123456-migrator"; got != want {
		t.Errorf("published address = %q, want %q (HEAD commit shortened)", got, want)
	}
	if len(publish.Chain.All("withRegistryAuth")) != 0 {
		t.Errorf("anonymous push attached registry auth: %s", publish.Chain)
	}
	if !strings.HasPrefix(ref, "ghcr.io/ferry-ci/migrator@sha256:") {
		t.Errorf("Push() = %q", ref)
	}
}

func TestFakeEnginePushRefusesBadInput(t *testing.T) {
	tests := []struct {
		name, service, env, registry, username string
		password                               bool
		wantErr                                string
	}{
		{name: "env with hyphen", service: "migrator", env: "pre-prod", registry: "ghcr.io/x", wantErr: `environment name "pre-prod"`},
		{name: "latest is not an env", service: "migrator", env: "latest!", registry: "ghcr.io/x", wantErr: "environment name"},
		{name: "registry with scheme", service: "migrator", env: "staging", registry: "https://ghcr.io/x", wantErr: "must not have a scheme"},
		{name: "username without password", service: "migrator", env: "staging", registry: "ghcr.io/x", username: "bot", wantErr: "--username and --password together"},
		{name: "password without username", service: "migrator", env: "staging", registry: "ghcr.io/x", password: true, wantErr: "--username and --password together"},
		{name: "unknown service", service: "nope", env: "staging", registry: "ghcr.io/x", wantErr: "services/nope/Dockerfile does not exist"},
		{name: "bad service name", service: "No", env: "staging", registry: "ghcr.io/x", wantErr: `service name "No"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := fakeengine.Start(t, answer("exists", pathIs("services/nope/Dockerfile"), false, nil))
			var password *dagger.Secret
			if tt.password {
				password = dag.SetSecret("registry-password", fakePassword)
			}
			_, err := newFakeCi().Push(context.Background(), tt.service, tt.env, tt.registry, tt.username, password, "abcdef0", "")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, policy.ErrInvalid) {
				t.Fatalf("Push() = %v, want ErrInvalid with %q", err, tt.wantErr)
			}
			if len(e.Leaves("publish")) != 0 {
				t.Fatalf("Push() published after bad input:\n%s", dump(e))
			}
		})
	}
}

func TestFakeEnginePushReportsRegistryFailure(t *testing.T) {
	e := fakeengine.Start(t)
	e.Handle(answer("publish", func(fakeengine.Chain) bool { return true }, nil, errors.New("unauthorized: authentication required")))
	_, err := newFakeCi().Push(context.Background(), "migrator", "staging", "ghcr.io/x", "", nil, "abcdef0", "")
	if err == nil || !strings.Contains(err.Error(), `pushing "ghcr.io/x/migrator:staging-abcdef0-migrator": unauthorized`) {
		t.Fatalf("Push() = %v, want the registry's refusal with the address", err)
	}
}

func TestFakeEnginePushRejectsUnpinnedAnswer(t *testing.T) {
	e := fakeengine.Start(t)
	e.Handle(answer("publish", func(fakeengine.Chain) bool { return true }, "ghcr.io/x/migrator:staging-abcdef0-migrator", nil))
	_, err := newFakeCi().Push(context.Background(), "migrator", "staging", "ghcr.io/x", "", nil, "abcdef0", "")
	if err == nil || !strings.Contains(err.Error(), "not pinned by a sha256 digest") {
		t.Fatalf("Push() = %v, want a refusal of an address without digest", err)
	}
}

func TestFakeEnginePushRefusesDirtyWorktree(t *testing.T) {
	e := fakeengine.Start(t, answer("isEmpty", func(fakeengine.Chain) bool { return true }, false, nil))
	_, err := newFakeCi().Push(context.Background(), "migrator", "staging", "ghcr.io/x", "", nil, "", "")
	if !errors.Is(err, policy.ErrInvalid) || !strings.Contains(err.Error(), "uncommitted changes") {
		t.Fatalf("Push() = %v, want a refusal of the dirty worktree", err)
	}
	q := onlyLeaf(t, e, "isEmpty")
	if got := names(q.Chain); strings.Join(got, ".") != "loadGitRepositoryFromID.uncommitted.isEmpty" {
		t.Errorf("worktree query = %s", q.Chain)
	}
	if len(e.Leaves("publish")) != 0 {
		t.Fatalf("Push() published a dirty worktree:\n%s", dump(e))
	}
}

package main

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"dagger/ci/internal/fakeengine"
	"dagger/ci/internal/policy"
)

func TestFakeEngineBuild(t *testing.T) {
	e := fakeengine.Start(t)
	ctx := context.Background()

	ctr, err := newFakeCi().Build(ctx, "scheduler-worker", "", "")
	if err != nil {
		t.Fatalf("Build() = %v", err)
	}
	if _, err := ctr.Sync(ctx); err != nil {
		t.Fatalf("Sync() = %v", err)
	}

	exists := onlyLeaf(t, e, "exists")
	if got := exists.Chain.Leaf().Arg("path"); got != "services/scheduler-worker/Dockerfile" {
		t.Errorf("exists(path) = %q, want services/scheduler-worker/Dockerfile", got)
	}
	commit := onlyLeaf(t, e, "commit")
	if got, want := names(commit.Chain), []string{"loadGitRepositoryFromID", "head", "commit"}; !slices.Equal(got, want) {
		t.Errorf("commit query = %v, want %v", got, want)
	}

	sync := onlyLeaf(t, e, "sync").Chain
	if got := names(sync[:3]); !slices.Equal(got, []string{"loadDirectoryFromID", "directory", "dockerBuild"}) {
		t.Fatalf("build chain starts %v, want loadDirectoryFromID.directory.dockerBuild; chain %s", got, sync)
	}
	if got := sync[0].Arg("id"); got != "source-id" {
		t.Errorf("built source = %q, want the constructor's source", got)
	}
	if got := sync[1].Arg("path"); got != "services/scheduler-worker" {
		t.Errorf("build context = %q, want services/scheduler-worker", got)
	}
	build := sync[2]
	if got := build.Arg("dockerfile"); got != "Dockerfile" {
		t.Errorf("dockerfile = %q, want Dockerfile", got)
	}
	args := map[string]string{}
	for _, a := range build.Args["buildArgs"].([]any) {
		m := a.(map[string]any)
		args[m["name"].(string)] = m["value"].(string)
	}
	wantArgs := map[string]string{"GIT_SHA": fakeengine.DefaultCommit, "BUILD_TS": policy.DefaultBuildTS}
	if len(args) != len(wantArgs) || args["GIT_SHA"] != wantArgs["GIT_SHA"] || args["BUILD_TS"] != wantArgs["BUILD_TS"] {
		t.Errorf("build args = %v, want %v", args, wantArgs)
	}
	labels := map[string]string{}
	for _, f := range sync.All("withLabel") {
		labels[f.Arg("name")] = f.Arg("value")
	}
	for _, l := range policy.Labels("scheduler-worker", fakeengine.DefaultCommit, policy.DefaultBuildTS) {
		if labels[l.Name] != l.Value {
			t.Errorf("label %s = %q, want %q", l.Name, labels[l.Name], l.Value)
		}
	}
}

func TestFakeEngineBuildInputs(t *testing.T) {
	tests := []struct {
		name, gitSha, buildTs string
		wantSHA, wantTS       string
		wantErr               string
	}{
		{name: "given commit and time", gitSha: "abcdef0123456789", buildTs: "2026-11-27T08:00:00Z", wantSHA: "abcdef0123456789", wantTS: "2026-11-27T08:00:00Z"},
		{name: "bad commit", gitSha: "not-a-sha", wantErr: `commit "not-a-sha"`},
		{name: "bad time", gitSha: "abcdef0", buildTs: "yesterday", wantErr: `build timestamp "yesterday"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := fakeengine.Start(t)
			ctx := context.Background()
			ctr, err := newFakeCi().Build(ctx, "migrator", tt.gitSha, tt.buildTs)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, policy.ErrInvalid) {
					t.Fatalf("Build() = %v, want ErrInvalid with %q", err, tt.wantErr)
				}
				if len(e.Leaves("exists")) != 0 {
					t.Fatalf("Build() queried the engine after bad input:\n%s", dump(e))
				}
				return
			}
			if err != nil {
				t.Fatalf("Build() = %v", err)
			}
			if _, err := ctr.Sync(ctx); err != nil {
				t.Fatalf("Sync() = %v", err)
			}
			if len(e.Leaves("commit")) != 0 {
				t.Errorf("Build() read HEAD although --git-sha was given")
			}
			build := onlyLeaf(t, e, "sync").Chain.All("dockerBuild")[0]
			got := build.String()
			for _, want := range []string{`"name":"GIT_SHA","value":"` + tt.wantSHA + `"`, `"name":"BUILD_TS","value":"` + tt.wantTS + `"`} {
				if !strings.Contains(got, want) {
					t.Errorf("dockerBuild = %s, want %s", got, want)
				}
			}
		})
	}
}

func TestFakeEngineBuildUnknownService(t *testing.T) {
	tests := []struct {
		name, service, wantErr string
	}{
		{name: "no such folder", service: "nope", wantErr: "services/nope/Dockerfile does not exist"},
		{name: "path traversal", service: "../modules", wantErr: `service name "../modules"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := fakeengine.Start(t, answer("exists", pathIs("services/nope/Dockerfile"), false, nil))
			_, err := newFakeCi().Build(context.Background(), tt.service, "abcdef0", "")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, policy.ErrInvalid) {
				t.Fatalf("Build(%q) = %v, want ErrInvalid with %q", tt.service, err, tt.wantErr)
			}
			if qs := e.Leaves("sync"); len(qs) != 0 {
				t.Fatalf("Build(%q) evaluated a pipeline:\n%s", tt.service, dump(e))
			}
		})
	}
}

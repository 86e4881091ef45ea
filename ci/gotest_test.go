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

// assertGoContainer checks the Go container every Test and Lint runs in.
func assertGoContainer(t *testing.T, e *fakeengine.Engine, c fakeengine.Chain, service string) {
	t.Helper()
	if got := names(c[:2]); !slices.Equal(got, []string{"container", "from"}) || c[1].Arg("address") != goImage {
		t.Errorf("chain starts %s, want container.from(%s)", c[:2], goImage)
	}
	caches := map[string]string{}
	for _, f := range c.All("withMountedCache") {
		vol := resolve(t, e, f, "cache")
		if vol.Leaf().Name != "cacheVolume" {
			t.Errorf("%s mounts %s, want a cache volume", f.Arg("path"), vol)
		}
		caches[f.Arg("path")] = vol.Leaf().Arg("key")
	}
	want := map[string]string{"/go/pkg/mod": "ferry-ci-go-mod", "/root/.cache/go-build": "ferry-ci-go-build"}
	if len(caches) != len(want) || caches["/go/pkg/mod"] != want["/go/pkg/mod"] || caches["/root/.cache/go-build"] != want["/root/.cache/go-build"] {
		t.Errorf("cache volumes = %v, want %v", caches, want)
	}
	env := map[string]string{}
	for _, f := range c.All("withEnvVariable") {
		env[f.Arg("name")] = f.Arg("value")
	}
	if env["GOWORK"] != "off" || env["GOTOOLCHAIN"] != "local" {
		t.Errorf("env = %v, want GOWORK=off and GOTOOLCHAIN=local", env)
	}
	dirs := c.All("withDirectory")
	if len(dirs) != 1 || dirs[0].Arg("path") != "/src" {
		t.Fatalf("withDirectory = %v, want one at /src", dirs)
	}
	src := resolve(t, e, dirs[0], "source")
	if src.String() != `loadDirectoryFromID(id:"source-id").directory(path:"services/`+service+`")` {
		t.Errorf("/src = %s, want the service's folder of the source", src)
	}
	if w := c.All("withWorkdir"); len(w) != 1 || w[0].Arg("path") != "/src" {
		t.Errorf("workdir = %v, want /src", w)
	}
}

func execs(c fakeengine.Chain) [][]string {
	var out [][]string
	for _, f := range c.All("withExec") {
		out = append(out, strs(f.Args["args"]))
	}
	return out
}

func TestFakeEngineTest(t *testing.T) {
	e := fakeengine.Start(t)
	e.Handle(answer("stdout", func(fakeengine.Chain) bool { return true }, "ok  \tscheduler\t0.1s\n", nil))
	out, err := newFakeCi().Test(context.Background(), "migrator")
	if err != nil {
		t.Fatalf("Test() = %v", err)
	}
	if out != "ok  \tscheduler\t0.1s\n" {
		t.Errorf("Test() = %q, want go test's output", out)
	}
	if got := onlyLeaf(t, e, "exists").Chain.Leaf().Arg("path"); got != "services/migrator/go.mod" {
		t.Errorf("exists(path) = %q", got)
	}
	c := onlyLeaf(t, e, "stdout").Chain
	assertGoContainer(t, e, c, "migrator")
	if got := execs(c); len(got) != 1 || !slices.Equal(got[0], []string{"go", "test", "./..."}) {
		t.Errorf("execs = %q, want go test ./...", got)
	}
}

func TestFakeEngineTestFailure(t *testing.T) {
	e := fakeengine.Start(t)
	e.Handle(answer("stdout", func(fakeengine.Chain) bool { return true }, nil,
		fakeengine.ExecError([]string{"go", "test", "./..."}, 1, "--- FAIL: TestX", "")))
	_, err := newFakeCi().Test(context.Background(), "migrator")
	var exec *dagger.ExecError
	if !errors.As(err, &exec) {
		t.Fatalf("Test() = %v, want an exec error", err)
	}
	if exec.ExitCode != 1 || exec.Stdout != "--- FAIL: TestX" || !strings.HasPrefix(err.Error(), `testing "migrator": `) {
		t.Errorf("Test() = %v (exit %d, stdout %q)", err, exec.ExitCode, exec.Stdout)
	}
}

func TestFakeEngineTestUnknownService(t *testing.T) {
	e := fakeengine.Start(t, answer("exists", pathIs("services/nope/go.mod"), false, nil))
	_, err := newFakeCi().Test(context.Background(), "nope")
	if !errors.Is(err, policy.ErrInvalid) || !strings.Contains(err.Error(), "services/nope/go.mod does not exist") {
		t.Fatalf("Test() = %v", err)
	}
	if len(e.Leaves("stdout")) != 0 {
		t.Fatalf("Test() ran after an unknown service:\n%s", dump(e))
	}
}

func TestFakeEngineLint(t *testing.T) {
	e := fakeengine.Start(t)
	if _, err := newFakeCi().Lint(context.Background(), "scheduler-worker"); err != nil {
		t.Fatalf("Lint() = %v", err)
	}
	c := onlyLeaf(t, e, "stdout").Chain
	assertGoContainer(t, e, c, "scheduler-worker")
	got := execs(c)
	if len(got) != 2 || !slices.Equal(got[0], []string{"go", "vet", "./..."}) || !strings.Contains(strings.Join(got[1], " "), "gofmt -l .") {
		t.Errorf("execs = %q, want go vet ./... then gofmt -l", got)
	}
}

func TestFakeEngineCheck(t *testing.T) {
	e := fakeengine.Start(t,
		answer("entries", pathIs("services"), []string{"migrator/", "scheduler-worker/", "web/", "README.md"}, nil),
		answer("exists", pathIs("services/web/go.mod"), false, nil),
	)
	if err := newFakeCi().Check(context.Background()); err != nil {
		t.Fatalf("Check() = %v", err)
	}
	ran := map[string][]string{}
	for _, q := range e.Leaves("stdout") {
		for _, svc := range []string{"migrator", "scheduler-worker", "web"} {
			if underService(e, svc)(q.Chain) {
				ran[svc] = append(ran[svc], execs(q.Chain)[0][1])
			}
		}
	}
	for _, r := range ran {
		slices.Sort(r)
	}
	want := map[string][]string{"migrator": {"test", "vet"}, "scheduler-worker": {"test", "vet"}}
	if len(ran) != len(want) || !slices.Equal(ran["migrator"], want["migrator"]) || !slices.Equal(ran["scheduler-worker"], want["scheduler-worker"]) {
		t.Errorf("Check() ran %v, want %v (web has no go.mod, README.md is no service)", ran, want)
	}
}

func TestFakeEngineCheckReportsEveryFailure(t *testing.T) {
	e := fakeengine.Start(t, answer("entries", pathIs("services"), []string{"migrator/", "scheduler-worker/"}, nil))
	e.Handle(answer("stdout", underService(e, "migrator"), nil, fakeengine.ExecError([]string{"go"}, 1, "", "")))
	err := newFakeCi().Check(context.Background())
	if err == nil {
		t.Fatal("Check() = nil, want the failures of migrator")
	}
	for _, want := range []string{`linting "migrator"`, `testing "migrator"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Check() = %v, want %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "scheduler-worker") {
		t.Errorf("Check() = %v, want scheduler-worker to pass", err)
	}
	if n := len(e.Leaves("stdout")); n != 5 {
		t.Errorf("Check() ran %d pipelines, want 5 (lint and test of both, the repository's check)", n)
	}
}

func TestFakeEngineCheckRunsTheRepositoryCheck(t *testing.T) {
	e := fakeengine.Start(t, answer("entries", pathIs("services"), []string{"migrator/"}, nil))
	e.Handle(stdoutOf(nil, fakeengine.ExecError([]string{"go"}, 1, "", "deployments/overlays/staging: images: unknown service"), "check"))
	err := newFakeCi().Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "checking the repository: running ci check") {
		t.Fatalf("Check() = %v, want the repository check's failure", err)
	}
	var repo []fakeengine.Query
	for _, q := range e.Leaves("stdout") {
		if slices.Contains(lastExec(q.Chain), "./cmd/ci") {
			repo = append(repo, q)
		}
	}
	if len(repo) != 1 {
		t.Fatalf("got %d native runner checks, want 1:\n%s", len(repo), dump(e))
	}
	assertNativeRunner(t, e, repo[0].Chain, `loadDirectoryFromID(id:"source-id")`, false)
	if got, want := lastExec(repo[0].Chain), runnerArgs("check"); !slices.Equal(got, want) {
		t.Errorf("exec = %q, want %q", got, want)
	}
}

func TestFakeEngineCheckWithoutServices(t *testing.T) {
	fakeengine.Start(t)
	err := newFakeCi().Check(context.Background())
	if !errors.Is(err, policy.ErrInvalid) || !strings.Contains(err.Error(), "no service with a go.mod") {
		t.Fatalf("Check() = %v", err)
	}
}

package pipeline

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ferry-ci/ferry/modules/contract"
)

// TestReleaseDirtyFake: a target with uncommitted inputs fails its plan
// step and runs nothing else, unless AllowDirty, which keeps only the
// content-addressed tag and stamps no commit.
func TestReleaseDirtyFake(t *testing.T) {
	dirtyTarget := func() []Target {
		return []Target{{Name: "svc", Fingerprint: "f00d", Commit: strings.Repeat("c", 40),
			Tags:  []string{"svc-f00d", "staging-ccccccc-svc"},
			Dirty: []string{"services/svc/a.go", "services/svc/b.go", "services/svc/c.go", "services/svc/d.go", "services/svc/e.go", "services/svc/new_test.go"}}}
	}
	for _, tc := range []struct {
		name       string
		allow      bool
		wantStates []string
		wantCalls  []string
		wantErr    string
	}{
		{
			name: "refused", wantStates: []string{"plan:failed"},
			wantErr: `plan of svc (terminal): releasing "svc": uncommitted changes in services/svc/a.go, services/svc/b.go, services/svc/c.go, services/svc/d.go, services/svc/e.go and 1 more; commit or stash them (git status), or pass --allow-dirty`,
		},
		{
			name: "allowed", allow: true, wantCalls: []string{"test", "build", "push", "sign", "verify", "promote"},
			wantStates: []string{"plan:succeeded", "test:succeeded", "build:succeeded", "push:succeeded", "sign:succeeded", "verify:succeeded", "promote:succeeded"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSteps()
			rep, err := Release(context.Background(), Config{Steps: f.steps(), Env: "staging", AllowDirty: tc.allow}, dirtyTarget())
			if err != nil {
				t.Fatal(err)
			}
			res := rep.Services[0]
			if got := stepStates(res.Steps); !reflect.DeepEqual(got, tc.wantStates) {
				t.Errorf("steps = %v, want %v", got, tc.wantStates)
			}
			if got := f.callsOf("svc"); !reflect.DeepEqual(got, tc.wantCalls) {
				t.Errorf("calls = %v, want %v", got, tc.wantCalls)
			}
			if tc.wantErr != "" {
				if err := rep.Err(); err == nil || !strings.Contains(err.Error(), tc.wantErr) || Classify(err) != Terminal {
					t.Fatalf("err = %v, want terminal %q", err, tc.wantErr)
				}
				if res.Image != "" || res.Promotion != nil {
					t.Errorf("a refused release published: %+v", res)
				}
				return
			}
			if rep.Err() != nil {
				t.Fatal(rep.Err())
			}
			if !reflect.DeepEqual(res.Target.Tags, []string{"svc-f00d"}) || res.Target.Commit != "" {
				t.Errorf("dirty target released with tags %v and commit %q; want the fingerprint tag only and no commit", res.Target.Tags, res.Target.Commit)
			}
		})
	}
}

// TestDirtyInputs: git's view of a service's inputs, in a real repository.
func TestDirtyInputs(t *testing.T) {
	root := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		p = filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", root}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@localhost", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@localhost")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	write("services/a/main.go", "package main\n")
	write("services/a/Dockerfile", "FROM scratch\n")
	write("services/b/main.go", "package main\n")
	write(".gitignore", "*.log\n")
	git("init", "-q", "-b", "main")
	git("add", "-A")
	git("commit", "-q", "-m", "fixture")
	svc := contract.Service{Name: "a", Dir: "services/a", Build: contract.Build{Context: "services/a", Dockerfile: "services/a/Dockerfile"}}

	check := func(want []string) {
		t.Helper()
		got, err := dirtyInputs(context.Background(), root, svc)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("dirtyInputs = %v, %v; want %v", got, err, want)
		}
	}
	check(nil)
	write("services/b/main.go", "package main // another service\n")
	write("services/a/debug.log", "ignored\n")
	check(nil)
	write("services/a/main.go", "package main // changed\n")
	write("services/a/new/extra_test.go", "package main\n")
	check([]string{"services/a/main.go", "services/a/new/extra_test.go"})
	if err := os.Remove(filepath.Join(root, "services", "a", "Dockerfile")); err != nil {
		t.Fatal(err)
	}
	check([]string{"services/a/Dockerfile", "services/a/main.go", "services/a/new/extra_test.go"})

	// Outside a git work tree nothing is known to be dirty.
	if got, err := dirtyInputs(context.Background(), t.TempDir(), svc); err != nil || got != nil {
		t.Fatalf("outside git: %v, %v", got, err)
	}
}

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

	"github.com/ferry-ci/ferry/modules/gitops/forge/local"
	"github.com/ferry-ci/ferry/modules/pipeline"
)

// TestReleaseRefusedEndToEnd runs the release command on copies of the
// repository with bad input: each is refused with an error naming the
// service, the step and what to do, and nothing is published (no image in
// the registry, no branch or commit in the deployments repository, no pull
// request record).
func TestReleaseRefusedEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the release command on a copy of the repository")
	}
	for _, tc := range []struct {
		name    string
		service string
		edit    func(t *testing.T, root string)
		// wantStep is the step that failed ("" when the command fails
		// before any step: a bad selection).
		wantStep string
		wantErr  []string
	}{
		{
			name: "unknown service", service: "nope",
			wantErr: []string{`unknown service "nope" (known: `, "migrator", "scheduler-worker"},
		},
		{
			name: "dirty worktree", service: "migrator",
			edit: func(t *testing.T, root string) {
				f := filepath.Join(root, "services", "migrator", "cmd", "migrator", "main.go")
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(f, append(b, "\n// An uncommitted change.\n"...), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(root, "services", "migrator", "notes.txt"), []byte("untracked\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			wantStep: "plan",
			wantErr: []string{`plan of migrator (terminal): releasing "migrator": uncommitted changes in services/migrator/cmd/migrator/main.go, services/migrator/notes.txt`,
				"commit or stash them", "--allow-dirty"},
		},
		{
			name: "failing tests", service: "scheduler-worker",
			edit: func(t *testing.T, root string) {
				dir := filepath.Join(root, "services", "scheduler-worker", "internal", "health")
				test := "package health\n\nimport \"testing\"\n\nfunc TestBrokenOnPurpose(t *testing.T) { t.Error(\"broken on purpose\") }\n"
				if err := os.WriteFile(filepath.Join(dir, "broken_test.go"), []byte(test), 0o644); err != nil {
					t.Fatal(err)
				}
				gitOut(t, root, "add", "-A")
				gitOut(t, root, "commit", "-q", "-m", "a failing test")
			},
			wantStep: "test",
			wantErr:  []string{`test of scheduler-worker (terminal): testing "scheduler-worker" in services/scheduler-worker`, "TestBrokenOnPurpose", "broken on purpose"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := archiveRepo(t, "services", "deployments")
			if tc.edit != nil {
				tc.edit(t, root)
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"release", "--service", tc.service, "--root", root, "--output", "json"}, &stdout, &stderr)
			t.Logf("exit %d\nstderr:\n%s", code, stderr.String())
			if code != 1 {
				t.Fatalf("exit %d, want 1", code)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q", want)
				}
			}
			state := filepath.Join(root, ".ci", "state")
			if tc.wantStep != "" {
				var rep pipeline.Report
				if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
					t.Fatalf("decoding the report: %v\n%s", err, stdout.String())
				}
				if len(rep.Services) != 1 || rep.Services[0].Image != "" || rep.Services[0].Promotion != nil {
					t.Fatalf("report = %+v, want one service, nothing pushed or promoted", rep)
				}
				steps := rep.Services[0].Steps
				if last := steps[len(steps)-1]; string(last.Step) != tc.wantStep || last.State != pipeline.StateFailed || last.Class != "terminal" {
					t.Errorf("last step = %+v, want %s failed (terminal)", last, tc.wantStep)
				}
				assertNothingPublished(t, state)
			} else if _, err := os.Stat(state); err == nil {
				t.Errorf("a bad selection created %s", state)
			}
		})
	}
}

// assertNothingPublished: the embedded registry stores no repository, and
// the deployments repository holds its seed commit on main and nothing
// else, with no pull request record.
func assertNothingPublished(t *testing.T, state string) {
	t.Helper()
	repos := filepath.Join(state, "registry", "data", "docker", "registry", "v2", "repositories")
	if entries, err := os.ReadDir(repos); err == nil && len(entries) > 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("the registry holds repositories %v, want none", names)
	}
	bare := filepath.Join(state, "deployments.git")
	if refs := gitOut(t, bare, "for-each-ref", "--format=%(refname)"); refs != "refs/heads/main" {
		t.Errorf("deployments refs = %q, want refs/heads/main alone", refs)
	}
	if n := gitOut(t, bare, "rev-list", "--count", "main"); n != "1" {
		t.Errorf("deployments main has %s commits, want the seed only", n)
	}
	forge, err := local.New(bare)
	if err != nil {
		t.Fatal(err)
	}
	if prs, err := forge.List(context.Background(), ""); err != nil || len(prs) != 0 {
		t.Errorf("pull requests = %+v, %v; want none", prs, err)
	}
}

// archiveRepo writes the committed content of the repository's dirs into
// a new git repository with one commit: work in progress in the shared
// tree stays out.
func archiveRepo(t *testing.T, dirs ...string) string {
	t.Helper()
	root := t.TempDir()
	script := `set -e; git -C "$1" archive HEAD -- "${@:3}" | tar -x -C "$2"`
	cmd := exec.Command("bash", append([]string{"-o", "pipefail", "-c", script, "archive", repoRoot, root}, dirs...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("copying %v: %v\n%s", dirs, err, out)
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-q", "-m", "fixture"}} {
		gitOut(t, root, args...)
	}
	return root
}

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

	"github.com/ferry-ci/ferry/modules/pipeline/native"
)

// TestCheck runs `ci check` on the repository itself: it passes, and its
// JSON names the services and the rendered folders.
func TestCheck(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"check", "--root", "../..", "--output", "json"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	var rep struct {
		Services []string       `json:"services"`
		Rendered map[string]int `json:"rendered"`
		Findings []struct {
			Check, File, Message, Fix string
		} `json:"findings"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("decoding %s: %v", stdout.String(), err)
	}
	if len(rep.Services) < 2 || rep.Rendered["overlays/staging"] == 0 || len(rep.Findings) != 0 {
		t.Fatalf("report = %+v", rep)
	}
}

// TestCheckSince: the command the pre-push hook runs is accepted and
// reaches the checks of what changed (nothing since HEAD in a clean clone).
func TestCheckSince(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"check", "--since", "HEAD", "--root", "../..", "--output", "json"}, &stdout, &stderr)
	if code == 2 {
		t.Fatalf("check --since refused as a usage error:\n%s", stderr.String())
	}
	var rep struct {
		Since string `json:"since"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil || rep.Since != "HEAD" {
		t.Fatalf("report since = %q (%v), want HEAD; exit %d\n%s%s", rep.Since, err, code, stdout.String(), stderr.String())
	}
}

// TestCheckRefusesAService: check covers the whole repository.
func TestCheckRefusesAService(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"check", "--service", "x"}, &stdout, &stderr); code != 2 ||
		!strings.Contains(stderr.String(), "check takes no --service") {
		t.Fatalf("exit %d, stderr %s", code, stderr.String())
	}
}

// TestInstallHooks writes a pre-push hook into a real repository, rewrites
// its own hook, and never replaces a hook of the user's.
func TestInstallHooks(t *testing.T) {
	root := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", root).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	hook := filepath.Join(root, ".git", "hooks", "pre-push")
	for range 2 {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), []string{"install-hooks", "--root", root}, &stdout, &stderr); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	}
	b, err := os.ReadFile(hook)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(hook)
	if !strings.Contains(string(b), "go run ./cmd/ci") || fi.Mode()&0o111 == 0 {
		t.Fatalf("hook (mode %v):\n%s", fi.Mode(), b)
	}
	mine := "#!/bin/sh\nmake lint\n"
	if err := os.WriteFile(hook, []byte(mine), 0o755); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"install-hooks", "--root", root}, &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "was not written by install-hooks") {
		t.Fatalf("exit %d, stderr %s; want a refusal", code, stderr.String())
	}
	if b, _ := os.ReadFile(hook); string(b) != mine {
		t.Fatalf("the user's hook was changed:\n%s", b)
	}
}

// TestPrePushHookRange pushes to a real remote through the installed hook,
// with FERRY_CI standing in for the ci command: the hook checks each
// pushed branch since what the remote has (the parent of the first new
// commit for a new branch), and a failing check stops the push.
func TestPrePushHookRange(t *testing.T) {
	root, remote := t.TempDir(), t.TempDir()
	gitOut(t, remote, "init", "-q", "--bare", "-b", "main")
	gitOut(t, root, "init", "-q", "-b", "main")
	gitOut(t, root, "remote", "add", "origin", remote)
	commit := func(msg string) string {
		gitOut(t, root, "commit", "-q", "--allow-empty", "-m", msg)
		return gitOut(t, root, "rev-parse", "HEAD")
	}
	first := commit("first")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"install-hooks", "--root", root}, &stdout, &stderr); code != 0 {
		t.Fatalf("install-hooks: exit %d: %s", code, stderr.String())
	}
	// The stand-in records its arguments and fails when FAIL_CHECK is set.
	calls := filepath.Join(t.TempDir(), "calls")
	stub := filepath.Join(t.TempDir(), "ci")
	script := "#!/bin/sh\necho \"$*\" >> " + calls + "\n[ -z \"$FAIL_CHECK\" ]\n"
	if err := os.WriteFile(stub, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	push := func(fail bool, args ...string) error {
		cmd := exec.Command("git", append([]string{"-C", root, "push", "-q"}, args...)...)
		cmd.Env = append(os.Environ(), "FERRY_CI="+stub, "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		if fail {
			cmd.Env = append(cmd.Env, "FAIL_CHECK=1")
		}
		out, err := cmd.CombinedOutput()
		t.Logf("git push %v: %v\n%s", args, err, out)
		return err
	}
	lastCall := func() string {
		b, err := os.ReadFile(calls)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		return lines[len(lines)-1]
	}

	// A new root: nothing to compare with, the repository-wide check.
	if err := push(false, "origin", "main"); err != nil {
		t.Fatal(err)
	}
	if got := lastCall(); got != "check" {
		t.Errorf("first push ran %q, want the repository-wide check", got)
	}
	// More commits on main: since what the remote has.
	commit("second")
	commit("third")
	if err := push(false, "origin", "main"); err != nil {
		t.Fatal(err)
	}
	if got := lastCall(); got != "check --since "+first {
		t.Errorf("push of main ran %q, want check --since %s", got, first)
	}
	mainHead := gitOut(t, root, "rev-parse", "HEAD")
	// A new branch: since the parent of its first commit origin lacks.
	gitOut(t, root, "checkout", "-q", "-b", "topic")
	commit("topic 1")
	commit("topic 2")
	if err := push(true, "origin", "topic"); err == nil {
		t.Fatal("the push went through although the check failed")
	}
	if got := lastCall(); got != "check --since "+mainHead {
		t.Errorf("push of a new branch ran %q, want check --since %s", got, mainHead)
	}
	if out := gitOut(t, remote, "branch", "--list", "topic"); out != "" {
		t.Errorf("the refused push reached the remote: %q", out)
	}
}

// TestCheckOptionsSince: --since turns on the checks of what changed.
func TestCheckOptionsSince(t *testing.T) {
	if got := checkOptions(options{}); got != nil {
		t.Errorf("without --since: %d options, want none", len(got))
	}
	if got := checkOptions(options{since: "origin/main"}); len(got) != 1 {
		t.Errorf("with --since: %d options, want one", len(got))
	}
}

// TestWriteCheck: the human report names each finding's file, line and
// check, with what to do under it.
func TestWriteCheck(t *testing.T) {
	rep := &native.CheckReport{
		Since: "abc123", Services: []string{"migrator"}, Rendered: map[string]int{"overlays/staging": 3},
		Linted: []string{"services/migrator"}, Tested: []string{"migrator"},
		Skipped: []string{"workflows: actionlint is not installed (run .ci/tools.sh actionlint)"},
		Findings: []native.Finding{{Check: native.CheckVet, File: "services/migrator/x.go", Line: 6, Message: "bad format",
			Fix: "correct the code"}},
	}
	var b bytes.Buffer
	if err := writeCheck(&b, "human", rep); err != nil {
		t.Fatal(err)
	}
	want := `services   migrator
rendered   overlays/staging (3 objects)
since      abc123
linted     services/migrator
tested     migrator
skipped    workflows: actionlint is not installed (run .ci/tools.sh actionlint)
findings   1
  services/migrator/x.go:6: bad format (vet)
      fix: correct the code
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

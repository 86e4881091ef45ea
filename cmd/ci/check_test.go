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
		Findings []string       `json:"findings"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("decoding %s: %v", stdout.String(), err)
	}
	if len(rep.Services) < 2 || rep.Rendered["overlays/staging"] == 0 || len(rep.Findings) != 0 {
		t.Fatalf("report = %+v", rep)
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
	if !strings.Contains(string(b), "go run ./cmd/ci check") || fi.Mode()&0o111 == 0 {
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

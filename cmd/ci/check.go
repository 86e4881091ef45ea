package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ferry-ci/ferry/modules/pipeline/native"
)

func writeCheck(w io.Writer, format string, rep *native.CheckReport) error {
	if format == "json" {
		return writeJSON(w, rep)
	}
	dirs := make([]string, 0, len(rep.Rendered))
	for d, n := range rep.Rendered {
		dirs = append(dirs, fmt.Sprintf("%s (%d objects)", d, n))
	}
	slices.Sort(dirs)
	fmt.Fprintf(w, "services   %s\n", strings.Join(rep.Services, ", "))
	fmt.Fprintf(w, "rendered   %s\n", strings.Join(dirs, ", "))
	if len(rep.Findings) == 0 {
		_, err := fmt.Fprintln(w, "findings   none")
		return err
	}
	fmt.Fprintf(w, "findings   %d\n", len(rep.Findings))
	for _, f := range rep.Findings {
		fmt.Fprintf(w, "  %s\n", strings.ReplaceAll(f, "\n", "\n  "))
	}
	return nil
}

// hookMarker identifies a pre-push hook this command wrote, so that it can
// be rewritten but a hook of the user's is never replaced.
const hookMarker = "# installed by: go run ./cmd/ci install-hooks"

const hookScript = `#!/bin/sh
` + hookMarker + `
# Runs the pre-push validation on the work tree being pushed; skip it once
# with git push --no-verify.
cd "$(git rev-parse --show-toplevel)" || exit 1
exec go run ./cmd/ci check
`

// installHook writes the pre-push hook of the repository at root.
func installHook(root string, stdout io.Writer) error {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--git-path", "hooks/pre-push").Output()
	if err != nil {
		return fmt.Errorf("finding the hooks folder of %s: not a git repository?", root)
	}
	path := strings.TrimSpace(string(out))
	if !filepath.IsAbs(path) {
		path = filepath.Join(root, path)
	}
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("reading %s: %w", path, err)
	case !strings.Contains(string(old), hookMarker):
		return fmt.Errorf("%s exists and was not written by install-hooks: add `go run ./cmd/ci check` to it by hand", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	if err := os.WriteFile(path, []byte(hookScript), 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	_, err = fmt.Fprintf(stdout, "installed %s: git push now runs `go run ./cmd/ci check` first\n", path)
	return err
}

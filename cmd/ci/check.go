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

// checkOptions are the native.Check options of a check command: with
// --since, the Go modules and services changed since that revision are
// linted and tested too.
func checkOptions(o options) []native.CheckOption {
	if o.since == "" {
		return nil
	}
	return []native.CheckOption{native.WithSince(o.since)}
}

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
	if rep.Since != "" {
		fmt.Fprintf(w, "since      %s\n", rep.Since)
		fmt.Fprintf(w, "linted     %s\n", orNone(rep.Linted))
		fmt.Fprintf(w, "tested     %s\n", orNone(rep.Tested))
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "skipped    %s\n", s)
	}
	if len(rep.Findings) == 0 {
		_, err := fmt.Fprintln(w, "findings   none")
		return err
	}
	fmt.Fprintf(w, "findings   %d\n", len(rep.Findings))
	for _, f := range rep.Findings {
		fmt.Fprintf(w, "  %s\n", strings.ReplaceAll(f.String(), "\n", "\n    "))
		if f.Fix != "" {
			fmt.Fprintf(w, "      fix: %s\n", f.Fix)
		}
	}
	return nil
}

func orNone(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ", ")
}

// hookMarker identifies a pre-push hook this command wrote, so that it can
// be rewritten but a hook of the user's is never replaced.
const hookMarker = "# installed by: go run ./cmd/ci install-hooks"

// hookScript checks what a push sends: git gives the hook one line per
// pushed ref, "<local ref> <local sha> <remote ref> <remote sha>". The base
// of a branch the remote has is the remote's commit; of a new branch, the
// parent of its first commit no remote-tracking branch of that remote
// has; with no base (a new root), check runs the repository-wide checks.
const hookScript = `#!/bin/sh
` + hookMarker + `
# Runs the pre-push validation on what is pushed: ci check --since <base>
# per pushed branch. Skip it once with git push --no-verify. FERRY_CI
# overrides the command (default: go run ./cmd/ci).
cd "$(git rev-parse --show-toplevel)" || exit 1
ci=${FERRY_CI:-go run ./cmd/ci}
remote=$1
status=0
while read -r lref lsha rref rsha; do
	case $lsha in *[!0]*) ;; *) continue ;; esac
	base=
	case $rsha in *[!0]*) git cat-file -e "$rsha^{commit}" 2>/dev/null && base=$rsha ;; esac
	if [ -z "$base" ]; then
		first=$(git rev-list --reverse "$lsha" --not --remotes="$remote" | head -n 1)
		[ -n "$first" ] && base=$(git rev-parse -q --verify "$first^" 2>/dev/null)
	fi
	echo "ci check: $lref${base:+ since $base}" >&2
	if [ -n "$base" ]; then
		$ci check --since "$base" || status=1
	else
		$ci check || status=1
	fi
done
exit $status
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
		return fmt.Errorf("%s exists and was not written by install-hooks: add `go run ./cmd/ci check --since <base>` to it by hand", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	if err := os.WriteFile(path, []byte(hookScript), 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	_, err = fmt.Fprintf(stdout, "installed %s: git push now runs `go run ./cmd/ci check --since <base>` on what it pushes\n", path)
	return err
}

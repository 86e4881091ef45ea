// Package tooltest finds the pinned peer tools tests drive (.ci/tools.sh
// builds them), failing in CI and skipping elsewhere when one is missing.
package tooltest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Find returns the path of tool from PATH or the tools cache
// ($FERRY_TOOLS_DIR/bin, default ~/.cache/ferry/tools/bin). When it is
// missing the test fails if CI is set and is skipped otherwise.
func Find(t testing.TB, tool string) string {
	t.Helper()
	if p, err := exec.LookPath(tool); err == nil {
		return p
	}
	dir := os.Getenv("FERRY_TOOLS_DIR")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "ferry", "tools")
	}
	p := filepath.Join(dir, "bin", tool)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found: run .ci/tools.sh %s", tool, tool)
	}
	t.Skipf("%s not found: run .ci/tools.sh %s", tool, tool)
	return ""
}

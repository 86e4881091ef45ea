package infra_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ci/ferry/modules/manifests/internal/tooltest"
)

const infraDir = "../../../deployments/infra"

func tofuBinary(t *testing.T) string { return tooltest.Find(t, "tofu") }

func tofu(t *testing.T, bin, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	// No user configuration, no network: the module is provider-free.
	cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+filepath.Join(t.TempDir(), "none.tfrc"), "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func TestTofuFmt(t *testing.T) {
	bin := tofuBinary(t)
	if out, err := tofu(t, bin, infraDir, "fmt", "-check", "-recursive", "-diff"); err != nil {
		t.Fatalf("tofu fmt -check: %v\n%s", err, out)
	}
}

// TestTofuTestK3sNode runs the provider-free module's own tofu tests in a
// copy of it (init writes .terraform/ beside the code).
func TestTofuTestK3sNode(t *testing.T) {
	bin := tofuBinary(t)
	dir := filepath.Join(t.TempDir(), "k3s-node")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(infraDir, "modules", "k3s-node"))); err != nil {
		t.Fatal(err)
	}
	if out, err := tofu(t, bin, dir, "init", "-backend=false", "-input=false"); err != nil {
		t.Fatalf("tofu init: %v\n%s", err, out)
	}
	if out, err := tofu(t, bin, dir, "validate"); err != nil {
		t.Fatalf("tofu validate: %v\n%s", err, out)
	}
	out, err := tofu(t, bin, dir, "test")
	if err != nil {
		t.Fatalf("tofu test: %v\n%s", err, out)
	}
	if !strings.Contains(out, "4 passed, 0 failed") {
		t.Fatalf("tofu test did not run the 4 cases:\n%s", out)
	}
}
